#include "query/checked_filter.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "query/test_schema.h"

namespace crm::query {
namespace {

using model::SqlValue;

const model::ObjectSchema& Accounts() {
  return *model::SchemaRegistry::Default().Find("accounts");
}
const model::ObjectSchema& Opportunities() {
  return *model::SchemaRegistry::Default().Find("opportunities");
}
const model::ObjectSchema& Widgets() { return testing::WidgetSchema(); }

// "SQL | params" or "ERROR: message".
std::string Sql(absl::string_view filter, const model::ObjectSchema& schema,
                const FieldAccess& access = AllFields()) {
  absl::StatusOr<CheckedFilter> checked =
      ParseAndCheckFilter(filter, schema, access);
  if (!checked.ok()) return absl::StrCat("ERROR: ", checked.status().message());
  model::SqlFragment sql = ToSql(*checked);
  return absl::StrCat(
      sql.sql, " | ",
      absl::StrJoin(sql.params, ", ", [](std::string* out, const SqlValue& v) {
        out->append(model::DebugString(v));
      }));
}

struct Case {
  const model::ObjectSchema& schema;
  const char* filter;
  const char* expected;
};

TEST(CheckFilter, ConvertsLiteralsToColumnValues) {
  const Case cases[] = {
      {Accounts(), "", " | "},
      {Accounts(), "industry = 'Retail'", "\"industry\" = ? | 'Retail'"},
      {Accounts(), "employee_count >= 10", "\"employee_count\" >= ? | 10"},
      {Accounts(), "employee_count > 2.5",
       "CAST(\"employee_count\" AS DOUBLE PRECISION) > ? | 2.5"},
      {Accounts(), "annual_revenue < 100", "\"annual_revenue\" < ? | 100"},
      {Accounts(), "annual_revenue < -1.25", "\"annual_revenue\" < ? | -1.25"},
      {Accounts(), "create_time >= \"2024-01-01T00:00:00Z\"",
       "\"create_time\" >= ? | 1704067200000000"},
      {Accounts(), "create_time < '2024-01-01T01:00:00.000001+01:00'",
       "\"create_time\" < ? | 1704067200000001"},
      {Accounts(), "create_time = '1970-01-01T00:00:00Z'",
       "\"create_time\" = ? | 0"},
      {Accounts(), "create_time > '0001-01-01T00:00:00Z'",
       "\"create_time\" > ? | -62135596800000000"},
      {Accounts(), "create_time < '9999-12-31T23:59:59.999999Z'",
       "\"create_time\" < ? | 253402300799999999"},
      {Opportunities(), "stage = CLOSED_WON", "\"stage\" = ? | 'CLOSED_WON'"},
      {Opportunities(), "stage != 'PROSPECTING'",
       "\"stage\" != ? | 'PROSPECTING'"},
      {Widgets(), "flag = true", "\"flag\" = ? | 1"},
      {Widgets(), "flag != false", "\"flag\" != ? | 0"},
      {Accounts(),
       "NOT (industry = 'a' OR industry = 'b') AND NOT employee_count = 1",
       "(NOT ((\"industry\" = ?) OR (\"industry\" = ?))) AND (NOT "
       "(\"employee_count\" = ?)) | 'a', 'b', 1"},
      // Values are always parameters, never SQL text.
      {Accounts(), "industry = \"x'); DROP TABLE accounts; --\"",
       "\"industry\" = ? | 'x'); DROP TABLE accounts; --'"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Sql(c.filter, c.schema), c.expected) << "filter: " << c.filter;
  }
}

TEST(CheckFilter, RefusesTypeErrors) {
  const Case cases[] = {
      {Accounts(), "industry = 5",
       "ERROR: filter: field 'industry' is a string; quote the value, e.g. "
       "industry = \"5\" at offset 11"},
      {Accounts(), "industry = Retail",
       "ERROR: filter: field 'industry' is a string; quote the value, e.g. "
       "industry = \"Retail\" at offset 11"},
      {Accounts(), "employee_count = '5'",
       "ERROR: filter: field 'employee_count' is an integer; compare it with "
       "a number such as 42 at offset 17"},
      {Accounts(), "employee_count = true",
       "ERROR: filter: field 'employee_count' is an integer; compare it with "
       "a number such as 42 at offset 17"},
      {Accounts(), "annual_revenue = '1'",
       "ERROR: filter: field 'annual_revenue' is a number; compare it with a "
       "number such as 4.5 at offset 17"},
      {Widgets(), "flag = 1",
       "ERROR: filter: field 'flag' is a boolean; compare it with true or "
       "false at offset 7"},
      {Widgets(), "flag < true",
       "ERROR: filter: field 'flag' is a boolean; only = and != are allowed "
       "at offset 7"},
      {Opportunities(), "stage = WON",
       "ERROR: filter: 'WON' is not a value of field 'stage'; valid values "
       "are STAGE_UNSPECIFIED, PROSPECTING, QUALIFICATION, PROPOSAL, "
       "NEGOTIATION, CLOSED_WON, CLOSED_LOST at offset 8"},
      {Opportunities(), "stage = closed_won",
       "ERROR: filter: 'closed_won' is not a value of field 'stage'; valid "
       "values are STAGE_UNSPECIFIED, PROSPECTING, QUALIFICATION, PROPOSAL, "
       "NEGOTIATION, CLOSED_WON, CLOSED_LOST at offset 8"},
      {Opportunities(), "stage = 5",
       "ERROR: filter: field 'stage' is an enum; compare it with one of "
       "STAGE_UNSPECIFIED, PROSPECTING, QUALIFICATION, PROPOSAL, NEGOTIATION, "
       "CLOSED_WON, CLOSED_LOST at offset 8"},
      {Opportunities(), "stage > PROSPECTING",
       "ERROR: filter: field 'stage' is an enum; only = and != are allowed at "
       "offset 8"},
      {Accounts(), "create_time > 5",
       "ERROR: filter: field 'create_time' is a timestamp; compare it with an "
       "RFC 3339 string such as \"2024-01-01T00:00:00Z\" at offset 14"},
      {Accounts(), "create_time > '2024-01-01'",
       "ERROR: filter: '2024-01-01' is not an RFC 3339 timestamp such as "
       "\"2024-01-01T00:00:00Z\" at offset 14"},
      {Accounts(), "create_time > '2024-01-01T00:00:00'",
       "ERROR: filter: '2024-01-01T00:00:00' is not an RFC 3339 timestamp "
       "such as \"2024-01-01T00:00:00Z\" at offset 14"},
      {Accounts(), "create_time > 'infinite-future'",
       "ERROR: filter: 'infinite-future' is not an RFC 3339 timestamp such as "
       "\"2024-01-01T00:00:00Z\" at offset 14"},
      {Accounts(), "create_time > '2024-01-01T00:00:00.0000001Z'",
       "ERROR: filter: timestamp has more precision than microseconds at "
       "offset 14"},
      {Accounts(), "create_time > '10000-01-01T00:00:00Z'",
       "ERROR: filter: timestamp outside years 0001..9999 at offset 14"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Sql(c.filter, c.schema), c.expected) << "filter: " << c.filter;
  }
}

TEST(CheckFilter, UnknownAndUnreadableFieldsGiveTheSameMessage) {
  const std::string unknown = Sql("nonexistent = 'x'", Accounts(), AllFields());
  EXPECT_EQ(unknown,
            "ERROR: filter: field 'nonexistent' is unknown or not readable at "
            "offset 0; see the API documentation for the filterable fields");
  // name, etag and id are not stored fields.
  for (const char* f :
       {"name = 'x'", "etag = 'x'", "id = 'x'", "version = 1"}) {
    EXPECT_TRUE(
        absl::StrContains(Sql(f, Accounts()), "is unknown or not readable"))
        << f;
  }
  // A field the policy hides reads exactly like a missing one.
  FieldAccess no_secrets = [](const model::FieldSchema& f) {
    return !f.sensitive;
  };
  EXPECT_EQ(Sql("label = 'x' OR secret = 'x'", Widgets(), no_secrets),
            "ERROR: filter: field 'secret' is unknown or not readable at "
            "offset 15; see the API documentation for the filterable fields");
  EXPECT_EQ(Sql("label = 'x' OR secrets = 'x'", Widgets(), no_secrets),
            "ERROR: filter: field 'secrets' is unknown or not readable at "
            "offset 15; see the API documentation for the filterable fields");
  // No access function at all: deny.
  EXPECT_TRUE(absl::StrContains(Sql("label = 'x'", Widgets(), FieldAccess()),
                                "is unknown or not readable"));
  EXPECT_EQ(Sql("label = 'x'", Widgets(), no_secrets), "\"label\" = ? | 'x'");
}

// The examples in docs/filter-language.md, kept honest.
TEST(CheckFilter, DocumentationExamples) {
  const Case ok[] = {
      {Accounts(), "industry = \"Retail\"", ""},
      {Accounts(), "employee_count >= 100 AND billing_country = \"DE\"", ""},
      {Accounts(),
       "update_time >= \"2024-01-01T00:00:00Z\" AND (industry = \"Retail\" "
       "OR NOT billing_country = \"DE\")",
       ""},
      {Opportunities(), "stage = CLOSED_WON OR stage = 'CLOSED_LOST'", ""},
      {Accounts(), "annual_revenue > 1e6", ""},
      {Accounts(), "display_name = 'O\\'Brien & Sons'", ""},
  };
  for (const Case& c : ok) {
    EXPECT_FALSE(absl::StartsWith(Sql(c.filter, c.schema), "ERROR"))
        << c.filter << ": " << Sql(c.filter, c.schema);
  }
  const Case errors[] = {
      {Accounts(), "(industry = \"x\"",
       "ERROR: filter: expected ')' to close the '(' at offset 0 at offset 15"},
      {Accounts(), "industry = 'x')",
       "ERROR: filter: unmatched ')' at offset 14"},
      {Accounts(), "industry = 'x",
       "ERROR: filter: unterminated string (missing closing ') at offset 11"},
      {Accounts(), "colour = \"red\"",
       "ERROR: filter: field 'colour' is unknown or not readable at offset 0; "
       "see the API documentation for the filterable fields"},
  };
  for (const Case& c : errors) {
    EXPECT_EQ(Sql(c.filter, c.schema), c.expected) << c.filter;
  }
  FieldAccess no_sensitive = [](const model::FieldSchema& f) {
    return !f.sensitive;
  };
  EXPECT_EQ(
      Sql("personal_phone = '1'",
          *model::SchemaRegistry::Default().Find("contacts"), no_sensitive),
      "ERROR: filter: field 'personal_phone' is unknown or not readable "
      "at offset 0; see the API documentation for the filterable fields");
}

TEST(ToSql, QualifiesColumnsWithAnAlias) {
  absl::StatusOr<CheckedFilter> f = ParseAndCheckFilter(
      "industry = 'x' AND employee_count < 1.5", Accounts(), AllFields());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(ToSql(*f, "a").sql,
            "(\"a\".\"industry\" = ?) AND (CAST(\"a\".\"employee_count\" AS "
            "DOUBLE PRECISION) < ?)");
  EXPECT_EQ(f->collection(), "accounts");
}

TEST(Matches, EvaluatesInMemory) {
  const model::ObjectSchema& w = Widgets();
  // flag, count, ratio, label, color, due_time, secret after the standard
  // create_time, update_time, owner, source.
  model::Record r;
  r.id = "w1";
  r.values = {int64_t{0},
              int64_t{0},
              std::string("u"),
              std::string("s"),
              int64_t{1},
              int64_t{7},
              2.5,
              std::string("Äpfel"),
              std::string("RED"),
              int64_t{1704067200000000},
              std::string("hush")};
  ASSERT_EQ(r.values.size(), w.fields().size());
  struct MatchCase {
    const char* filter;
    bool expected;
  };
  const MatchCase cases[] = {
      {"", true},
      {"flag = true", true},
      {"flag = false", false},
      {"count = 7 AND ratio > 2", true},
      {"count > 6.5", true},
      {"count > 7.5", false},
      {"ratio = 2.5", true},
      {"label > 'Z'", true},  // 'Ä' is 0xC3 0x84: after ASCII bytewise
      {"label = 'äpfel'", false},
      {"color = RED", true},
      {"color != RED OR NOT count = 7", false},
      {"due_time = '2024-01-01T00:00:00Z'", true},
      {"due_time > '2023-12-31T23:59:59.999999Z'", true},
      {"NOT (flag = true AND label = 'x')", true},
  };
  for (const MatchCase& c : cases) {
    absl::StatusOr<CheckedFilter> f =
        ParseAndCheckFilter(c.filter, w, AllFields());
    ASSERT_TRUE(f.ok()) << c.filter << ": " << f.status();
    EXPECT_EQ(Matches(*f, r), c.expected) << c.filter;
  }
  // Missing or mistyped values are SQL NULL: neither a comparison nor its
  // negation matches.
  model::Record broken = r;
  broken.values[5] = std::monostate();  // count
  for (const char* filter : {"count = 7", "NOT count = 7", "count != 7"}) {
    absl::StatusOr<CheckedFilter> f =
        ParseAndCheckFilter(filter, w, AllFields());
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(Matches(*f, broken)) << filter;
  }
  absl::StatusOr<CheckedFilter> f =
      ParseAndCheckFilter("count = 1 OR flag = true", w, AllFields());
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(Matches(*f, broken));  // unknown OR true = true
  model::Record short_record;
  EXPECT_FALSE(Matches(*f, short_record));
}

}  // namespace
}  // namespace crm::query

