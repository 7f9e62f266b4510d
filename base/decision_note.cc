#include "base/decision_note.h"

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "absl/strings/str_cat.h"

namespace crm::base {

absl::Status WithDecisionNote(absl::Status status, absl::string_view kind,
                              absl::string_view rule) {
  if (status.ok()) return status;
  status.SetPayload(kDecisionNoteUrl, absl::Cord(absl::StrCat(kind, "\n", rule)));
  return status;
}

std::optional<DecisionNote> DecisionNoteOf(const absl::Status& status) {
  absl::optional<absl::Cord> note = status.GetPayload(kDecisionNoteUrl);
  if (!note.has_value()) return std::nullopt;
  std::string text(*note);
  size_t newline = text.find('\n');
  if (newline == std::string::npos) return DecisionNote{text, ""};
  return DecisionNote{text.substr(0, newline), text.substr(newline + 1)};
}

}  // namespace crm::base
