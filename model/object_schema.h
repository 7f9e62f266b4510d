// The storage and validation view of one CRM resource type, derived from its
// protobuf descriptor and the options in proto/crm/v1/annotations.proto.
//
// Mapping (the same for every resource; this is the generic record path):
//   name  "{collection}/{id}"  -> column "id"      (TEXT primary key)
//   etag                       -> column "version" (BIGINT, +1 per write)
//   every other field          -> a column of the same name:
//     string                       TEXT     (references hold resource names)
//     int32/int64                  BIGINT
//     double/float                 DOUBLE PRECISION
//     bool                         BIGINT 0/1
//     enum                         TEXT, the value's name ("CLOSED_WON")
//     google.protobuf.Timestamp    BIGINT, microseconds since the Unix epoch
// Every column is NOT NULL: proto3 fields always have a value.
//
// Thread-safety: immutable after construction; share freely.
#ifndef CRM_MODEL_OBJECT_SCHEMA_H_
#define CRM_MODEL_OBJECT_SCHEMA_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"

namespace crm::model {

enum class FieldKind { kString, kInt64, kDouble, kBool, kEnum, kTimestamp };

// Default limit for string fields without an explicit max_length.
inline constexpr size_t kDefaultMaxStringLength = 1024;

struct FieldSchema {
  std::string name;  // proto field name == column name
  FieldKind kind;
  const google::protobuf::FieldDescriptor* descriptor;
  bool output_only = false;
  bool required = false;
  bool immutable = false;
  // Readable only with an explicit grant, and stored encrypted at rest
  // (store/field_encryption.h): never filtered or sorted on (query/).
  bool sensitive = false;
  // Sensitive fields only: a keyed blind index of the normalised value
  // (BlindIndexInput) is stored in the column BlindIndexColumn(*this), so
  // that = and != filters work (annotations.proto, blind_index).
  bool blind_index = false;
  size_t max_length = kDefaultMaxStringLength;  // strings only
  // Collections a reference field may name; empty for ordinary fields.
  std::vector<std::string> references;
  // Consent subjects only: the channel this field reaches the person on
  // ("email", "phone", "sms", "post"; annotations.proto consent_channel),
  // masked for a purpose the person opted out of on it; "" for none.
  std::string consent_channel;
};

// The consent channels (crm/v1/consent_service.proto).
inline constexpr const char* kConsentChannels[] = {"email", "phone", "sms",
                                                   "post"};
bool IsConsentChannel(absl::string_view channel);
// A purpose name: 1-64 of [a-z0-9-] ("marketing", "service").
bool IsConsentPurpose(absl::string_view purpose);

// The column holding `field`'s blind index: "<name>_bidx".
std::string BlindIndexColumn(const FieldSchema& field);
// The normalisation a blind index is computed over: surrounding ASCII
// whitespace removed, ASCII letters lower-cased. Written values and filter
// literals go through the same function.
std::string BlindIndexInput(absl::string_view value);

class ObjectSchema {
 public:
  // What a schema is for: a CRM resource (stored and served by the generic
  // record path; it must have the standard fields name, etag, create_time,
  // update_time, owner and source), or only the columns a List-language
  // filter may name on another table (e.g. audit_events; no standard
  // fields needed).
  enum class Use { kResource, kFilterColumns };

  // Builds the schema of a message carrying the (crm.v1.resource) option.
  // Fails with INVALID_ARGUMENT naming the field if a field has a type the
  // generic path cannot store, or (kResource) the standard fields are
  // missing.
  static absl::StatusOr<std::unique_ptr<ObjectSchema>> FromDescriptor(
      const google::protobuf::Descriptor* descriptor, Use use = Use::kResource);

  const std::string& collection() const { return collection_; }  // table
  const std::string& singular() const { return singular_; }
  const google::protobuf::Descriptor* descriptor() const { return descriptor_; }
  // Its records are people who carry consent (contacts, leads;
  // annotations.proto consent_subject).
  bool consent_subject() const { return consent_subject_; }

  // Stored fields (every field except name and etag), in field-number order.
  // Record::values is aligned with this vector.
  const std::vector<FieldSchema>& fields() const { return fields_; }

  // Index into fields() or -1. Only stored fields are found (not name/etag).
  int FieldIndex(absl::string_view name) const;
  const FieldSchema* FindField(absl::string_view name) const;

  // "{collection}/{id}".
  std::string ResourceName(absl::string_view id) const;

 private:
  ObjectSchema() = default;

  std::string collection_;
  std::string singular_;
  bool consent_subject_ = false;
  const google::protobuf::Descriptor* descriptor_ = nullptr;
  std::vector<FieldSchema> fields_;
  std::map<std::string, int, std::less<>> index_;
};

// All resource types of the API (crm.v1 messages with the resource option).
class SchemaRegistry {
 public:
  // The registry of every resource compiled into this binary. Built once;
  // a descriptor error here is a programming error and aborts.
  static const SchemaRegistry& Default();

  // nullptr if the collection is unknown.
  const ObjectSchema* Find(absl::string_view collection) const;
  const ObjectSchema* FindByMessage(
      const google::protobuf::Descriptor* descriptor) const;
  std::vector<const ObjectSchema*> All() const;

 private:
  std::map<std::string, std::unique_ptr<ObjectSchema>, std::less<>> by_collection_;
};

}  // namespace crm::model

#endif  // CRM_MODEL_OBJECT_SCHEMA_H_
