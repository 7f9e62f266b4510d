// Fuzz target: the generic record codec (model/record.h) and write
// validation (model/validation.h), between the resource messages clients
// send and the column values the store keeps.
//
// Input: 1 header byte, then the body.
//   header % 6 chooses the resource (accounts ... activities);
//   header / 6 even: the body is a serialised resource message, as a Create
//     or Update request carries it;
//   header / 6 odd: the body describes column values (as read back from a
//     database), one per stored field: a type byte, then the value.
// Properties:
//   - Message side: RecordFromMessage and ValidateFields never crash and
//     have no undefined behaviour on any message, validated or not (Create
//     converts the whole message before replacing the output-only fields).
//     A message that passes validation of every field round-trips:
//     RecordFromMessage(RecordToMessage(r)) == r, with name and etag from
//     the record's id and version.
//   - Column side: RecordToMessage never crashes on values of any type; a
//     value of the field's own representation that the field can hold is
//     read back unchanged (FieldValue), including every timestamp.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/message.h"
#include "google/protobuf/stubs/logging.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "model/validation.h"

namespace crm::model {
namespace {

using fuzz::Escaped;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const std::vector<const ObjectSchema*>& Schemas() {
  static const auto* schemas =
      new std::vector<const ObjectSchema*>(SchemaRegistry::Default().All());
  return *schemas;
}

std::unique_ptr<Message> NewMessage(const ObjectSchema& schema) {
  return std::unique_ptr<Message>(
      google::protobuf::MessageFactory::generated_factory()
          ->GetPrototype(schema.descriptor())
          ->New());
}

bool SameValue(const SqlValue& a, const SqlValue& b) {
  const auto* da = std::get_if<double>(&a);
  const auto* db = std::get_if<double>(&b);
  if (da != nullptr && db != nullptr) {
    return std::memcmp(da, db, sizeof(double)) == 0 ||
           (std::isnan(*da) && std::isnan(*db));
  }
  return a == b;
}

std::vector<int> AllFields(const ObjectSchema& schema) {
  std::vector<int> all;
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    all.push_back(static_cast<int>(i));
  }
  return all;
}

void CheckRoundTrip(const ObjectSchema& schema, Record record,
                    absl::string_view context) {
  record.id = "r1";
  record.version = 3;
  std::unique_ptr<Message> out = NewMessage(schema);
  RecordToMessage(schema, record, out.get());
  const auto* d = out->GetDescriptor();
  FUZZ_CHECK(
      out->GetReflection()->GetString(*out, d->FindFieldByName("name")) ==
      schema.ResourceName("r1"));
  FUZZ_CHECK(out->GetReflection()->GetString(
                 *out, d->FindFieldByName("etag")) == "v3");
  const Record back = RecordFromMessage(schema, *out);
  FUZZ_CHECK(back.values.size() == record.values.size());
  for (size_t i = 0; i < record.values.size(); ++i) {
    FUZZ_CHECK(SameValue(back.values[i], record.values[i]))
        << schema.collection() << "." << schema.fields()[i].name << ": "
        << DebugString(record.values[i]) << " came back as "
        << DebugString(back.values[i]) << " for " << Escaped(context);
  }
}

void MessageSide(const ObjectSchema& schema, absl::string_view body) {
  std::unique_ptr<Message> message = NewMessage(schema);
  if (!message->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return;
  }
  // What Create does before anything else: convert the whole message.
  const Record record = RecordFromMessage(schema, *message);
  FUZZ_CHECK(record.values.size() == schema.fields().size());
  const absl::Status creatable =
      ValidateFields(schema, *message, CreatableFields(schema));
  const absl::Status all = ValidateFields(schema, *message, AllFields(schema));
  if (!creatable.ok()) {
    FUZZ_CHECK(creatable.code() == absl::StatusCode::kInvalidArgument)
        << creatable;
    FUZZ_CHECK(!all.ok()) << "a subset failed but every field passed";
  }
  if (!all.ok()) {
    FUZZ_CHECK(all.code() == absl::StatusCode::kInvalidArgument) << all;
    return;
  }
  for (const SqlValue& v : record.values) {
    FUZZ_CHECK(!std::holds_alternative<std::monostate>(v));
    if (const auto* x = std::get_if<double>(&v)) {
      FUZZ_CHECK(std::isfinite(*x)) << "validation let " << *x << " through";
    }
  }
  CheckRoundTrip(schema, record, body);
}

// A column value of any type, with a bias towards the field's own.
SqlValue ColumnValue(const FieldSchema& field, FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0:
      return std::monostate();
    case 1:
      return in.ConsumeIntegral<int64_t>();
    case 2: {
      double d;
      const auto bytes = in.ConsumeBytes<uint8_t>(sizeof(d));
      if (bytes.size() != sizeof(d)) return 0.0;
      std::memcpy(&d, bytes.data(), sizeof(d));
      return d;
    }
    case 3:
      return in.ConsumeRandomLengthString(64);
    default:
      break;
  }
  // The field's own representation.
  switch (field.kind) {
    case FieldKind::kString:
      return in.ConsumeRandomLengthString(64);
    case FieldKind::kEnum: {
      const auto* type = field.descriptor->enum_type();
      return type
          ->value(in.ConsumeIntegralInRange<int>(0, type->value_count() - 1))
          ->name();
    }
    case FieldKind::kBool:
      return static_cast<int64_t>(in.ConsumeBool());
    case FieldKind::kDouble:
      return in.ConsumeFloatingPoint<double>();
    case FieldKind::kInt64:
    case FieldKind::kTimestamp:
      return in.ConsumeIntegral<int64_t>();
  }
  return std::monostate();
}

