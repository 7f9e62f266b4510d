#include "model/validation.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"
#include "model/record.h"
#include "model/resource_name.h"

namespace crm::model {
namespace {

// 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as in google.protobuf.Timestamp.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

std::string Where(const ObjectSchema& schema, const FieldSchema& field) {
  return absl::StrCat(schema.singular(), ".", field.name);
}

absl::Status ValidateOne(const ObjectSchema& schema, const FieldSchema& field,
                         const google::protobuf::Message& message) {
  SqlValue value = FieldValue(field, message);
  switch (field.kind) {
    case FieldKind::kString: {
      const std::string& s = std::get<std::string>(value);
      if (s.size() > field.max_length) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(schema, field), ": ", s.size(),
                         " bytes; the limit is ", field.max_length));
      }
      if (s.empty()) {
        if (field.required) {
          return absl::InvalidArgumentError(
              absl::StrCat(Where(schema, field), ": required"));
        }
        return absl::OkStatus();
      }
      if (!field.references.empty()) {
        auto parsed =
            ParseResourceName(s, field.references, Where(schema, field));
        if (!parsed.ok()) return parsed.status();
      }
      return absl::OkStatus();
    }
    case FieldKind::kEnum: {
      const auto* r = message.GetReflection();
      int number = r->GetEnumValue(message, field.descriptor);
      if (field.descriptor->enum_type()->FindValueByNumber(number) == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(schema, field), ": ", number, " is not a known value"));
      }
      if (field.required && number == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(schema, field), ": required"));
      }
      return absl::OkStatus();
    }
    case FieldKind::kDouble:
      if (!std::isfinite(std::get<double>(value))) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(schema, field), ": must be a finite number"));
      }
      return absl::OkStatus();
    case FieldKind::kTimestamp: {
      const auto* r = message.GetReflection();
      if (!r->HasField(message, field.descriptor)) return absl::OkStatus();
      const auto& ts = r->GetMessage(message, field.descriptor);
      const auto* tr = ts.GetReflection();
      int64_t seconds = tr->GetInt64(ts, ts.GetDescriptor()->FindFieldByNumber(1));
      int32_t nanos = tr->GetInt32(ts, ts.GetDescriptor()->FindFieldByNumber(2));
      if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds ||
          nanos < 0 || nanos > 999999999) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(schema, field),
            ": timestamp out of range (years 0001 to 9999, nanos 0-999999999)"));
      }
      return absl::OkStatus();
    }
    case FieldKind::kInt64:
    case FieldKind::kBool:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateFields(const ObjectSchema& schema,
                            const google::protobuf::Message& message,
                            const std::vector<int>& field_indexes) {
  base::BadRequestBuilder bad;
  for (int i : field_indexes) {
    const FieldSchema& field = schema.fields()[i];
    absl::Status s = ValidateOne(schema, field, message);
    if (!s.ok()) bad.Add(Where(schema, field), s);
  }
  return bad.Build();
}

std::vector<int> CreatableFields(const ObjectSchema& schema) {
  std::vector<int> out;
  for (size_t i = 0; i < schema.fields().size(); ++i) {
    if (!schema.fields()[i].output_only) out.push_back(static_cast<int>(i));
  }
  return out;
}

absl::StatusOr<std::vector<int>> ResolveUpdateMask(
    const ObjectSchema& schema, const google::protobuf::FieldMask& mask) {
  auto writable = [&] {
    std::vector<std::string> names;
    for (const auto& f : schema.fields()) {
      if (!f.output_only && !f.immutable) names.push_back(f.name);
    }
    return absl::StrJoin(names, ", ");
  };
  constexpr char kMask[] = "update_mask";
  if (mask.paths_size() == 0) {
    return base::BadRequestError(
        {{kMask, absl::StrCat("required; name the fields to change, e.g. "
                              "paths: [\"",
                              schema.fields().back().name, "\"]")}});
  }
  // Every refused path is reported, in the order of the mask.
  base::BadRequestBuilder bad;
  std::vector<int> out;
  std::set<int> seen;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {
      bad.Add(kMask, "'*' is not supported; name each field to change");
      continue;
    }
    int i = schema.FieldIndex(path);
    if (i < 0) {
      bad.SetReason(crm::v1::UNKNOWN_FIELD, {{"field", path.substr(0, 80)}});
      bad.Add(kMask, absl::StrCat("unknown field '", path.substr(0, 80),
                                  "' for ", schema.singular(),
                                  "; updatable fields: ", writable()));
      continue;
    }
    const FieldSchema& f = schema.fields()[i];
    if (f.output_only || f.immutable) {
      bad.Add(kMask, absl::StrCat(schema.singular(), ".", path, " is ",
                                  f.output_only ? "output-only" : "immutable",
                                  " and cannot be updated; updatable fields: ",
                                  writable()));
      continue;
    }
    if (!seen.insert(i).second) {
      bad.Add(kMask, absl::StrCat("'", path, "' is named twice"));
      continue;
    }
    out.push_back(i);
  }
  if (!bad.empty()) return bad.Build();
  return out;
}

}  // namespace crm::model
