// An internal, never-sent note on an absl::Status saying which access
// decision refused a call: what kind of check ("object", "record", "field",
// "system", "login") and the rule (policy::Decision::rule). The request
// pipeline reads it for its log line and metrics; server/status_util.h
// never sends it (only google.rpc payloads go on the wire), so a hidden
// record's NOT_FOUND stays byte-identical to a missing one's for the
// caller while the operator's log still says which rule hid it.
#ifndef CRM_BASE_DECISION_NOTE_H_
#define CRM_BASE_DECISION_NOTE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::base {

inline constexpr char kDecisionNoteUrl[] = "crm.internal/decision";

struct DecisionNote {
  std::string kind;
  std::string rule;
};

// `status` (not OK) with the note attached; OK stays OK.
absl::Status WithDecisionNote(absl::Status status, absl::string_view kind,
                              absl::string_view rule);
std::optional<DecisionNote> DecisionNoteOf(const absl::Status& status);

}  // namespace crm::base

#endif  // CRM_BASE_DECISION_NOTE_H_
