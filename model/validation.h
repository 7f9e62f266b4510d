// Input validation for writes, driven by the schema. Every failure is
// INVALID_ARGUMENT (base::BadRequestError) listing EVERY violation found,
// each naming the field and the rule, the first one first, with
// google.rpc.BadRequest holding them all and ErrorInfo INVALID_REQUEST, e.g.
//   "account.display_name: required"
//   "contact.account: 'leads/x' names collection 'leads'; expected accounts/{id}"
//   "account.description: 40000 bytes; the limit is 32768"
//   "account.display_name: required (and 1 more: account.website: 3000
//    bytes; the limit is 2048)"
#ifndef CRM_MODEL_VALIDATION_H_
#define CRM_MODEL_VALIDATION_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "model/object_schema.h"

namespace crm::model {

// Checks the writable fields at `field_indexes` (into schema.fields()) of
// `message`: lengths, references, enum values, finite numbers, timestamp
// range, and required fields (non-empty / non-default).
absl::Status ValidateFields(const ObjectSchema& schema,
                            const google::protobuf::Message& message,
                            const std::vector<int>& field_indexes);

// The writable fields of a Create: every field that is not output-only.
std::vector<int> CreatableFields(const ObjectSchema& schema);

// Resolves an Update's mask into field indexes. Refuses an empty mask, "*",
// unknown or nested paths, output-only and immutable fields, and duplicates;
// every refused path is one violation of field "update_mask".
absl::StatusOr<std::vector<int>> ResolveUpdateMask(
    const ObjectSchema& schema, const google::protobuf::FieldMask& mask);

}  // namespace crm::model

#endif  // CRM_MODEL_VALIDATION_H_
