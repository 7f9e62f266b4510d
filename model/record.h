// Records: the storage form of a resource, and conversion to and from the
// protobuf message. One generic codec serves every resource type.
#ifndef CRM_MODEL_RECORD_H_
#define CRM_MODEL_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "model/object_schema.h"
#include "model/sql.h"

namespace crm::model {

struct Record {
  std::string id;
  int64_t version = 0;
  // Aligned with ObjectSchema::fields(); never std::monostate once stored.
  std::vector<SqlValue> values;
};

// The column value of one field of `message` (see object_schema.h mapping).
SqlValue FieldValue(const FieldSchema& field,
                    const google::protobuf::Message& message);

// Sets one field of `message` from a column value. A value of the wrong
// variant type, or an enum name the binary does not know, sets the default;
// except that a number sets a field of the other number type (a double an
// integer field by its integer part, or 0 if that is no int64).
void SetFieldValue(const FieldSchema& field, const SqlValue& value,
                   google::protobuf::Message* message);

// Every stored field of `message`, aligned with schema.fields(). id and
// version are left empty.
Record RecordFromMessage(const ObjectSchema& schema,
                         const google::protobuf::Message& message);

// Fills `message` (of the schema's type) from `record`, including name and
// etag.
void RecordToMessage(const ObjectSchema& schema, const Record& record,
                     google::protobuf::Message* message);

// The etag clients see for a version, and back. ParseEtag fails with
// INVALID_ARGUMENT for anything EtagOf did not produce.
std::string EtagOf(int64_t version);
absl::StatusOr<int64_t> ParseEtag(absl::string_view etag);

// Microseconds since the Unix epoch <-> google.protobuf.Timestamp fields.
// TimestampMicros takes any message, also one not validated yet: beyond the
// int64 range it saturates (INT64_MIN / INT64_MAX) rather than overflowing.
int64_t TimestampMicros(const google::protobuf::Message& timestamp);
void SetTimestampMicros(int64_t micros, google::protobuf::Message* timestamp);

}  // namespace crm::model

#endif  // CRM_MODEL_RECORD_H_
