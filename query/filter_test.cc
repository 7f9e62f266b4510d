#include "query/filter.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::query {
namespace {

// Parses and returns the canonical text, or "ERROR: <message>".
std::string Canonical(absl::string_view text) {
  absl::StatusOr<std::unique_ptr<const FilterExpr>> expr = ParseFilter(text);
  if (!expr.ok()) {
    EXPECT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << text;
    return absl::StrCat("ERROR: ", expr.status().message());
  }
  if (*expr == nullptr) return "<empty>";
  return FormatFilter(**expr);
}

struct Case {
  const char* text;
  const char* expected;  // canonical text or "ERROR: message"
};

TEST(ParseFilter, AcceptsAndCanonicalises) {
  const Case cases[] = {
      {"", "<empty>"},
      {"  \t\n ", "<empty>"},
      {"a = 1", "a = 1"},
      {"a=1", "a = 1"},
      {"  a   !=   'x'  ", "a != \"x\""},
      {"a < -4.5", "a < -4.5"},
      {"a <= 0", "a <= 0"},
      {"a > 1e3", "a > 1e3"},
      {"a >= -2.5E-3", "a >= -2.5E-3"},
      {"a = true", "a = true"},
      {"a = false", "a = false"},
      {"stage = CLOSED_WON", "stage = CLOSED_WON"},
      {"a = \"q\\\"uote\\\\ 'single'\"", "a = \"q\\\"uote\\\\ 'single'\""},
      {"a = 'it\\'s'", "a = \"it's\""},
      {"a = 'tab\\there\\nnl\\r'", "a = \"tab\\there\\nnl\\r\""},
      {"a = \"Zürich 日本 😀\"", "a = \"Zürich 日本 😀\""},
      {"a = \"\"", "a = \"\""},
      {"a = -9223372036854775808", "a = -9223372036854775808"},
      {"a = 9223372036854775807", "a = 9223372036854775807"},
      // Precedence: NOT > AND > OR.
      {"a = 1 OR b = 2 AND c = 3", "a = 1 OR b = 2 AND c = 3"},
      {"(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"},
      {"NOT a = 1 AND b = 2", "NOT a = 1 AND b = 2"},
      {"NOT (a = 1 AND b = 2)", "NOT (a = 1 AND b = 2)"},
      {"NOT NOT a = 1", "NOT NOT a = 1"},
      // Redundant parentheses and associativity disappear.
      {"((a = 1))", "a = 1"},
      {"(a = 1 AND b = 2) AND c = 3", "a = 1 AND b = 2 AND c = 3"},
      {"a = 1 OR (b = 2 OR c = 3)", "a = 1 OR b = 2 OR c = 3"},
      {"(a = 1) OR (b = 2 AND c = 3)", "a = 1 OR b = 2 AND c = 3"},
      {"update_time >= \"2024-01-01T00:00:00Z\" AND (industry = \"Retail\" OR "
       "NOT billing_country = \"DE\")",
       "update_time >= \"2024-01-01T00:00:00Z\" AND (industry = \"Retail\" OR "
       "NOT billing_country = \"DE\")"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Canonical(c.text), c.expected) << "filter: " << c.text;
  }
}

TEST(ParseFilter, RejectsWithOffsets) {
  const Case cases[] = {
      {"display_name =",
       "ERROR: filter: expected a literal after '=' at offset 14"},
      {"display_name = AND",
       "ERROR: filter: expected a literal after '=' (AND is a keyword) at "
       "offset 15"},
      {"a = (1)", "ERROR: filter: expected a literal after '=' at offset 4"},
      {"a",
       "ERROR: filter: expected an operator (=, !=, <, <=, >, >=) after "
       "'a' at offset 1"},
      {"a 1",
       "ERROR: filter: expected an operator (=, !=, <, <=, >, >=) after "
       "'a' at offset 2"},
      {"a == 1", "ERROR: filter: expected a literal after '=' at offset 3"},
      {"a ! 1",
       "ERROR: filter: '!' must be followed by '=' (use NOT to "
       "negate) at offset 2"},
      {"a = 1 b = 2",
       "ERROR: filter: expected AND, OR or the end of the filter at offset 6"},
      {"a = 1 and b = 2",
       "ERROR: filter: keywords are uppercase: write 'AND' instead of 'and' "
       "at offset 6"},
      {"not a = 1",
       "ERROR: filter: keywords are uppercase: write 'NOT' instead of 'not' "
       "at offset 0"},
      {"(a = 1 or b = 2)",
       "ERROR: filter: keywords are uppercase: write 'OR' instead of 'or' at "
       "offset 7"},
      {"a = 1 AND",
       "ERROR: filter: expected a field name, NOT or '(' (the "
       "filter ends here) at offset 9"},
      {"AND a = 1",
       "ERROR: filter: expected a field name, NOT or '(' at offset 0"},
      {"= 1", "ERROR: filter: expected a field name, NOT or '(' at offset 0"},
      {"(a = 1",
       "ERROR: filter: expected ')' to close the '(' at offset 0 at "
       "offset 6"},
      {"a = 1)", "ERROR: filter: unmatched ')' at offset 5"},
      {"()", "ERROR: filter: expected a field name, NOT or '(' at offset 1"},
      {"a = 'abc",
       "ERROR: filter: unterminated string (missing closing ') at "
       "offset 4"},
      {"a = \"abc\\",
       "ERROR: filter: unterminated string (ends with a "
       "backslash) at offset 4"},
      {"a = \"a\\qb\"",
       "ERROR: filter: unknown escape in string (use \\\\ \\\" "
       "\\' \\n \\r or \\t) at offset 6"},
      {"a = \"\xff\"", "ERROR: filter: string is not valid UTF-8 at offset 5"},
      {"a = \"\xc0\xaf\"",
       "ERROR: filter: string is not valid UTF-8 at offset 5"},
      {"a = \"\xed\xa0\x80\"",
       "ERROR: filter: string is not valid UTF-8 at offset 5"},
      {"a = 1.",
       "ERROR: filter: malformed number: expected a digit after '.' "
       "at offset 6"},
      {"a = 1.2.3", "ERROR: filter: malformed number at offset 4"},
      {"a = 12abc", "ERROR: filter: malformed number at offset 4"},
      {"a = 1e",
       "ERROR: filter: malformed number: expected a digit in the "
       "exponent at offset 6"},
      {"a = 9223372036854775808",
       "ERROR: filter: integer out of range (64-bit) at offset 4"},
      {"a = 1e999", "ERROR: filter: number out of range at offset 4"},
      {"a = -", "ERROR: filter: unexpected character '-' at offset 4"},
      {"a = 1 # comment",
       "ERROR: filter: unexpected character '#' at offset 6"},
      {"a.b = 1", "ERROR: filter: unexpected character '.' at offset 1"},
      {"a = 1 &&", "ERROR: filter: unexpected character '&' at offset 6"},
      {"a = ü",
       "ERROR: filter: unexpected character outside a string at "
       "offset 4"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Canonical(c.text), c.expected) << "filter: " << c.text;
  }
}

TEST(ParseFilter, NulInsideStringIsRefused) {
  // (The table above cannot hold a NUL inside a C string.)
  EXPECT_EQ(Canonical(absl::string_view("a = \"x\0\"", 8)),
            "ERROR: filter: NUL character in string at offset 6");
}

TEST(ParseFilter, LengthLimit) {
  std::string ok = "a = \"" + std::string(kMaxFilterBytes - 6, 'x') + "\"";
  ASSERT_EQ(ok.size(), kMaxFilterBytes);
  EXPECT_EQ(Canonical(ok), ok);
  std::string too_long = ok + " ";
  EXPECT_EQ(Canonical(too_long),
            "ERROR: filter: longer than 2048 bytes (2049 bytes)");
}

TEST(ParseFilter, DepthLimit) {
  auto nested = [](int levels) {
    return std::string(levels, '(') + "a = 1" + std::string(levels, ')');
  };
  EXPECT_EQ(Canonical(nested(32)), "a = 1");
  EXPECT_EQ(Canonical(nested(33)),
            "ERROR: filter: nested deeper than 32 levels (parentheses and "
            "NOT) at offset 32");
  std::string nots;
  for (int i = 0; i < 33; ++i) nots += "NOT ";
  EXPECT_EQ(Canonical(nots + "a = 1"),
            "ERROR: filter: nested deeper than 32 levels (parentheses and "
            "NOT) at offset 128");
  // Mixed: 16 parentheses + 17 NOTs.
  std::string mixed;
  for (int i = 0; i < 16; ++i) mixed += "(NOT ";
  mixed += "NOT a = 1";
  mixed += std::string(16, ')');
  EXPECT_EQ(Canonical(mixed),
            "ERROR: filter: nested deeper than 32 levels (parentheses and "
            "NOT) at offset 80");
  // Siblings do not add up: depth is per path.
  std::string siblings;
  for (int i = 0; i < 40; ++i) {
    if (i > 0) siblings += " OR ";
    siblings += "(a = 1)";
  }
  EXPECT_FALSE(absl::StartsWith(Canonical(siblings), "ERROR")) << siblings;
}

TEST(ParseFilter, ComparisonLimit) {
  auto chain = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += " OR ";
      s += "a=1";
    }
    return s;
  };
  EXPECT_FALSE(absl::StartsWith(Canonical(chain(64)), "ERROR"));
  // The 65th comparison starts at 64 * 7 = 448.
  EXPECT_EQ(Canonical(chain(65)),
            "ERROR: filter: more than 64 comparisons at offset 448");
}

TEST(NormalizeFilter, WhitespaceQuotesAndParenthesesDoNotMatter) {
  absl::StatusOr<std::string> a =
      NormalizeFilter("(industry='Retail')AND  NOT(employee_count>10)");
  absl::StatusOr<std::string> b =
      NormalizeFilter("industry = \"Retail\" AND NOT employee_count > 10");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*NormalizeFilter("   "), "");
  EXPECT_FALSE(NormalizeFilter("a =").ok());
}

TEST(FormatFilter, CanonicalTextParsesToTheSameCanonicalText) {
  const char* filters[] = {
      "NOT (a = 1 OR b = 'x\\\\y\\\"') AND (c = 2 OR NOT d = e)",
      "a = 1 OR b = 2 AND (c = 3 OR d = 4) AND NOT NOT e = 5",
      "NOT (NOT (a = 1 AND b = 2) OR c = 3)",
  };
  for (const char* f : filters) {
    std::string once = Canonical(f);
    EXPECT_EQ(Canonical(once), once) << f;
  }
}

}  // namespace
}  // namespace crm::query
