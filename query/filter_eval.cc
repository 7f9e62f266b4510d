// The two evaluators of a CheckedFilter (see checked_filter.h): SQL and
// in-memory. Any change to one must be mirrored in the other; the agreement
// test in filter_agreement_test.cc runs both on the same data.
#include <optional>

#include "absl/strings/str_cat.h"
#include "query/checked_filter.h"
#include "query/value_compare.h"

namespace crm::query {
namespace {

std::string Column(const CheckedComparison& cmp, absl::string_view alias) {
  std::string column = model::QuoteIdentifier(cmp.column);
  if (!alias.empty()) {
    column = absl::StrCat(model::QuoteIdentifier(alias), ".", column);
  }
  if (cmp.column_as_double) {
    // Both PostgreSQL and SQLite (REAL affinity) then compare doubles, as
    // Matches does.
    column = absl::StrCat("CAST(", column, " AS DOUBLE PRECISION)");
  }
  return column;
}

void AppendSql(const CheckedNode& node, absl::string_view alias,
               model::SqlFragment* out) {
  switch (node.kind) {
    case FilterExpr::Kind::kComparison: {
      const CheckedComparison& cmp = node.comparison;
      out->Append(
          absl::StrCat(Column(cmp, alias), " ", CompareOpText(cmp.op), " ?"),
          {cmp.value});
      return;
    }
    case FilterExpr::Kind::kAnd:
    case FilterExpr::Kind::kOr:
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) {
          out->Append(node.kind == FilterExpr::Kind::kAnd ? " AND " : " OR ");
        }
        out->Append("(");
        AppendSql(node.children[i], alias, out);
        out->Append(")");
      }
      return;
    case FilterExpr::Kind::kNot:
      out->Append("NOT (");
      AppendSql(node.children[0], alias, out);
      out->Append(")");
      return;
  }
}

// Three-valued logic: nullopt is SQL's unknown.
using Truth = std::optional<bool>;

Truth Compare(const CheckedComparison& cmp, const model::Record& record) {
  if (cmp.field_index < 0 ||
      static_cast<size_t>(cmp.field_index) >= record.values.size()) {
    return std::nullopt;
  }
  model::SqlValue column = record.values[cmp.field_index];
  if (cmp.blind_index) {
    // The record holds the plaintext; equal indexes <=> equal inputs.
    const auto* text = std::get_if<std::string>(&column);
    if (text == nullptr) return std::nullopt;
    const bool equal = model::BlindIndexInput(*text) == cmp.blind_input;
    return cmp.op == CompareOp::kEq ? equal : !equal;
  }
  if (cmp.column_as_double) {
    const auto* i = std::get_if<int64_t>(&column);
    if (i == nullptr) return std::nullopt;
    column = static_cast<double>(*i);
  }
  std::optional<int> c = CompareSqlValues(column, cmp.value);
  if (!c) return std::nullopt;
  switch (cmp.op) {
    case CompareOp::kEq:
      return *c == 0;
    case CompareOp::kNe:
      return *c != 0;
    case CompareOp::kLt:
      return *c < 0;
    case CompareOp::kLe:
      return *c <= 0;
    case CompareOp::kGt:
      return *c > 0;
    case CompareOp::kGe:
      return *c >= 0;
  }
  return std::nullopt;
}

Truth Evaluate(const CheckedNode& node, const model::Record& record) {
  switch (node.kind) {
    case FilterExpr::Kind::kComparison:
      return Compare(node.comparison, record);
    case FilterExpr::Kind::kAnd: {
      Truth result = true;  // false dominates, then unknown
      for (const CheckedNode& child : node.children) {
        Truth t = Evaluate(child, record);
        if (t == false) return false;
        if (!t) result = std::nullopt;
      }
      return result;
    }
    case FilterExpr::Kind::kOr: {
      Truth result = false;  // true dominates, then unknown
      for (const CheckedNode& child : node.children) {
        Truth t = Evaluate(child, record);
        if (t == true) return true;
        if (!t) result = std::nullopt;
      }
      return result;
    }
    case FilterExpr::Kind::kNot: {
      Truth t = Evaluate(node.children[0], record);
      if (!t) return std::nullopt;
      return !*t;
    }
  }
  return std::nullopt;
}

}  // namespace

model::SqlFragment ToSql(const CheckedFilter& filter,
                         absl::string_view table_alias) {
  model::SqlFragment out;
  if (filter.empty()) return out;
  AppendSql(*filter.root(), table_alias, &out);
  return out;
}

bool Matches(const CheckedFilter& filter, const model::Record& record) {
  if (filter.empty()) return true;
  return Evaluate(*filter.root(), record) == true;
}

}  // namespace crm::query
