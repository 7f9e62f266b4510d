// Field-level diffs of two protobuf messages for audit events
// (AuditFieldChange), by reflection, so every policy object kind is covered
// without a per-kind list.
//
// Paths: "display_name", "rule.criteria" (a set message field's field),
// "members" (a repeated field is compared as a whole: before and after are
// its elements as a JSON array). Values are rendered as proto3 JSON text
// (strings quoted). A field absent on one side has no before (or after).
#ifndef CRM_AUDIT_DIFF_H_
#define CRM_AUDIT_DIFF_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/audit_service.pb.h"
#include "google/protobuf/message.h"

namespace crm::audit {

// `text` as a JSON string literal (quotes, backslashes and control
// characters escaped): how a string value appears in AuditFieldChange.
std::string JsonString(absl::string_view text);

// The changes from `before` to `after` (same type; either may be null for a
// create or a delete: every set field then appears once). Fields named in
// `hidden` (top-level names, e.g. "password_hash") appear without values.
std::vector<crm::v1::AuditFieldChange> DiffMessages(
    const google::protobuf::Message* before,
    const google::protobuf::Message* after,
    const std::vector<std::string>& hidden = {});

}  // namespace crm::audit

#endif  // CRM_AUDIT_DIFF_H_