namespace crm::query {
namespace {

const model::ObjectSchema& ContactsSchema() {
  return *model::SchemaRegistry::Default().Find("contacts");
}

// A stand-in for the store's keyed index: "idx(" + collection.field + ":"
// + normalized + ")".
BlindIndexer FakeIndexer() {
  return [](const model::ObjectSchema& schema, const model::FieldSchema& f,
            absl::string_view normalized) -> absl::StatusOr<std::string> {
    return absl::StrCat("idx(", schema.collection(), ".", f.name, ":",
                        normalized, ")");
  };
}

std::string SqlWithIndexer(absl::string_view filter,
                           const BlindIndexer* indexer) {
  absl::StatusOr<CheckedFilter> checked =
      ParseAndCheckFilter(filter, ContactsSchema(), AllFields(), indexer);
  if (!checked.ok()) return absl::StrCat("ERROR: ", checked.status().message());
  model::SqlFragment sql = ToSql(*checked);
  return absl::StrCat(
      sql.sql, " | ",
      absl::StrJoin(sql.params, ", ", [](std::string* out, const SqlValue& v) {
        out->append(model::DebugString(v));
      }));
}

TEST(CheckFilter, EncryptedFieldsAreRefusedNamingTheField) {
  const BlindIndexer indexer = FakeIndexer();
  for (const BlindIndexer* with : {static_cast<const BlindIndexer*>(nullptr),
                                   &indexer}) {
    EXPECT_EQ(SqlWithIndexer("personal_phone = '1'", with),
              "ERROR: filter: contacts.personal_phone is encrypted at rest "
              "and cannot be filtered or sorted on (at offset 0)");
    EXPECT_EQ(SqlWithIndexer("last_name = 'x' OR personal_phone > '1'", with),
              "ERROR: filter: contacts.personal_phone is encrypted at rest "
              "and cannot be filtered or sorted on (at offset 19)");
  }
  // Without the store's indexer the blind-indexed field is refused too.
  EXPECT_EQ(SqlWithIndexer("personal_email = 'a@b.c'", nullptr),
            "ERROR: filter: contacts.personal_email is encrypted at rest and "
            "cannot be filtered or sorted on (at offset 0)");
  // The test schema's sensitive field, readable: encrypted, not unknown.
  EXPECT_EQ(Sql("secret = 'x'", Widgets()),
            "ERROR: filter: widgets.secret is encrypted at rest and cannot "
            "be filtered or sorted on (at offset 0)");
}

TEST(CheckFilter, BlindIndexEqualityComparesTheIndexColumn) {
  const BlindIndexer indexer = FakeIndexer();
  EXPECT_EQ(SqlWithIndexer("personal_email = ' Ada@Example.ORG '", &indexer),
            "\"personal_email_bidx\" = ? | "
            "'idx(contacts.personal_email:ada@example.org)'");
  EXPECT_EQ(SqlWithIndexer("last_name = 'L' AND personal_email != 'x@y.z'",
                           &indexer),
            "(\"last_name\" = ?) AND (\"personal_email_bidx\" != ?) | 'L', "
            "'idx(contacts.personal_email:x@y.z)'");
  for (const char* op : {"<", "<=", ">", ">="}) {
    EXPECT_EQ(
        SqlWithIndexer(absl::StrCat("personal_email ", op, " 'a'"), &indexer),
        "ERROR: filter: contacts.personal_email is encrypted at rest: only = "
        "and != filters work on it (through its blind index) at offset 0")
        << op;
  }
  EXPECT_TRUE(absl::StrContains(
      SqlWithIndexer("personal_email = 3", &indexer), "is a string"));
  // An unreadable field stays unknown, blind index or not.
  FieldAccess no_sensitive = [](const model::FieldSchema& f) {
    return !f.sensitive;
  };
  absl::StatusOr<CheckedFilter> hidden = ParseAndCheckFilter(
      "personal_email = 'a'", ContactsSchema(), no_sensitive, &indexer);
  EXPECT_TRUE(absl::StrContains(hidden.status().message(),
                                "unknown or not readable"))
      << hidden.status();
}

TEST(Matches, BlindIndexEqualityComparesNormalisedPlaintext) {
  const BlindIndexer indexer = FakeIndexer();
  const model::ObjectSchema& schema = ContactsSchema();
  model::Record r;
  r.id = "c1";
  for (const auto& f : schema.fields()) {
    r.values.push_back(f.kind == model::FieldKind::kString
                           ? SqlValue(std::string())
                           : SqlValue(int64_t{0}));
  }
  r.values[schema.FieldIndex("personal_email")] =
      std::string("Ada@Example.org");
  auto match = [&](const char* text) {
    auto f = ParseAndCheckFilter(text, schema, AllFields(), &indexer);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() && Matches(*f, r);
  };
  EXPECT_TRUE(match("personal_email = 'ada@example.org'"));
  EXPECT_TRUE(match("personal_email = '  ADA@EXAMPLE.ORG'"));
  EXPECT_FALSE(match("personal_email = 'ada@example.com'"));
  EXPECT_TRUE(match("personal_email != 'ada@example.com'"));
  EXPECT_FALSE(match("personal_email != 'ADA@example.org'"));
}

}  // namespace
}  // namespace crm::query