// True if `field` can hold `v` exactly, so that it must be read back as is.
bool Representable(const FieldSchema& field, const SqlValue& v) {
  const FieldDescriptor* f = field.descriptor;
  switch (field.kind) {
    case FieldKind::kString:
      return std::holds_alternative<std::string>(v);
    case FieldKind::kEnum: {
      const auto* s = std::get_if<std::string>(&v);
      return s != nullptr && f->enum_type()->FindValueByName(*s) != nullptr;
    }
    case FieldKind::kBool: {
      const auto* i = std::get_if<int64_t>(&v);
      return i != nullptr && (*i == 0 || *i == 1);
    }
    case FieldKind::kInt64: {
      const auto* i = std::get_if<int64_t>(&v);
      if (i == nullptr) return false;
      return f->cpp_type() != FieldDescriptor::CPPTYPE_INT32 ||
             (*i >= std::numeric_limits<int32_t>::min() &&
              *i <= std::numeric_limits<int32_t>::max());
    }
    case FieldKind::kDouble: {
      const auto* d = std::get_if<double>(&v);
      if (d == nullptr) return false;
      return f->cpp_type() != FieldDescriptor::CPPTYPE_FLOAT ||
             (std::isfinite(*d) &&
              static_cast<double>(static_cast<float>(*d)) == *d);
    }
    case FieldKind::kTimestamp:
      return std::holds_alternative<int64_t>(v);
  }
  return false;
}

void ColumnSide(const ObjectSchema& schema, absl::string_view body) {
  FuzzedDataProvider in(reinterpret_cast<const uint8_t*>(body.data()),
                        body.size());
  Record record;
  record.id = in.ConsumeRandomLengthString(16);
  record.version = in.ConsumeIntegral<int64_t>();
  for (const FieldSchema& field : schema.fields()) {
    record.values.push_back(ColumnValue(field, in));
  }
  std::unique_ptr<Message> out = NewMessage(schema);
  RecordToMessage(schema, record, out.get());
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    const FieldSchema& field = schema.fields()[i];
    const SqlValue back = FieldValue(field, *out);
    FUZZ_CHECK(!std::holds_alternative<std::monostate>(back));
    if (Representable(field, record.values[i])) {
      FUZZ_CHECK(SameValue(back, record.values[i]))
          << schema.collection() << "." << field.name << ": "
          << DebugString(record.values[i]) << " came back as "
          << DebugString(back);
    }
  }
  if (record.version > 0) {
    absl::StatusOr<int64_t> v = ParseEtag(EtagOf(record.version));
    FUZZ_CHECK(v.ok() && *v == record.version) << record.version;
  }
}

}  // namespace
}  // namespace crm::model

// Protobuf logs every string field with invalid UTF-8 it refuses to parse;
// at thousands of inputs a second that is noise and most of the run time.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::model;
  if (size < 1) return 0;
  const auto& schemas = Schemas();
  const ObjectSchema& schema = *schemas[data[0] % schemas.size()];
  const absl::string_view body(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  if ((data[0] / schemas.size()) % 2 == 0) {
    MessageSide(schema, body);
  } else {
    ColumnSide(schema, body);
  }
  return 0;
}
