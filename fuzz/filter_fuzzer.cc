// Fuzz target: the List filter parser (query/filter.h), syntax only.
//
// Input: the filter text, as a client sends it.
// Properties, for every input:
//   - ParseFilter never crashes; a refusal is INVALID_ARGUMENT "filter: ...".
//   - Text over kMaxFilterBytes is refused; an all-whitespace text is the
//     empty filter (nullptr), and only such a text is.
//   - An accepted tree is well formed: AND/OR have 2+ children and none of
//     the same kind (chains are flattened), NOT has one, nesting and the
//     number of comparisons stay within the documented limits, and every
//     literal is consistent with its kind.
//   - Canonical text: FormatFilter parses back to an identical tree and
//     formats to itself (the page-token binding relies on this: two filters
//     share a canonical text only if they mean the same), and
//     NormalizeFilter agrees with ParseFilter + FormatFilter.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "query/filter.h"

namespace crm::query {
namespace {

using fuzz::Escaped;

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

bool IsKeyword(absl::string_view s) {
  return s == "AND" || s == "OR" || s == "NOT";
}

struct Shape {
  int comparisons = 0;
  int max_depth = 0;  // NOT and parenthesised AND/OR levels
};

void CheckLiteral(const FilterLiteral& lit) {
  using Kind = FilterLiteral::Kind;
  switch (lit.kind) {
    case Kind::kString:
      FUZZ_CHECK(lit.text.find('\0') == std::string::npos)
          << "NUL in string literal";
      return;
    case Kind::kInteger: {
      int64_t again = 0;
      FUZZ_CHECK(absl::SimpleAtoi(lit.text, &again) && again == lit.int_value)
          << "integer " << Escaped(lit.text) << " vs " << lit.int_value;
      FUZZ_CHECK(lit.double_value == static_cast<double>(lit.int_value));
      return;
    }
    case Kind::kDecimal:
      FUZZ_CHECK(std::isfinite(lit.double_value)) << Escaped(lit.text);
      FUZZ_CHECK(lit.text.find_first_of(".eE") != std::string::npos)
          << Escaped(lit.text);
      return;
    case Kind::kBool:
      FUZZ_CHECK(lit.text == (lit.bool_value ? "true" : "false"))
          << Escaped(lit.text);
      return;
    case Kind::kIdentifier:
      FUZZ_CHECK(IsIdentifier(lit.text) && !IsKeyword(lit.text) &&
                 lit.text != "true" && lit.text != "false")
          << Escaped(lit.text);
      return;
  }
  FUZZ_CHECK(false) << "unknown literal kind";
}

void CheckTree(const FilterExpr& e, int depth, Shape* shape) {
  if (depth > shape->max_depth) shape->max_depth = depth;
  switch (e.kind) {
    case FilterExpr::Kind::kComparison:
      ++shape->comparisons;
      FUZZ_CHECK(e.children.empty());
      FUZZ_CHECK(IsIdentifier(e.field) && !IsKeyword(e.field))
          << "field " << Escaped(e.field);
      CheckLiteral(e.literal);
      return;
    case FilterExpr::Kind::kAnd:
    case FilterExpr::Kind::kOr:
      FUZZ_CHECK(e.children.size() >= 2) << e.children.size();
      for (const auto& child : e.children) {
        FUZZ_CHECK(child != nullptr);
        FUZZ_CHECK(child->kind != e.kind) << "unflattened AND/OR chain";
        // An operand that is itself AND/OR came from parentheses.
        const bool nested = child->kind == FilterExpr::Kind::kAnd ||
                            child->kind == FilterExpr::Kind::kOr;
        CheckTree(*child, depth + (nested ? 1 : 0), shape);
      }
      return;
    case FilterExpr::Kind::kNot:
      FUZZ_CHECK(e.children.size() == 1) << e.children.size();
      FUZZ_CHECK(e.children[0] != nullptr);
      CheckTree(*e.children[0], depth + 1, shape);
      return;
  }
  FUZZ_CHECK(false) << "unknown node kind";
}

bool SameLiteral(const FilterLiteral& a, const FilterLiteral& b) {
  return a.kind == b.kind && a.text == b.text && a.int_value == b.int_value &&
         std::memcmp(&a.double_value, &b.double_value, sizeof(double)) == 0 &&
         a.bool_value == b.bool_value;
}

// Structural equality, ignoring byte offsets.
bool SameTree(const FilterExpr& a, const FilterExpr& b) {
  if (a.kind != b.kind || a.children.size() != b.children.size()) return false;
  if (a.kind == FilterExpr::Kind::kComparison) {
    return a.field == b.field && a.op == b.op &&
           SameLiteral(a.literal, b.literal);
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!SameTree(*a.children[i], *b.children[i])) return false;
  }
  return true;
}

void CheckRefusal(const absl::Status& status, absl::string_view text) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument)
      << status << " for " << Escaped(text);
  FUZZ_CHECK(absl::StartsWith(status.message(), "filter: "))
      << status << " for " << Escaped(text);
}

}  // namespace
}  // namespace crm::query

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::query;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<const FilterExpr>> parsed = ParseFilter(text);
  absl::StatusOr<std::string> normalized = NormalizeFilter(text);
  FUZZ_CHECK(parsed.ok() == normalized.ok());
  if (!parsed.ok()) {
    CheckRefusal(parsed.status(), text);
    FUZZ_CHECK(parsed.status() == normalized.status());
    return 0;
  }
  FUZZ_CHECK(text.size() <= kMaxFilterBytes) << text.size();
  const bool blank = absl::StripAsciiWhitespace(text).empty();
  if (*parsed == nullptr) {
    FUZZ_CHECK(blank) << "non-blank text parsed as no filter: "
                      << crm::fuzz::Escaped(text);
    FUZZ_CHECK(normalized->empty());
    return 0;
  }
  FUZZ_CHECK(!blank);
  Shape shape;
  CheckTree(**parsed, 0, &shape);
  FUZZ_CHECK(shape.comparisons <= kMaxFilterComparisons) << shape.comparisons;
  FUZZ_CHECK(shape.max_depth <= kMaxFilterDepth) << shape.max_depth;

  const std::string canonical = FormatFilter(**parsed);
  FUZZ_CHECK(*normalized == canonical);
  FUZZ_CHECK(!canonical.empty());
  // The canonical text adds spaces around operators, so it can outgrow the
  // input limit; the limit is on what clients send, and the canonical text
  // is only ever hashed, never parsed again by the server.
  if (canonical.size() > kMaxFilterBytes) return 0;
  absl::StatusOr<std::unique_ptr<const FilterExpr>> again =
      ParseFilter(canonical);
  FUZZ_CHECK(again.ok()) << again.status()
                         << "\n  input: " << crm::fuzz::Escaped(text)
                         << "\n  canonical: " << crm::fuzz::Escaped(canonical);
  FUZZ_CHECK(*again != nullptr);
  FUZZ_CHECK(SameTree(**parsed, **again))
      << "canonical text parses to another tree\n  input: "
      << crm::fuzz::Escaped(text)
      << "\n  canonical: " << crm::fuzz::Escaped(canonical);
  FUZZ_CHECK(FormatFilter(**again) == canonical);
  return 0;
}
