// Sets message fields from command-line text ("field=value"), coerced by the
// field's type in the descriptor, and builds update masks from them.
//
// Accepted values by type:
//   string, bytes        the text as is
//   int32/int64/uint*    decimal integers in range
//   double, float        decimal numbers, finite
//   bool                 true/false, yes/no, 1/0 (any case)
//   enum                 a value name, any case ("qualified" = QUALIFIED)
//   google.protobuf.Timestamp  RFC 3339, e.g. 2024-05-01T09:30:00Z
//   google.protobuf.Duration   e.g. 90s, 1h30m
// An empty value clears the field. A repeated field is cleared by its first
// assignment, then each assignment appends one element.
#ifndef CRM_CLIENTS_FIELD_VALUES_H_
#define CRM_CLIENTS_FIELD_VALUES_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::client {

// Whether output-only fields (annotations.proto) may be named.
enum class FieldAccess { kWritable, kAny };

// Finds a field by its proto name or JSON name. INVALID_ARGUMENT names the
// settable fields if there is no such field, or if it is output-only and
// `access` is kWritable.
absl::StatusOr<const google::protobuf::FieldDescriptor*> FindSettableField(
    const google::protobuf::Descriptor* descriptor, absl::string_view name,
    FieldAccess access);

// The names of the fields that may be set ("display_name, industry, ...").
std::string SettableFieldNames(const google::protobuf::Descriptor* descriptor);

// Parses `text` as a value of `field` and sets it in `message` (appends if
// the field is repeated). An empty text clears the field. INVALID_ARGUMENT
// names the field, the expected type and, for enums, the valid names.
absl::Status SetFieldFromText(google::protobuf::Message* message,
                              const google::protobuf::FieldDescriptor* field,
                              absl::string_view text);

// Applies "field=value" assignments to `message` in order (output-only
// fields refused). Returns the assigned field names, without duplicates, in
// first-assignment order: the update_mask paths.
absl::StatusOr<std::vector<std::string>> ApplyAssignments(
    google::protobuf::Message* message,
    const std::vector<std::string>& assignments);

// The top-level field names present in a JSON object ('{"a": 1, "b": null}'
// gives a, b), mapped to proto field names of `descriptor`: the update_mask
// of an update given as JSON. Unknown keys are INVALID_ARGUMENT.
absl::StatusOr<std::vector<std::string>> JsonMaskPaths(
    const google::protobuf::Descriptor* descriptor, absl::string_view json);

}  // namespace crm::client

#endif  // CRM_CLIENTS_FIELD_VALUES_H_
