#include "query/checked_filter.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/error.h"

namespace crm::query {
namespace {

using model::FieldKind;
using model::FieldSchema;
using Lit = FilterLiteral::Kind;

absl::Status Error(absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: ", what, " at offset ", offset));
}

absl::Status UnknownField(absl::string_view name, size_t offset) {
  // Deliberately does not list the fields: the list could reveal fields the
  // caller may not read.
  return base::WithErrorInfo(
      absl::InvalidArgumentError(absl::StrCat(
          "filter: field '", name, "' is unknown or not readable at offset ",
          offset, "; see the API documentation for the filterable fields")),
      crm::v1::UNKNOWN_FIELD, {{"field", std::string(name.substr(0, 80))}});
}

// A field encrypted at rest (sensitive) holds ciphertext in its column:
// neither SQL nor a comparison of ciphertexts can evaluate a predicate.
// Only for a caller who may read the field (others get UnknownField).
absl::Status EncryptedField(const model::ObjectSchema& schema,
                            const FieldSchema& field, size_t offset) {
  return absl::InvalidArgumentError(absl::StrCat(
      "filter: ", schema.collection(), ".", field.name,
      " is encrypted at rest and cannot be filtered or sorted on (at offset ",
      offset, ")"));
}

bool IsEquality(CompareOp op) {
  return op == CompareOp::kEq || op == CompareOp::kNe;
}

// Earliest and latest instants a google.protobuf.Timestamp can hold.
constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59

absl::StatusOr<int64_t> TimestampMicros(const FilterLiteral& lit,
                                        absl::string_view field) {
  if (lit.kind != Lit::kString) {
    return Error(absl::StrCat("field '", field,
                              "' is a timestamp; compare it with an RFC 3339 "
                              "string such as \"2024-01-01T00:00:00Z\""),
                 lit.offset);
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, lit.text, &t, &err) ||
      t == absl::InfiniteFuture() || t == absl::InfinitePast()) {
    return Error(absl::StrCat("'", lit.text,
                              "' is not an RFC 3339 timestamp such as "
                              "\"2024-01-01T00:00:00Z\""),
                 lit.offset);
  }
  const int64_t seconds = absl::ToUnixSeconds(t);
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return Error("timestamp outside years 0001..9999", lit.offset);
  }
  const int64_t micros = absl::ToUnixMicros(t);
  if (absl::FromUnixMicros(micros) != t) {
    return Error("timestamp has more precision than microseconds", lit.offset);
  }
  return micros;
}

absl::StatusOr<std::string> EnumName(const FieldSchema& field,
                                     const FilterLiteral& lit) {
  const auto* type = field.descriptor->enum_type();
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    names.push_back(type->value(i)->name());
  }
  const std::string valid = absl::StrJoin(names, ", ");
  if (lit.kind != Lit::kIdentifier && lit.kind != Lit::kString) {
    return Error(absl::StrCat("field '", field.name,
                              "' is an enum; compare it with one of ", valid),
                 lit.offset);
  }
  if (type->FindValueByName(lit.text) == nullptr) {
    return Error(absl::StrCat("'", lit.text, "' is not a value of field '",
                              field.name, "'; valid values are ", valid),
                 lit.offset);
  }
  return lit.text;
}

