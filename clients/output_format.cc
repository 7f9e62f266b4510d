#include "clients/output_format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

namespace crm::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxListCell = 48;
constexpr int kListExtraColumns = 5;

bool IsStandardField(const std::string& name) {
  static const auto* const kStandard = new std::set<std::string>{
      "name", "etag", "create_time", "update_time", "owner", "source"};
  return kStandard->count(name) > 0;
}

std::string OneLine(std::string s) {
  return absl::StrReplaceAll(s, {{"\n", "\\n"}, {"\r", "\\r"}, {"\t", "\\t"}});
}

std::pair<int64_t, int32_t> SecondsNanos(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  return {r->GetInt64(m, d->FindFieldByName("seconds")),
          r->GetInt32(m, d->FindFieldByName("nanos"))};
}

std::string MessageText(const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  if (type == "google.protobuf.Timestamp") {
    auto [s, n] = SecondsNanos(m);
    absl::Time t = absl::FromUnixSeconds(s) + absl::Nanoseconds(n);
    return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", t, absl::UTCTimeZone());
  }
  if (type == "google.protobuf.Duration") {
    auto [s, n] = SecondsNanos(m);
    return absl::FormatDuration(absl::Seconds(s) + absl::Nanoseconds(n));
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(m, &json, options).ok()) {
    return m.ShortDebugString();
  }
  return json;
}

std::string ElementText(const Message& m, const FieldDescriptor* f, int i) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
      return f->type() == FieldDescriptor::TYPE_BYTES ? absl::CHexEscape(s) : s;
    }
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, i)
                              : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(rep ? r->GetRepeatedInt64(m, f, i)
                              : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, i)
                              : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, i)
                              : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrCat(rep ? r->GetRepeatedDouble(m, f, i)
                              : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrCat(rep ? r->GetRepeatedFloat(m, f, i)
                              : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "true"
                                                                    : "false";
    case FieldDescriptor::CPPTYPE_ENUM: {
      int v = rep ? r->GetRepeatedEnumValue(m, f, i) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(v);
      return value != nullptr ? value->name() : absl::StrCat(v);
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageText(rep ? r->GetRepeatedMessage(m, f, i)
                             : r->GetMessage(m, f));
  }
  return "";
}

}  // namespace

bool IsEmptyField(const Message& message, const FieldDescriptor* field) {
  const Reflection* r = message.GetReflection();
  if (field->is_repeated()) return r->FieldSize(message, field) == 0;
  return !r->HasField(message, field);
}

std::string FormatFieldValue(const Message& message,
                             const FieldDescriptor* field) {
  if (!field->is_repeated()) return OneLine(ElementText(message, field, 0));
  std::vector<std::string> parts;
  const int n = message.GetReflection()->FieldSize(message, field);
  for (int i = 0; i < n; ++i) parts.push_back(ElementText(message, field, i));
  return OneLine(absl::StrJoin(parts, ", "));
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  std::string out;
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size())
        line += std::string(widths[i] - cell.size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    absl::StrAppend(&out, line, "\n");
  };
  print(header);
  for (const auto& row : rows) print(row);
  return out;
}

std::string FormatRecord(const Message& record) {
  const Descriptor* d = record.GetDescriptor();
  std::vector<std::vector<std::string>> rows;
  const FieldDescriptor* name = d->FindFieldByName("name");
  if (name != nullptr) rows.push_back({"name", FormatFieldValue(record, name)});
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f == name || IsEmptyField(record, f)) continue;
    rows.push_back({f->name(), FormatFieldValue(record, f)});
  }
  return FormatTable({"FIELD", "VALUE"}, rows);
}

std::vector<const FieldDescriptor*> ListColumns(
    const Descriptor* type, const std::vector<const Message*>& records) {
  std::vector<const FieldDescriptor*> filled, empty;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (IsStandardField(f->name())) continue;
    bool any =
        std::any_of(records.begin(), records.end(),
                    [f](const Message* m) { return !IsEmptyField(*m, f); });
    (any ? filled : empty).push_back(f);
  }
  filled.insert(filled.end(), empty.begin(), empty.end());
  if (filled.size() > kListExtraColumns) filled.resize(kListExtraColumns);
  // Keep declaration order among the chosen columns.
  std::sort(filled.begin(), filled.end(),
            [](auto* a, auto* b) { return a->index() < b->index(); });
  std::vector<const FieldDescriptor*> columns;
  if (const auto* name = type->FindFieldByName("name")) columns.push_back(name);
  columns.insert(columns.end(), filled.begin(), filled.end());
  if (const auto* owner = type->FindFieldByName("owner"))
    columns.push_back(owner);
  return columns;
}

std::string FormatList(const Descriptor* type,
                       const std::vector<const Message*>& records,
                       const std::string& next_page_token) {
  std::string out;
  if (records.empty()) {
    out = "(no records)\n";
  } else {
    auto columns = ListColumns(type, records);
    std::vector<std::string> header;
    for (const auto* f : columns) header.push_back(f->name());
    std::vector<std::vector<std::string>> rows;
    for (const Message* m : records) {
      std::vector<std::string> row;
      for (const auto* f : columns) {
        std::string cell = IsEmptyField(*m, f) ? "" : FormatFieldValue(*m, f);
        if (cell.size() > kMaxListCell) {
          size_t cut = kMaxListCell - 3;
          while (cut > 0 && (cell[cut] & 0xC0) == 0x80) --cut;  // UTF-8 start.
          cell = cell.substr(0, cut) + "...";
        }
        row.push_back(std::move(cell));
      }
      rows.push_back(std::move(row));
    }
    out = FormatTable(header, rows);
  }
  if (!next_page_token.empty()) {
    absl::StrAppend(&out, "next_page_token: ", next_page_token, "\n");
  }
  return out;
}

absl::StatusOr<std::string> FormatJson(const Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print JSON: ", status.message().as_string()));
  }
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

}  // namespace crm::client
