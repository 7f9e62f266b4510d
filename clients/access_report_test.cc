// The report formats of clients/access_report.h: CSV quoting and formula
// neutralising, HTML escaping of every server value, and the page's ids.
#include "clients/access_report.h"

#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CsvField, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
}

TEST(CsvField, NeutralisesSpreadsheetFormulas) {
  // A username is chosen by whoever created the user; a reviewer opens the
  // CSV in a spreadsheet.
  EXPECT_EQ(CsvField("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(CsvField("+1"), "'+1");
  EXPECT_EQ(CsvField("-1"), "'-1");
  EXPECT_EQ(CsvField("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(CsvField("\tx"), "'\tx");
  EXPECT_EQ(CsvField("a=b"), "a=b");
}

crm::v1::AccessMatrixRow SampleRow() {
  crm::v1::AccessMatrixRow row;
  row.set_user("users/bob");
  row.set_username("bob");
  row.set_profile("profiles/sales-rep");
  row.set_role("roles/sales-rep");
  row.set_active(true);
  auto* c = row.add_objects();
  c->set_object("accounts");
  c->set_read(true);
  c->set_edit(true);
  c->set_read_scope(crm::v1::SCOPE_GRANTED);
  c->set_edit_scope(crm::v1::SCOPE_GRANTED);
  c->set_owner_users(3);
  c->set_share_keys(4);
  c->set_criteria_rules(1);
  c->set_restriction_rules(2);
  auto* d = row.add_objects();
  d->set_object("cases");
  d->set_read_scope(crm::v1::SCOPE_NONE);
  d->set_edit_scope(crm::v1::SCOPE_NONE);
  auto* f = row.add_sensitive_fields();
  f->set_field("contacts.personal_phone");
  f->set_read(true);
  return row;
}

TEST(AccessMatrixCsv, HeaderAndRowHaveTheSameColumns) {
  const crm::v1::AccessMatrixRow row = SampleRow();
  const std::string header = AccessMatrixCsvHeader(row);
  const std::string line = AccessMatrixCsvRow(row);
  EXPECT_EQ(header,
            "user,username,profile,role,active,accounts permissions,accounts "
            "read scope,accounts edit scope,accounts read grants,cases "
            "permissions,cases read scope,cases edit scope,cases read "
            "grants,contacts.personal_phone\r\n");
  EXPECT_EQ(line,
            "users/bob,bob,profiles/sales-rep,roles/sales-rep,true,read "
            "edit,granted,granted,owners=3 share_keys=4 criteria_rules=1 "
            "restriction_rules=2,none,none,none,,read\r\n");
  std::vector<std::string> h = absl::StrSplit(header, ',');
  std::vector<std::string> l = absl::StrSplit(line, ',');
  EXPECT_EQ(h.size(), l.size());
}

TEST(AccessReviewHtml, EscapesEveryServerValue) {
  crm::v1::AccessReviewReport r;
  r.set_total_users(2);
  r.set_active_users(1);
  r.set_dormant_days(90);
  r.set_changes_days(30);
  auto* u = r.add_privileged_users();
  u->set_user("users/mallory");
  u->set_username("mallory");
  u->set_display_name("<script>alert(1)</script>");
  u->set_active(true);
  auto* g = u->add_privileges();
  g->set_privilege("VIEW_ALL_DATA");
  g->add_sources("profile:profiles/\"x\" onmouseover='y'");
  auto* p = r.add_profiles();
  p->set_profile("profiles/admin");
  p->set_display_name("Admins & <friends>");
  p->set_active_users(1);
  p->set_inactive_users(1);
  auto* d = r.add_dormant_users();
  d->set_user("users/old");
  auto* e = r.add_policy_changes();
  e->set_sequence(7);
  e->set_action("policy.update");
  e->set_resource("sharingRules/retail");
  auto* c = e->add_changes();
  c->set_field("criteria");
  c->set_values_recorded(true);
  c->set_before("\"industry = \\\"Retail\\\"\"");
  c->set_after("\"</pre><img src=x>\"");

  const std::string html = AccessReviewHtml(r);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<friends>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("Admins &amp; &lt;friends&gt;"));
  EXPECT_THAT(html, HasSubstr("&quot;x&quot; onmouseover=&#39;y&#39;"));
  // Numbers a test reads back from the rendered page.
  EXPECT_THAT(html, HasSubstr("id=\"total-users\">2<"));
  EXPECT_THAT(html, HasSubstr("id=\"active-users\">1<"));
  EXPECT_THAT(html, HasSubstr("id=\"privileged-count\">1<"));
  EXPECT_THAT(html, HasSubstr("id=\"dormant-count\">1<"));
  EXPECT_THAT(html, HasSubstr("id=\"changes-count\">1<"));
  EXPECT_THAT(html, HasSubstr("data-profile=\"profiles/admin\""));
  EXPECT_THAT(html, HasSubstr("data-sequence=\"7\""));
  // Self-contained: no script, no external resource.
  for (const char* tag : {"<script", "<link", "<img", "<iframe", "<a "}) {
    EXPECT_THAT(html, Not(HasSubstr(tag))) << tag;
  }
  EXPECT_THAT(html, HasSubstr("Content-Security-Policy"));
}

}  // namespace
}  // namespace crm::client
