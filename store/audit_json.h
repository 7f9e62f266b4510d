// The JSON text of an audit event's `changes` and `attributes` columns
// (store/audit_store.h: "proto3 JSON text of an AuditEvent holding only
// that field"), written and read without protobuf's JSON utility, which
// cost more than half of reading the chain back (VerifyAuditLog, export)
// and much of each append (bench/README.md, "Audit trail").
//
// AuditPartJson writes what protobuf's MessageToJsonString writes with
// preserve_proto_field_names (compact, fields in number order, defaults
// omitted; map entries in the map's order), e.g.
//   {"changes":[{"field":"industry","before":"\"Retail\"","values_recorded":true}]}
//   {"attributes":{"count":"50"}}
// and "" when the part is empty. Strings are escaped as JSON requires
// (", \ and control characters); other UTF-8 is written as is.
//
// MergeAuditPartJson reads such a text into `event`. The fast path reads
// exactly the shapes above (either spelling of values_recorded, any
// whitespace, the simple escapes) into the fields protobuf would set; any
// other text -- \u escapes, nulls, numbers, unknown or repeated keys,
// malformed input -- goes to protobuf's JsonStringToMessage, and a text
// that protobuf does not parse either leaves the event unchanged (its hash
// then fails to verify, which is what an edited row should do). Empty
// text: nothing.
//
// Thread-safety: pure functions.
#ifndef CRM_STORE_AUDIT_JSON_H_
#define CRM_STORE_AUDIT_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "crm/v1/audit_service.pb.h"

namespace crm::store {

// The JSON of `event`'s changes (changes = true) or attributes (false).
std::string AuditPartJson(const crm::v1::AuditEvent& event, bool changes);

void MergeAuditPartJson(absl::string_view json, crm::v1::AuditEvent* event);

}  // namespace crm::store

#endif  // CRM_STORE_AUDIT_JSON_H_