// Converts the literal to the column representation of `field`.
absl::Status ConvertLiteral(const FieldSchema& field, const FilterExpr& expr,
                            CheckedComparison* out) {
  const FilterLiteral& lit = expr.literal;
  const std::string& name = field.name;
  switch (field.kind) {
    case FieldKind::kString:
      if (lit.kind != Lit::kString) {
        return Error(absl::StrCat("field '", name,
                                  "' is a string; quote the value, e.g. ", name,
                                  " = \"", lit.text, "\""),
                     lit.offset);
      }
      out->value = lit.text;
      return absl::OkStatus();
    case FieldKind::kInt64:
      if (lit.kind == Lit::kInteger) {
        out->value = lit.int_value;
      } else if (lit.kind == Lit::kDecimal) {
        out->value = lit.double_value;
        out->column_as_double = true;
      } else {
        return Error(absl::StrCat("field '", name,
                                  "' is an integer; compare it with a number "
                                  "such as 42"),
                     lit.offset);
      }
      return absl::OkStatus();
    case FieldKind::kDouble:
      if (lit.kind != Lit::kInteger && lit.kind != Lit::kDecimal) {
        return Error(absl::StrCat("field '", name,
                                  "' is a number; compare it with a number "
                                  "such as 4.5"),
                     lit.offset);
      }
      out->value = lit.double_value;
      return absl::OkStatus();
    case FieldKind::kBool:
      if (lit.kind != Lit::kBool) {
        return Error(absl::StrCat("field '", name,
                                  "' is a boolean; compare it with true or "
                                  "false"),
                     lit.offset);
      }
      if (!IsEquality(expr.op)) {
        return Error(absl::StrCat("field '", name,
                                  "' is a boolean; only = and != are allowed"),
                     lit.offset);
      }
      out->value = int64_t{lit.bool_value ? 1 : 0};
      return absl::OkStatus();
    case FieldKind::kEnum: {
      if (!IsEquality(expr.op)) {
        return Error(absl::StrCat("field '", name,
                                  "' is an enum; only = and != are allowed"),
                     lit.offset);
      }
      absl::StatusOr<std::string> value = EnumName(field, lit);
      if (!value.ok()) return value.status();
      out->value = *std::move(value);
      return absl::OkStatus();
    }
    case FieldKind::kTimestamp: {
      absl::StatusOr<int64_t> micros = TimestampMicros(lit, name);
      if (!micros.ok()) return micros.status();
      out->value = *micros;
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown field kind");
}

absl::StatusOr<CheckedNode> Check(const FilterExpr& expr,
                                  const model::ObjectSchema& schema,
                                  const FieldAccess& can_filter,
                                  const BlindIndexer* blind_index) {
  CheckedNode node;
  node.kind = expr.kind;
  if (expr.kind != FilterExpr::Kind::kComparison) {
    for (const auto& child : expr.children) {
      absl::StatusOr<CheckedNode> checked =
          Check(*child, schema, can_filter, blind_index);
      if (!checked.ok()) return checked.status();
      node.children.push_back(*std::move(checked));
    }
    return node;
  }
  const int index = schema.FieldIndex(expr.field);
  if (index < 0 || !can_filter || !can_filter(schema.fields()[index])) {
    return UnknownField(expr.field, expr.field_offset);
  }
  const FieldSchema& field = schema.fields()[index];
  const bool by_index = field.sensitive && field.blind_index &&
                        blind_index != nullptr && *blind_index;
  if (field.sensitive && !by_index) {
    return EncryptedField(schema, field, expr.field_offset);
  }
  if (by_index && !IsEquality(expr.op)) {
    return Error(absl::StrCat(schema.collection(), ".", field.name,
                              " is encrypted at rest: only = and != filters "
                              "work on it (through its blind index)"),
                 expr.field_offset);
  }
  CheckedComparison& cmp = node.comparison;
  cmp.field_index = index;
  cmp.column = field.name;
  cmp.kind = field.kind;
  cmp.op = expr.op;
  absl::Status s = ConvertLiteral(field, expr, &cmp);
  if (!s.ok()) return s;
  if (by_index) {
    cmp.blind_index = true;
    cmp.blind_input = model::BlindIndexInput(std::get<std::string>(cmp.value));
    absl::StatusOr<std::string> index =
        (*blind_index)(schema, field, cmp.blind_input);
    if (!index.ok()) return index.status();
    cmp.column = model::BlindIndexColumn(field);
    cmp.value = *std::move(index);
  }
  return node;
}

}  // namespace

CheckedFilter::CheckedFilter(std::string collection, CheckedNode root)
    : collection_(std::move(collection)),
      root_(std::make_shared<const CheckedNode>(std::move(root))) {}

absl::StatusOr<CheckedFilter> CheckFilter(const FilterExpr& expr,
                                          const model::ObjectSchema& schema,
                                          const FieldAccess& can_filter,
                                          const BlindIndexer* blind_index) {
  absl::StatusOr<CheckedNode> root =
      Check(expr, schema, can_filter, blind_index);
  if (!root.ok()) return root.status();
  return CheckedFilter(schema.collection(), *std::move(root));
}

absl::StatusOr<CheckedFilter> ParseAndCheckFilter(
    absl::string_view text, const model::ObjectSchema& schema,
    const FieldAccess& can_filter, const BlindIndexer* blind_index) {
  absl::StatusOr<std::unique_ptr<const FilterExpr>> expr = ParseFilter(text);
  if (!expr.ok()) return expr.status();
  if (*expr == nullptr) return CheckedFilter();
  return CheckFilter(**expr, schema, can_filter, blind_index);
}

}  // namespace crm::query
