#include "query/order_by.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "query/test_schema.h"

namespace crm::query {
namespace {

const model::ObjectSchema& Accounts() {
  return *model::SchemaRegistry::Default().Find("accounts");
}

// Normalised terms or "ERROR: message".
std::string Parse(absl::string_view text, const model::ObjectSchema& schema,
                  const FieldAccess& access = AllFields()) {
  absl::StatusOr<std::vector<model::OrderTerm>> terms =
      ParseOrderBy(text, schema, access);
  if (!terms.ok()) return absl::StrCat("ERROR: ", terms.status().message());
  return NormalizeOrderBy(*terms);
}

TEST(ParseOrderBy, Table) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"", "create_time asc"},
      {"   ", "create_time asc"},
      {"display_name", "display_name asc"},
      {"update_time desc, display_name", "update_time desc,display_name asc"},
      {"  update_time   DESC ,display_name ASC ",
       "update_time desc,display_name asc"},
      {"employee_count desc,annual_revenue,industry asc,billing_city desc",
       "employee_count desc,annual_revenue asc,industry asc,billing_city desc"},
      {"a,b,c,d,e",
       "ERROR: order_by: field 'a' is unknown or not readable; "
       "see the API documentation for the sortable fields"},
      {"employee_count,annual_revenue,industry,billing_city,phone",
       "ERROR: order_by: at most 4 fields may be given"},
      {"display_name, display_name desc",
       "ERROR: order_by: field 'display_name' appears twice"},
      {"display_name descending",
       "ERROR: order_by: expected 'asc' or 'desc' after 'display_name', got "
       "'descending'"},
      {"display_name desc x",
       "ERROR: order_by: expected 'field' or 'field desc', got 'display_name "
       "desc x'"},
      {"display_name,",
       "ERROR: order_by: empty term (two commas, or a comma "
       "at either end)"},
      {",display_name",
       "ERROR: order_by: empty term (two commas, or a comma "
       "at either end)"},
      {"name",
       "ERROR: order_by: field 'name' is unknown or not readable; see "
       "the API documentation for the sortable fields"},
      {"id desc",
       "ERROR: order_by: field 'id' is unknown or not readable; see "
       "the API documentation for the sortable fields"},
      {"Display_Name",
       "ERROR: order_by: field 'Display_Name' is unknown or "
       "not readable; see the API documentation for the "
       "sortable fields"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Parse(c.text, Accounts()), c.expected) << "order_by: " << c.text;
  }
}

TEST(ParseOrderBy, HiddenFieldsReadLikeUnknownOnes) {
  const model::ObjectSchema& w = testing::WidgetSchema();
  FieldAccess no_secrets = [](const model::FieldSchema& f) {
    return !f.sensitive;
  };
  EXPECT_EQ(Parse("label, secret desc", w, no_secrets),
            "ERROR: order_by: field 'secret' is unknown or not readable; see "
            "the API documentation for the sortable fields");
  EXPECT_EQ(Parse("label, secrets desc", w, no_secrets),
            "ERROR: order_by: field 'secrets' is unknown or not readable; see "
            "the API documentation for the sortable fields");
  // Readable but encrypted at rest: refused, naming it.
  EXPECT_EQ(Parse("label, secret desc", w, AllFields()),
            "ERROR: order_by: widgets.secret is encrypted at rest and cannot "
            "be filtered or sorted on");
  const model::ObjectSchema& contacts =
      *model::SchemaRegistry::Default().Find("contacts");
  for (const char* field : {"personal_phone", "personal_email"}) {
    EXPECT_EQ(Parse(field, contacts, AllFields()),
              absl::StrCat("ERROR: order_by: contacts.", field,
                           " is encrypted at rest and cannot be filtered or "
                           "sorted on"));
  }
  // Without create_time access the default order is by id only.
  FieldAccess no_create_time = [](const model::FieldSchema& f) {
    return f.name != "create_time";
  };
  EXPECT_EQ(Parse("", w, no_create_time), "");
  EXPECT_EQ(Parse("", w, FieldAccess()), "");
}

}  // namespace
}  // namespace crm::query
