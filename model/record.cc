#include "model/record.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace crm::model {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// A double for an integer field: its integer part when that is an int64,
// else 0 (the default). A bare static_cast is undefined behaviour for NaN
// and for values outside the int64 range.
int64_t IntegerPart(double d) {
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return 0;
  return static_cast<int64_t>(d);
}

}  // namespace

int64_t TimestampMicros(const Message& ts) {
  const Reflection* r = ts.GetReflection();
  const auto* d = ts.GetDescriptor();
  int64_t seconds = r->GetInt64(ts, d->FindFieldByNumber(1));
  int32_t nanos = r->GetInt32(ts, d->FindFieldByNumber(2));
  // Any seconds value must convert without overflow: a request's Timestamp
  // is converted before it is checked (ValidateFields reads it through
  // FieldValue, and Create converts the output-only ones it then replaces).
  // absl computes in 128 bits and saturates at the int64 range; for valid
  // nanos (0..999999999) it truncates to microseconds as the division did.
  return absl::ToUnixMicros(absl::FromUnixSeconds(seconds) +
                            absl::Nanoseconds(nanos));
}

void SetTimestampMicros(int64_t micros, Message* ts) {
  const Reflection* r = ts->GetReflection();
  const auto* d = ts->GetDescriptor();
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    seconds -= 1;
  }
  r->SetInt64(ts, d->FindFieldByNumber(1), seconds);
  r->SetInt32(ts, d->FindFieldByNumber(2), static_cast<int32_t>(rem * 1000));
}

SqlValue FieldValue(const FieldSchema& field, const Message& message) {
  const Reflection* r = message.GetReflection();
  const FieldDescriptor* f = field.descriptor;
  switch (field.kind) {
    case FieldKind::kString:
      return r->GetString(message, f);
    case FieldKind::kInt64:
      return f->cpp_type() == FieldDescriptor::CPPTYPE_INT32
                 ? static_cast<int64_t>(r->GetInt32(message, f))
                 : r->GetInt64(message, f);
    case FieldKind::kDouble:
      return f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT
                 ? static_cast<double>(r->GetFloat(message, f))
                 : r->GetDouble(message, f);
    case FieldKind::kBool:
      return static_cast<int64_t>(r->GetBool(message, f) ? 1 : 0);
    case FieldKind::kEnum: {
      const auto* value = r->GetEnum(message, f);
      return value->name();
    }
    case FieldKind::kTimestamp:
      if (!r->HasField(message, f)) return int64_t{0};
      return TimestampMicros(r->GetMessage(message, f));
  }
  return std::monostate{};
}

void SetFieldValue(const FieldSchema& field, const SqlValue& value,
                   Message* message) {
  const Reflection* r = message->GetReflection();
  const FieldDescriptor* f = field.descriptor;
  const int64_t* i = std::get_if<int64_t>(&value);
  const double* d = std::get_if<double>(&value);
  const std::string* s = std::get_if<std::string>(&value);
  switch (field.kind) {
    case FieldKind::kString:
      if (s != nullptr) r->SetString(message, f, *s);
      return;
    case FieldKind::kInt64: {
      int64_t v = i != nullptr ? *i : (d != nullptr ? IntegerPart(*d) : 0);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        r->SetInt32(message, f, static_cast<int32_t>(v));
      } else {
        r->SetInt64(message, f, v);
      }
      return;
    }
    case FieldKind::kDouble: {
      double v = d != nullptr ? *d : (i != nullptr ? static_cast<double>(*i) : 0);
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        r->SetFloat(message, f, static_cast<float>(v));
      } else {
        r->SetDouble(message, f, v);
      }
      return;
    }
    case FieldKind::kBool:
      r->SetBool(message, f, i != nullptr && *i != 0);
      return;
    case FieldKind::kEnum: {
      const auto* ev = s != nullptr ? f->enum_type()->FindValueByName(*s) : nullptr;
      r->SetEnumValue(message, f, ev != nullptr ? ev->number() : 0);
      return;
    }
    case FieldKind::kTimestamp:
      if (i != nullptr && *i != 0) {
        SetTimestampMicros(*i, r->MutableMessage(message, f));
      } else {
        r->ClearField(message, f);
      }
      return;
  }
}

Record RecordFromMessage(const ObjectSchema& schema, const Message& message) {
  Record record;
  record.values.reserve(schema.fields().size());
  for (const FieldSchema& field : schema.fields()) {
    record.values.push_back(FieldValue(field, message));
  }
  return record;
}

void RecordToMessage(const ObjectSchema& schema, const Record& record,
                     Message* message) {
  const auto* d = message->GetDescriptor();
  const Reflection* r = message->GetReflection();
  r->SetString(message, d->FindFieldByName("name"),
               schema.ResourceName(record.id));
  r->SetString(message, d->FindFieldByName("etag"), EtagOf(record.version));
  for (size_t i = 0; i < schema.fields().size() && i < record.values.size();
       ++i) {
    SetFieldValue(schema.fields()[i], record.values[i], message);
  }
}

std::string EtagOf(int64_t version) { return absl::StrCat("v", version); }

absl::StatusOr<int64_t> ParseEtag(absl::string_view etag) {
  int64_t version = 0;
  // SimpleAtoi also takes surrounding whitespace, a '+' and leading zeros
  // ("v8\n", "v+8", "v08"); comparing with EtagOf keeps only its own form.
  if (etag.size() < 2 || etag.size() > 21 || etag[0] != 'v' ||
      !absl::SimpleAtoi(etag.substr(1), &version) || version <= 0 ||
      EtagOf(version) != etag) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etag: '", etag.substr(0, 40),
        "' is not an etag issued by this server; use the etag of a record "
        "returned by Get or List"));
  }
  return version;
}

}  // namespace crm::model
