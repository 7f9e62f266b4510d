// The List filter language: parsing into an immutable syntax tree.
//
// Grammar (docs/filter-language.md is the user-facing description):
//   filter     := <empty> | or_expr
//   or_expr    := and_expr { "OR" and_expr }
//   and_expr   := unary { "AND" unary }
//   unary      := "NOT" unary | "(" or_expr ")" | comparison
//   comparison := FIELD OP LITERAL
//   OP         := "=" | "!=" | "<" | "<=" | ">" | ">="
//   LITERAL    := "string" | 'string' | INTEGER | DECIMAL | "true" | "false"
//                 | IDENTIFIER          (an enum value name)
// Keywords AND, OR, NOT are uppercase only (as in AIP-160); a lowercase
// "and"/"or"/"not" in a keyword position is refused with a hint. Precedence:
// NOT > AND > OR. Strings take backslash escapes \\ \" \' \n \r \t.
//
// Limits: text <= 2048 bytes, nesting (parentheses and NOT) <= 32 levels,
// <= 64 comparisons. Every failure is INVALID_ARGUMENT with a message such
// as "filter: expected a literal after '=' at offset 14" (byte offsets, 0 =
// the first byte).
//
// Thread-safety: a parsed FilterExpr is immutable; share it freely.
#ifndef CRM_QUERY_FILTER_H_
#define CRM_QUERY_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::query {

inline constexpr size_t kMaxFilterBytes = 2048;
inline constexpr int kMaxFilterDepth = 32;
inline constexpr int kMaxFilterComparisons = 64;

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

// "=", "!=", "<", ...
absl::string_view CompareOpText(CompareOp op);

struct FilterLiteral {
  enum class Kind { kString, kInteger, kDecimal, kBool, kIdentifier };
  Kind kind = Kind::kString;
  std::string text;  // decoded string, identifier, or the number as written
  int64_t int_value = 0;    // kInteger
  double double_value = 0;  // kInteger and kDecimal
  bool bool_value = false;  // kBool
  size_t offset = 0;        // byte offset of the literal in the filter
};

struct FilterExpr {
  enum class Kind { kComparison, kAnd, kOr, kNot };
  Kind kind = Kind::kComparison;

  // kComparison only.
  std::string field;
  size_t field_offset = 0;
  CompareOp op = CompareOp::kEq;
  FilterLiteral literal;

  // kAnd / kOr: two or more operands (chains are flattened); kNot: one.
  std::vector<std::unique_ptr<const FilterExpr>> children;
};

// Parses `text`. An empty or all-whitespace filter gives nullptr (no
// filter). Fails with INVALID_ARGUMENT as described above.
absl::StatusOr<std::unique_ptr<const FilterExpr>> ParseFilter(
    absl::string_view text);

// The canonical text of a parsed filter: single spaces, strings
// double-quoted with minimal escapes, numbers as written, parentheses only
// where precedence needs them. Two filters that differ only in whitespace,
// quote style or redundant parentheses have the same canonical text, and
// parsing the canonical text gives the same tree.
std::string FormatFilter(const FilterExpr& expr);

// ParseFilter then FormatFilter; "" for an empty filter. Used to bind page
// tokens to the query (see page_token.h).
absl::StatusOr<std::string> NormalizeFilter(absl::string_view text);

}  // namespace crm::query

#endif  // CRM_QUERY_FILTER_H_
