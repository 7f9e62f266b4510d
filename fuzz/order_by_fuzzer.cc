// Fuzz target: the List order_by parameter (query/order_by.h) and the
// keyset SQL built from it (query/keyset.h).
//
// Input: 2 header bytes, then the order_by text.
//   [0] schema (one of the API's resources)
//   [1] field access: bit (i % 8) set refuses the i-th stored field
// Properties:
//   - ParseOrderBy never crashes; a refusal is INVALID_ARGUMENT
//     "order_by: ...".
//   - Accepted: at most kMaxOrderByTerms terms, each a distinct stored field
//     the caller may sort on; a blank text gives {create_time asc} (or {} if
//     create_time is refused) and nothing else does.
//   - NormalizeOrderBy's text parses back to the same terms.
//   - A refused field is reported exactly as an unknown field, and refusing
//     fields never makes a text pass that fails with every field allowed.
//   - OrderBySql names every term and the id; KeysetAfter has one bound
//     parameter per '?', and with the wrong number of key values selects
//     nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_check.h"
#include "model/object_schema.h"
#include "query/keyset.h"
#include "query/order_by.h"

namespace crm::query {
namespace {

using fuzz::Escaped;

const std::vector<const model::ObjectSchema*>& Schemas() {
  static const auto* schemas = new std::vector<const model::ObjectSchema*>(
      model::SchemaRegistry::Default().All());
  return *schemas;
}

bool SameTerms(const std::vector<model::OrderTerm>& a,
               const std::vector<model::OrderTerm>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const model::OrderTerm& x, const model::OrderTerm& y) {
                      return x.column == y.column &&
                             x.descending == y.descending;
                    });
}

void CheckRefusal(const absl::Status& s, absl::string_view text) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument)
      << s << " for " << Escaped(text);
  FUZZ_CHECK(absl::StartsWith(s.message(), "order_by: "))
      << s << " for " << Escaped(text);
}

void CheckTerms(const std::vector<model::OrderTerm>& terms,
                const model::ObjectSchema& schema, const FieldAccess& access,
                absl::string_view text) {
  FUZZ_CHECK(terms.size() <= kMaxOrderByTerms) << terms.size();
  std::set<std::string> seen;
  for (const model::OrderTerm& t : terms) {
    const model::FieldSchema* f = schema.FindField(t.column);
    FUZZ_CHECK(f != nullptr) << t.column;
    FUZZ_CHECK(access(*f)) << "refused field " << t.column << " accepted";
    FUZZ_CHECK(seen.insert(t.column).second) << t.column << " twice";
  }
  const bool blank = absl::StripAsciiWhitespace(text).empty();
  if (blank) {
    const model::FieldSchema* create = schema.FindField("create_time");
    const bool default_allowed = create != nullptr && access(*create);
    FUZZ_CHECK(default_allowed ? SameTerms(terms, {{"create_time", false}})
                               : terms.empty());
  } else {
    FUZZ_CHECK(!terms.empty())
        << "non-blank " << Escaped(text) << " gave no terms";
  }

  // The normalised text parses back to the same terms.
  const std::string normalized = NormalizeOrderBy(terms);
  if (!terms.empty()) {
    absl::StatusOr<std::vector<model::OrderTerm>> again =
        ParseOrderBy(normalized, schema, access);
    FUZZ_CHECK(again.ok()) << again.status() << " for " << normalized;
    FUZZ_CHECK(SameTerms(*again, terms)) << normalized;
    FUZZ_CHECK(NormalizeOrderBy(*again) == normalized);
  }

  // The SQL built from the terms.
  const std::string order_sql = OrderBySql(terms, "t");
  for (const model::OrderTerm& t : terms) {
    FUZZ_CHECK(absl::StrContains(order_sql, model::QuoteIdentifier(t.column)))
        << order_sql;
  }
  FUZZ_CHECK(absl::StrContains(order_sql, "\"id\"")) << order_sql;
  std::vector<model::SqlValue> key;
  for (size_t i = 0; i < terms.size(); ++i) {
    key.emplace_back(static_cast<int64_t>(i));
  }
  const model::SqlFragment after = KeysetAfter(terms, key, "last", "t");
  FUZZ_CHECK(static_cast<size_t>(std::count(after.sql.begin(), after.sql.end(),
                                            '?')) == after.params.size())
      << after.sql;
  key.emplace_back(std::string("one too many"));
  const model::SqlFragment mismatch = KeysetAfter(terms, key, "last");
  FUZZ_CHECK(mismatch.params.empty()) << mismatch.sql;
}

}  // namespace
}  // namespace crm::query

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::query;
  if (size < 2) return 0;
  const auto& schemas = Schemas();
  const crm::model::ObjectSchema& schema = *schemas[data[0] % schemas.size()];
  const uint8_t refused_bits = data[1];
  const absl::string_view text(reinterpret_cast<const char*>(data) + 2,
                               size - 2);
  const auto* first = schema.fields().data();
  const FieldAccess restricted = [&](const crm::model::FieldSchema& f) {
    const size_t i = static_cast<size_t>(&f - first);
    return (refused_bits & (1u << (i % 8))) == 0;
  };

  auto all = ParseOrderBy(text, schema, AllFields());
  auto some = ParseOrderBy(text, schema, restricted);
  if (!all.ok()) {
    CheckRefusal(all.status(), text);
    FUZZ_CHECK(!some.ok()) << "refusing fields made " << Escaped(text)
                           << " pass";
    CheckRefusal(some.status(), text);
    return 0;
  }
  CheckTerms(*all, schema, AllFields(), text);
  if (!some.ok()) {
    CheckRefusal(some.status(), text);
    FUZZ_CHECK(absl::StartsWith(some.status().message(), "order_by: field '") &&
               absl::StrContains(some.status().message(),
                                 "' is unknown or not readable;"))
        << "a refused field is reported differently from an unknown one: "
        << some.status();
    return 0;
  }
  CheckTerms(*some, schema, restricted, text);
  return 0;
}
