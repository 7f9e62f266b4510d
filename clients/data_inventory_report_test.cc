// The markdown and CSV of `crmctl privacy inventory`
// (clients/data_inventory_report.h): totals from the answer, one section
// and table per object, escaped cells, flag texts, one CSV row per field.
#include "clients/data_inventory_report.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

crm::v1::DataInventory Sample() {
  crm::v1::DataInventory inv;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    policy_version: 17
    generate_time { seconds: 1800000000 }
    sources_registered: true
    sources { name: "dataSources/web" display_name: "Web | forms"
              kind: WEB_FORMS service: "services/marketing"
              purpose: "sign-ups\nand more" objects: "leads"
              consent_objects: "leads" }
    sources { name: "interactions:services/gw" kind: INTERACTIONS
              service: "services/gw" implicit: true objects: "leads" }
    consent_purposes: "marketing"
    objects {
      object: "leads" singular: "lead" consent_subject: true
      consent_purposes: "marketing" consent_sources: "dataSources/web"
      retention_rules { name: "stale" object: "leads" max_age_days: 730
                        action: ANONYMIZE fields: "email" }
      erasure_rule { object: "leads" action: ANONYMIZE fields: "email" }
      fields { name: "create_time" type: "timestamp" server_set: true
               erasure: ERASURE_KEEPS_FIELD
               retention { rule: "stale" max_age_days: 730 action: ANONYMIZE
                           effect: KEPT } }
      fields { name: "email" type: "string" personal: true
               consent_channel: "email" purposes: "sign-ups"
               sources: "dataSources/web"
               retention { rule: "stale" max_age_days: 730 action: ANONYMIZE
                           effect: ANONYMIZED }
               erasure: ERASURE_ANONYMIZES_FIELD }
      fields { name: "secret" type: "string" personal: true sensitive: true
               encrypted_at_rest: true blind_index: true
               sources: "interactions:services/gw"
               erasure: ERASURE_KEEPS_FIELD
               flags: NO_PURPOSE flags: PERSONAL_KEPT_ON_ERASURE
               flags: PERSONAL_NO_RETENTION }
      personal_fields: 2 flagged_fields: 1
    }
    total_fields: 3 personal_fields: 2 encrypted_fields: 1 flagged_fields: 1
  )pb", &inv));
  return inv;
}

TEST(DataInventoryMarkdown, TotalsSectionsRowsAndEscaping) {
  const std::string md = DataInventoryMarkdown(Sample());
  EXPECT_THAT(md, HasSubstr("Generated 2027-01-15T08:00:00Z from policy "
                            "version 17. Objects: 1.\n"
                            "Fields: 3; personal: 2; encrypted at rest: 1; "
                            "flagged: 1.\n"));
  EXPECT_THAT(md, HasSubstr("| Web \\| forms (dataSources/web) | web forms | "
                            "services/marketing | sign-ups and more | leads "
                            "| leads |"));
  EXPECT_THAT(md, HasSubstr("| interactions:services/gw | interactions, "
                            "implicit | services/gw | (no purpose recorded) "
                            "| leads | - |"));
  EXPECT_THAT(md, HasSubstr("\n## leads\n\nFields: 3; personal: 2; "
                            "encrypted at rest: 1; flagged: 1.\n"));
  EXPECT_THAT(md, HasSubstr("- Retention `stale`: anonymize records not "
                            "updated for 730 days (email).\n"));
  EXPECT_THAT(md, HasSubstr("- Erasure on request: anonymize email.\n"));
  EXPECT_THAT(md, HasSubstr("| create_time | no | set by the CRM (record "
                            "keeping) | CRM | plain | stale: kept | kept | - |"));
  EXPECT_THAT(md, HasSubstr("| email | yes (channel email) | sign-ups | "
                            "dataSources/web | plain | stale: emptied after "
                            "730 days without update | emptied | - |"));
  EXPECT_THAT(md, HasSubstr("| secret | yes (sensitive) | - | "
                            "interactions:services/gw | encrypted; lookup by "
                            "blind index | - | kept | no purpose recorded; "
                            "personal, kept on erasure; personal, no "
                            "retention limit |"));
  EXPECT_THAT(md, Not(HasSubstr("sign-ups\nand")));
}

TEST(DataInventoryMarkdown, NoSourcesRegisteredIsSaid) {
  crm::v1::DataInventory inv = Sample();
  inv.set_sources_registered(false);
  inv.clear_sources();
  EXPECT_THAT(DataInventoryMarkdown(inv),
              HasSubstr("No data source is registered"));
}

TEST(DataInventoryCsv, OneRowPerFieldWithResolvedSources) {
  const std::string csv = DataInventoryCsv(Sample());
  std::vector<std::string> lines = absl::StrSplit(csv, "\r\n", absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "object,field,type,server_set,personal,sensitive,"
            "encrypted_at_rest,blind_index,consent_channel,purposes,"
            "consent_purposes,sources,retention,erasure,flags");
  EXPECT_EQ(lines[2],
            "leads,email,string,no,yes,no,no,no,email,sign-ups,,"
            "\"dataSources/web (web forms, services/marketing)\","
            "stale: emptied after 730 days without update,emptied,");
}

TEST(InventoryFlagText, EveryFlagHasAText) {
  for (int f = crm::v1::InventoryFlag_MIN + 1; f <= crm::v1::InventoryFlag_MAX;
       ++f) {
    if (!crm::v1::InventoryFlag_IsValid(f)) continue;
    EXPECT_THAT(InventoryFlagText(static_cast<crm::v1::InventoryFlag>(f)),
                Not(HasSubstr("flag "))) << f;
  }
}

}  // namespace
}  // namespace crm::client
