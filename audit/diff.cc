#include "audit/diff.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"

namespace crm::audit {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;


std::string MessageJson(const Message& m) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &json, options).ok()) {
    return "{}";
  }
  return json;
}

// One value of a field (index < 0: singular).
std::string Value(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return JsonString((rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name());
    case FieldDescriptor::CPPTYPE_STRING:
      return JsonString(rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return "";
}

// The field's whole value, or nullopt when it is not set.
std::optional<std::string> FieldText(const Message* m, const FieldDescriptor* f) {
  if (m == nullptr) return std::nullopt;
  const Reflection* r = m->GetReflection();
  if (f->is_repeated()) {
    const int n = r->FieldSize(*m, f);
    if (n == 0) return std::nullopt;
    std::vector<std::string> items;
    for (int i = 0; i < n; ++i) items.push_back(Value(*m, f, i));
    return absl::StrCat("[", absl::StrJoin(items, ","), "]");
  }
  // For a proto3 field without presence HasField means "not the default".
  if (!r->HasField(*m, f)) return std::nullopt;
  return Value(*m, f, -1);
}

void Diff(const Message* before, const Message* after, const Descriptor* d,
          const std::string& prefix, const std::vector<std::string>& hidden,
          std::vector<crm::v1::AuditFieldChange>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string path =
        prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (!f->is_repeated() && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        !f->is_map()) {
      const Message* b = before != nullptr && before->GetReflection()->HasField(*before, f)
                             ? &before->GetReflection()->GetMessage(*before, f)
                             : nullptr;
      const Message* a = after != nullptr && after->GetReflection()->HasField(*after, f)
                             ? &after->GetReflection()->GetMessage(*after, f)
                             : nullptr;
      if (b == nullptr && a == nullptr) continue;
      Diff(b, a, f->message_type(), path, hidden, out);
      continue;
    }
    std::optional<std::string> b = FieldText(before, f);
    std::optional<std::string> a = FieldText(after, f);
    if (b == a) continue;
    crm::v1::AuditFieldChange change;
    change.set_field(path);
    const bool hide = prefix.empty() &&
                      std::find(hidden.begin(), hidden.end(), f->name()) !=
                          hidden.end();
    change.set_values_recorded(!hide);
    if (!hide) {
      if (b.has_value()) change.set_before(*b);
      if (a.has_value()) change.set_after(*a);
    }
    out->push_back(std::move(change));
  }
}

}  // namespace

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, "\\u00", c < 0x10 ? "0" : "",
                      absl::Hex(static_cast<unsigned char>(c)));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

std::vector<crm::v1::AuditFieldChange> DiffMessages(
    const Message* before, const Message* after,
    const std::vector<std::string>& hidden) {
  std::vector<crm::v1::AuditFieldChange> out;
  const Message* any = before != nullptr ? before : after;
  if (any == nullptr) return out;
  Diff(before, after, any->GetDescriptor(), "", hidden, &out);
  return out;
}

}  // namespace crm::audit
