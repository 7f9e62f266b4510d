#include "clients/field_values.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdint>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "crm/v1/annotations.pb.h"

namespace crm::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsOutputOnly(const FieldDescriptor* f) {
  return f->options().GetExtension(crm::v1::field).output_only();
}

absl::Status BadValue(const FieldDescriptor* f, absl::string_view expected,
                      absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "field '", f->name(), "' expects ", expected, ", got '", text, "'"));
}

std::string EnumNames(const EnumDescriptor* e) {
  std::vector<std::string> names;
  for (int i = 0; i < e->value_count(); ++i)
    names.push_back(e->value(i)->name());
  return absl::StrJoin(names, ", ");
}

// Sets a Timestamp or Duration (seconds + nanos) from `total`.
void SetSecondsNanos(Message* m, int64_t seconds, int32_t nanos) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  r->SetInt64(m, d->FindFieldByName("seconds"), seconds);
  r->SetInt32(m, d->FindFieldByName("nanos"), nanos);
}

absl::Status SetMessage(Message* message, const FieldDescriptor* f,
                        absl::string_view text) {
  const std::string& type = f->message_type()->full_name();
  const Reflection* r = message->GetReflection();
  if (type == "google.protobuf.Timestamp") {
    absl::Time t;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
      return BadValue(f, "an RFC 3339 time such as 2024-05-01T09:30:00Z", text);
    }
    absl::Duration since_epoch = t - absl::UnixEpoch();
    int64_t seconds =
        absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
    int32_t nanos = static_cast<int32_t>(
        absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds)));
    Message* m = f->is_repeated() ? r->AddMessage(message, f)
                                  : r->MutableMessage(message, f);
    SetSecondsNanos(m, seconds, nanos);
    return absl::OkStatus();
  }
  if (type == "google.protobuf.Duration") {
    absl::Duration d;
    if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
        d == -absl::InfiniteDuration()) {
      return BadValue(f, "a duration such as 90s or 1h30m", text);
    }
    int64_t seconds = absl::ToInt64Seconds(absl::Trunc(d, absl::Seconds(1)));
    int32_t nanos = static_cast<int32_t>(
        absl::ToInt64Nanoseconds(d - absl::Seconds(seconds)));
    Message* m = f->is_repeated() ? r->AddMessage(message, f)
                                  : r->MutableMessage(message, f);
    SetSecondsNanos(m, seconds, nanos);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("field '", f->name(), "' is a message (", type,
                   "): set it with --json instead of field=value"));
}

absl::Status SetEnum(Message* message, const FieldDescriptor* f,
                     absl::string_view text) {
  const EnumDescriptor* e = f->enum_type();
  for (int i = 0; i < e->value_count(); ++i) {
    if (absl::EqualsIgnoreCase(e->value(i)->name(), text)) {
      const Reflection* r = message->GetReflection();
      if (f->is_repeated()) {
        r->AddEnum(message, f, e->value(i));
      } else {
        r->SetEnum(message, f, e->value(i));
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("field '", f->name(), "': '", text, "' is not a ", e->name(),
                   "; valid values: ", EnumNames(e)));
}

template <typename T>
absl::Status ParseInt(const FieldDescriptor* f, absl::string_view text, T* out,
                      absl::string_view type) {
  if (!absl::SimpleAtoi(text, out)) {
    return BadValue(f, absl::StrCat("an integer (", type, ")"), text);
  }
  return absl::OkStatus();
}

absl::Status SetScalar(Message* m, const FieldDescriptor* f,
                       absl::string_view text) {
  const Reflection* r = m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      rep ? r->AddString(m, f, std::string(text))
          : r->SetString(m, f, std::string(text));
      return absl::OkStatus();
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (auto s = ParseInt(f, text, &v, "int32"); !s.ok()) return s;
      rep ? r->AddInt32(m, f, v) : r->SetInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (auto s = ParseInt(f, text, &v, "int64"); !s.ok()) return s;
      rep ? r->AddInt64(m, f, v) : r->SetInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (auto s = ParseInt(f, text, &v, "uint32"); !s.ok()) return s;
      rep ? r->AddUInt32(m, f, v) : r->SetUInt32(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (auto s = ParseInt(f, text, &v, "uint64"); !s.ok()) return s;
      rep ? r->AddUInt64(m, f, v) : r->SetUInt64(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        return BadValue(f, "a finite number", text);
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
        rep ? r->AddFloat(m, f, static_cast<float>(v))
            : r->SetFloat(m, f, static_cast<float>(v));
      } else {
        rep ? r->AddDouble(m, f, v) : r->SetDouble(m, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (!absl::SimpleAtob(text, &v)) {
        return BadValue(f, "true or false", text);
      }
      rep ? r->AddBool(m, f, v) : r->SetBool(m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM:
      return SetEnum(m, f, text);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return SetMessage(m, f, text);
  }
  return absl::InternalError("unhandled field type");
}

}  // namespace

std::string SettableFieldNames(const Descriptor* descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* f = descriptor->field(i);
    if (!IsOutputOnly(f)) names.push_back(f->name());
  }
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<const FieldDescriptor*> FindSettableField(
    const Descriptor* descriptor, absl::string_view name, FieldAccess access) {
  const FieldDescriptor* f = descriptor->FindFieldByName(std::string(name));
  if (f == nullptr) f = descriptor->FindFieldByCamelcaseName(std::string(name));
  if (f == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown field '", name, "' for ", descriptor->name(),
                     "; settable fields: ", SettableFieldNames(descriptor)));
  }
  if (access == FieldAccess::kWritable && IsOutputOnly(f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", f->name(),
                     "' is output-only (set by the server); settable "
                     "fields: ",
                     SettableFieldNames(descriptor)));
  }
  return f;
}

absl::Status SetFieldFromText(Message* message, const FieldDescriptor* field,
                              absl::string_view text) {
  if (text.empty()) {
    message->GetReflection()->ClearField(message, field);
    return absl::OkStatus();
  }
  return SetScalar(message, field, text);
}

absl::StatusOr<std::vector<std::string>> ApplyAssignments(
    Message* message, const std::vector<std::string>& assignments) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  for (const std::string& a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "expected field=value, got '", a, "' (use field= to clear a field)"));
    }
    auto field = FindSettableField(message->GetDescriptor(), a.substr(0, eq),
                                   FieldAccess::kWritable);
    if (!field.ok()) return field.status();
    const bool first = seen.insert((*field)->name()).second;
    if (first) paths.push_back((*field)->name());
    if (first && (*field)->is_repeated()) {
      message->GetReflection()->ClearField(message, *field);
    }
    if (auto s = SetFieldFromText(message, *field, a.substr(eq + 1)); !s.ok()) {
      return s;
    }
  }
  return paths;
}

absl::StatusOr<std::vector<std::string>> JsonMaskPaths(
    const Descriptor* descriptor, absl::string_view json) {
  google::protobuf::Struct object;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &object);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--json is not a JSON object: ", parsed.message().as_string()));
  }
  std::vector<std::string> paths;
  for (const auto& [key, value] : object.fields()) {
    auto field = FindSettableField(descriptor, key, FieldAccess::kAny);
    if (!field.ok()) return field.status();
    paths.push_back((*field)->name());
  }
  std::sort(paths.begin(), paths.end(),
            [descriptor](const auto& a, const auto& b) {
              return descriptor->FindFieldByName(a)->index() <
                     descriptor->FindFieldByName(b)->index();
            });
  return paths;
}

}  // namespace crm::client
