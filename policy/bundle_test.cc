#include "policy/bundle.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/snapshot.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const model::SchemaRegistry& Schemas() {
  return model::SchemaRegistry::Default();
}

// A small valid bundle with every kind, written as an admin would.
BundleFiles ValidFiles() {
  return {
      {"orgWideDefaults/accounts.textproto",
       "internal_access: PRIVATE\ngrant_access_using_hierarchies: true\n"},
      {"orgWideDefaults/contacts.textproto",
       "internal_access: CONTROLLED_BY_PARENT\n"},
      {"roles/ceo.textproto", "display_name: \"CEO\"\n"},
      {"roles/vp.textproto",
       "display_name: \"VP Sales\"\nparent: \"roles/ceo\"\n"},
      {"roles/rep.textproto", "display_name: \"Rep\"\nparent: \"roles/vp\"\n"},
      {"groups/emea.textproto",
       "display_name: \"EMEA\"\n"
       "members { role_and_subordinates: \"roles/vp\" }\n"
       "members { user: \"users/bob\" }\n"},
      {"profiles/sales.textproto",
       "display_name: \"Sales Rep\"\n"
       "allowed_ip_ranges: \"10.0.0.0/8\"\n"
       "allowed_ip_ranges: \"2001:db8::/32\"\n"
       "allowed_countries: \"DE\"\n"
       "login_hours: \"mon-fri 08:00-18:00\"\n"
       "login_time_zone: \"Europe/Berlin\"\n"},
      {"profiles/admins.textproto",
       "display_name: \"Administrateurs \xC3\xA9t\xC3\xA9\"\n"
       "system_permissions: MANAGE_POLICY\n"
       "system_permissions: MANAGE_USERS\n"},
      {"permissionSets/sales.textproto",
       "display_name: \"Sales\"\n"
       "object_permissions {\n  object: \"accounts\"\n  read: true\n"
       "  create: true\n  edit: true\n}\n"
       "field_permissions {\n  object: \"contacts\"\n"
       "  field: \"personal_phone\"\n  read: true\n}\n"
       "assignees: \"profiles/sales\"\n"
       "assignees: \"users/alice\"\n"
       "assignees: \"services/billing\"\n"},
      {"sharingRules/retail.textproto",
       "display_name: \"Retail\"\nobject: \"accounts\"\n"
       "criteria: \"industry = \\\"Retail\\\"\"\n"
       "shared_with { group: \"groups/emea\" }\naccess: READ\n"},
      {"sharingRules/vp-reps.textproto",
       "object: \"accounts\"\nowned_by { role: \"roles/rep\" }\n"
       "shared_with { role: \"roles/vp\" }\naccess: READ_WRITE\n"},
      {"restrictionRules/de.textproto",
       "object: \"accounts\"\napplies_to { user: \"users/carol\" }\n"
       "criteria: \"billing_country = \\\"DE\\\"\"\n"},
  };
}

std::string Dump(const std::vector<BundleError>& errors) {
  std::vector<std::string> lines;
  for (const BundleError& e : errors) lines.push_back(e.ToString());
  return absl::StrJoin(lines, "\n");
}

TEST(PolicyBundle, ValidBundleValidates) {
  auto errors = ValidateBundle(ValidFiles(), Schemas());
  EXPECT_THAT(errors, IsEmpty()) << Dump(errors);
}

TEST(PolicyBundle, RenderParseRenderIsIdentical) {
  ParsedBundle parsed = ParseBundle(ValidFiles());
  ASSERT_THAT(parsed.errors, IsEmpty()) << Dump(parsed.errors);
  BundleFiles first = RenderBundle(parsed.bundle);
  EXPECT_EQ(first.size(), ValidFiles().size());
  ParsedBundle again = ParseBundle(first);
  ASSERT_THAT(again.errors, IsEmpty()) << Dump(again.errors);
  EXPECT_EQ(RenderBundle(again.bundle), first);
  // The compiler's input is the same too.
  EXPECT_EQ(parsed.bundle.ToState().SerializeAsString(),
            again.bundle.ToState().SerializeAsString());
}

TEST(PolicyBundle, RenderIsDeterministicAndHasNoServerFields) {
  // Objects as the server returns them (names and etags set), added in two
  // different orders.
  std::vector<crm::v1::PolicyObject> objects(3);
  objects[0].mutable_role()->set_name("roles/vp");
  objects[0].mutable_role()->set_parent("roles/ceo");
  objects[0].mutable_role()->set_etag("v7");
  objects[1].mutable_role()->set_name("roles/ceo");
  objects[1].mutable_role()->set_etag("v1");
  objects[2].mutable_org_wide_default()->set_object("leads");
  objects[2].mutable_org_wide_default()->set_internal_access(
      crm::v1::OrgWideDefault::PUBLIC_READ);
  objects[2].mutable_org_wide_default()->set_etag("v3");
  crm::v1::Profile profile;
  profile.set_name("profiles/office");
  profile.set_display_name("Office");
  profile.add_allowed_countries("DE");
  profile.set_etag("v9");

  PolicyBundle a, b;
  for (const auto& o : objects) a.Add(o);
  a.Add(profile);
  b.Add(profile);
  for (auto it = objects.rbegin(); it != objects.rend(); ++it) b.Add(*it);
  BundleFiles files = RenderBundle(a);
  EXPECT_EQ(files, RenderBundle(b));

  EXPECT_EQ(files.at("roles/vp.textproto"),
            "# proto-message: crm.v1.Role\nparent: \"roles/ceo\"\n");
  EXPECT_EQ(files.at("roles/ceo.textproto"), "# proto-message: crm.v1.Role\n");
  EXPECT_EQ(files.at("orgWideDefaults/leads.textproto"),
            "# proto-message: crm.v1.OrgWideDefault\n"
            "internal_access: PUBLIC_READ\n");
  EXPECT_EQ(files.at("profiles/office.textproto"),
            "# proto-message: crm.v1.Profile\n"
            "display_name: \"Office\"\nallowed_countries: \"DE\"\n");
  for (const auto& [path, text] : files) {
    EXPECT_THAT(text, ::testing::Not(HasSubstr("etag"))) << path;
    EXPECT_THAT(text, ::testing::Not(HasSubstr("\nname:"))) << path;
  }
}

TEST(PolicyBundle, ObjectsKeepTheirOrderAndNames) {
  ParsedBundle parsed = ParseBundle(ValidFiles());
  ASSERT_THAT(parsed.errors, IsEmpty());
  const BundleObject* vp = parsed.bundle.Find("roles/vp");
  ASSERT_NE(vp, nullptr);
  EXPECT_EQ(vp->object.role().name(), "roles/vp");
  EXPECT_EQ(parsed.bundle.Find("orgWideDefaults/accounts")
                ->object.org_wide_default()
                .object(),
            "accounts");
  EXPECT_EQ(parsed.bundle.Find("profiles/sales")->profile.name(),
            "profiles/sales");
  // Locations are 1-based lines of the file.
  SourceLocation at = parsed.bundle.Locate("permissionSets/sales",
                                           "field_permissions[0].field");
  EXPECT_EQ(at.file, "permissionSets/sales.textproto");
  EXPECT_EQ(at.line, 10);
  EXPECT_EQ(at.column, 3);
  EXPECT_EQ(parsed.bundle.Locate("permissionSets/sales", "assignees[2]").line,
            15);
}

// One broken file (or a change to one) and the error it must give.
struct ErrorCase {
  std::string what;
  std::string path;
  std::string text;  // replaces (or adds) `path`; "" removes it
  std::string file;  // expected location
  int line;
  std::string field;
  std::string message;
};

TEST(PolicyBundle, EveryErrorKindIsLocated) {
  const ErrorCase cases[] = {
      {"parse error", "roles/vp.textproto",
       "display_name: \"VP\"\nparent: roles/ceo\n", "roles/vp.textproto", 2, "",
       "Expected string"},
      {"unknown field name", "roles/vp.textproto",
       "display_name: \"VP\"\nparnt: \"roles/ceo\"\n", "roles/vp.textproto", 2,
       "", "no field named \"parnt\""},
      // protobuf's parser reports it at the token after the value.
      {"unknown enum value", "orgWideDefaults/accounts.textproto",
       "internal_access: PUBLIC\n", "orgWideDefaults/accounts.textproto", 2, "",
       "PUBLIC"},
      {"unknown kind directory", "rolez/x.textproto", "", "rolez/x.textproto",
       0, "", "unknown kind directory 'rolez'"},
      {"not a textproto", "roles/x.json", "{}", "roles/x.json", 0, "",
       "only *.textproto files"},
      {"bad id", "roles/a.b.textproto", "", "roles/a.b.textproto", 0, "",
       "not a valid id"},
      {"too deep", "roles/x/y.textproto", "", "roles/x/y.textproto", 0, "",
       "not a bundle file"},
      {"name is not the path's", "roles/rep.textproto",
       "name: \"roles/other\"\nparent: \"roles/vp\"\n", "roles/rep.textproto",
       1, "name", "is 'roles/other' but the file is roles/rep.textproto"},
      {"etag", "roles/rep.textproto", "parent: \"roles/vp\"\netag: \"v3\"\n",
       "roles/rep.textproto", 2, "etag", "etags are not part of a bundle"},
      {"dangling parent", "roles/rep.textproto",
       "display_name: \"Rep\"\nparent: \"roles/nope\"\n", "roles/rep.textproto",
       2, "parent", "unknown parent 'roles/nope'"},
      // Reported once, on the role whose parent closes the cycle walked
      // from the first role in name order (ceo -> rep -> vp -> ceo).
      {"role cycle", "roles/ceo.textproto", "parent: \"roles/rep\"\n",
       "roles/vp.textproto", 2, "parent", "role hierarchy has a cycle"},
      {"group cycle", "groups/inner.textproto",
       "members { group: \"groups/emea\" }\n", "", 0, "",
       "group membership has a cycle"},
      {"dangling group member", "groups/emea.textproto",
       "display_name: \"EMEA\"\nmembers { role: \"roles/vp\" }\n"
       "members { role: \"roles/gone\" }\n",
       "groups/emea.textproto", 3, "members[1]",
       "unknown grantee 'roles/gone'"},
      {"dangling rule grantee", "sharingRules/retail.textproto",
       "object: \"accounts\"\ncriteria: \"industry = \\\"Retail\\\"\"\n"
       "shared_with { group: \"groups/nope\" }\naccess: READ\n",
       "sharingRules/retail.textproto", 3, "shared_with",
       "unknown grantee 'groups/nope'"},
      {"dangling restriction grantee", "restrictionRules/de.textproto",
       "object: \"accounts\"\napplies_to { role_and_subordinates: "
       "\"roles/nope\" }\ncriteria: \"billing_country = \\\"DE\\\"\"\n",
       "restrictionRules/de.textproto", 2, "applies_to",
       "unknown grantee 'roleAndSubordinates/nope'"},
      {"assignee profile missing", "permissionSets/p.textproto",
       "assignees: \"profiles/sales\"\nassignees: \"profiles/nope\"\n",
       "permissionSets/p.textproto", 2, "assignees[1]",
       "profile 'profiles/nope' is not in the bundle"},
      {"bad assignee", "permissionSets/p.textproto",
       "assignees: \"robots/r2\"\n", "permissionSets/p.textproto", 1,
       "assignees[0]", "is not a known user"},
      {"unknown object", "permissionSets/p.textproto",
       "object_permissions { object: \"acounts\" read: true }\n",
       "permissionSets/p.textproto", 1, "object_permissions[0].object",
       "unknown object 'acounts'"},
      {"unknown field of the schema", "permissionSets/p.textproto",
       "display_name: \"P\"\n"
       "field_permissions {\n  object: \"contacts\"\n  field: \"shoe_size\"\n"
       "  read: true\n}\n",
       "permissionSets/p.textproto", 4, "field_permissions[0].field",
       "unknown field 'shoe_size' of contacts"},
      {"criteria naming an unknown field", "sharingRules/retail.textproto",
       "object: \"accounts\"\nshared_with { group: \"groups/emea\" }\n"
       "access: READ\ncriteria: \"sector = \\\"Retail\\\"\"\n",
       "sharingRules/retail.textproto", 4, "criteria", "sector"},
      {"sharing rule without access", "sharingRules/retail.textproto",
       "object: \"accounts\"\ncriteria: \"industry = \\\"Retail\\\"\"\n"
       "shared_with { group: \"groups/emea\" }\n",
       "sharingRules/retail.textproto", 1, "access",
       "access must be READ or READ_WRITE"},
      {"sharing rule on a controlled-by-parent object",
       "sharingRules/c.textproto",
       "object: \"contacts\"\nowned_by { role: \"roles/rep\" }\n"
       "shared_with { role: \"roles/vp\" }\naccess: READ\n",
       "sharingRules/c.textproto", 1, "object", "controlled by parent"},
      {"controlled by parent without account",
       "orgWideDefaults/leads.textproto",
       "internal_access: CONTROLLED_BY_PARENT\n",
       "orgWideDefaults/leads.textproto", 1, "internal_access",
       "needs an \"account\" field"},
      {"unknown object default", "orgWideDefaults/widgets.textproto",
       "internal_access: PRIVATE\n", "orgWideDefaults/widgets.textproto", 1,
       "object", "unknown object 'widgets'"},
      {"bad CIDR", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\nallowed_ip_ranges: \"10.0.0.0/8\"\n"
       "allowed_ip_ranges: \"10.0.0.300/8\"\n",
       "profiles/sales.textproto", 3, "allowed_ip_ranges[1]", "10.0.0.300"},
      {"bad country", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\nallowed_countries: \"Germany\"\n",
       "profiles/sales.textproto", 2, "allowed_countries[0]", "Germany"},
      {"bad hours", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\nlogin_hours: \"mon-fri 08:00-25:00\"\n",
       "profiles/sales.textproto", 2, "login_hours", ""},
      {"bad zone", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\nlogin_hours: \"mon 08:00-09:00\"\n"
       "login_time_zone: \"Mars/Olympus\"\n",
       "profiles/sales.textproto", 3, "login_time_zone", ""},
      {"duplicate profile display name", "profiles/sales2.textproto",
       "display_name: \"Sales Rep\"\n", "profiles/sales2.textproto", 1,
       "display_name", "already the display name of profiles/sales"},
      {"profile without a display name", "profiles/empty.textproto",
       "allowed_countries: \"DE\"\n", "profiles/empty.textproto", 1,
       "display_name", "required"},
      {"two ranges in one entry", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\n"
       "allowed_ip_ranges: \"10.0.0.0/8, 10.1.0.0/16\"\n",
       "profiles/sales.textproto", 2, "allowed_ip_ranges[0]",
       "is not one entry"},
      {"unknown system permission", "profiles/sales.textproto",
       "display_name: \"Sales Rep\"\nsystem_permissions: 42\n",
       "profiles/sales.textproto", 2, "system_permissions[0]",
       "not a known SystemPermission"},
      {"ids differing only in case", "roles/VP.textproto", "",
       "roles/vp.textproto", 1, "", "only in case"},
      {"illegitimate data source kind", "dataSources/laptops.textproto",
       "kind: CUSTOMER_DEVICES\nservice: \"services/marketing\"\n",
       "dataSources/laptops.textproto", 1, "kind",
       "not a legitimate data source"},
      {"data source field unknown", "dataSources/web-forms.textproto",
       "kind: WEB_FORMS\nservice: \"services/marketing\"\n"
       "writes {\n  object: \"contacts\"\n  fields: \"shoe_size\"\n}\n",
       "dataSources/web-forms.textproto", 5, "writes[0].fields[0]",
       "unknown field 'shoe_size'"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.what);
    BundleFiles files = ValidFiles();
    if (c.what == "group cycle") {
      files["groups/emea.textproto"] = "members { group: \"groups/inner\" }\n";
    }
    files[c.path] = c.text;
    auto errors = ValidateBundle(files, Schemas());
    ASSERT_EQ(errors.size(), 1u) << Dump(errors);
    const BundleError& e = errors[0];
    if (c.what == "group cycle") {
      // Reported once, on the member that closes it (either file).
      EXPECT_THAT(e.location.file, HasSubstr("groups/"));
      EXPECT_EQ(e.location.line, 1);
      EXPECT_EQ(e.field, "members[0]");
    } else {
      EXPECT_EQ(e.location.file, c.file) << e.ToString();
      EXPECT_EQ(e.location.line, c.line) << e.ToString();
      EXPECT_EQ(e.field, c.field) << e.ToString();
    }
    EXPECT_THAT(e.message, HasSubstr(c.message)) << e.ToString();
  }
}

TEST(PolicyBundle, ReportsEveryErrorAtOnce) {
  BundleFiles files = ValidFiles();
  files["roles/rep.textproto"] = "parent: \"roles/nope\"\n";
  files["roles/vp.textproto"] = "parnt: \"roles/ceo\"\n";  // parse error
  files["groups/emea.textproto"] =
      "members { group: \"groups/gone\" }\nmembers { role: \"roles/x\" }\n";
  files["permissionSets/sales.textproto"] =
      "object_permissions { object: \"acounts\" read: true }\n"
      "assignees: \"profiles/nope\"\n";
  files["profiles/sales.textproto"] =
      "display_name: \"Sales Rep\"\nallowed_ip_ranges: \"nope\"\n"
      "allowed_countries: \"XX1\"\n";
  files["sharingRules/retail.textproto"] =
      "object: \"accounts\"\ncriteria: \"sector = 1\"\n"
      "shared_with { group: \"groups/emea\" }\n";
  files["widgets/w.textproto"] = "";
  auto errors = ValidateBundle(files, Schemas());
  std::vector<std::string> where;
  for (const BundleError& e : errors) {
    where.push_back(
        absl::StrCat(e.location.file, ":", e.location.line, " ", e.field));
  }
  EXPECT_THAT(where, ::testing::UnorderedElementsAre(
                         "roles/vp.textproto:1 ", "widgets/w.textproto:0 ",
                         "permissionSets/sales.textproto:2 assignees[0]",
                         "roles/rep.textproto:1 parent",
                         "groups/emea.textproto:1 members[0]",
                         "groups/emea.textproto:2 members[1]",
                         "permissionSets/sales.textproto:1 "
                         "object_permissions[0].object",
                         "sharingRules/retail.textproto:2 criteria",
                         "sharingRules/retail.textproto:1 access",
                         "profiles/sales.textproto:2 allowed_ip_ranges[0]",
                         "profiles/sales.textproto:3 allowed_countries[0]"))
      << Dump(errors);
  EXPECT_THAT(Dump(errors),
              HasSubstr("roles/rep.textproto:1:1: parent: role 'roles/rep': "
                        "unknown parent 'roles/nope'"));
}

// A data source's service is taken as registered offline (like an
// assignee's); with a configuration it must be one of its services.
TEST(PolicyBundle, DataSourceServicesAreAssumedOfflineCheckedWithConfig) {
  BundleFiles files = ValidFiles();
  files["dataSources/web-forms.textproto"] =
      "display_name: \"Web forms\"\nkind: WEB_FORMS\n"
      "service: \"services/marketing\"\npurpose: \"sign-ups\"\n"
      "writes {\n  object: \"contacts\"\n  fields: \"email\"\n}\n";
  auto errors = ValidateBundle(files, Schemas());
  EXPECT_THAT(errors, IsEmpty()) << Dump(errors);
  ParsedBundle parsed = ParseBundle(files);
  ASSERT_THAT(parsed.errors, IsEmpty()) << Dump(parsed.errors);
  EXPECT_EQ(parsed.bundle.ToState().data_sources_size(), 1);
  EXPECT_EQ(RenderBundle(parsed.bundle).count("dataSources/web-forms.textproto"),
            1u);
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  services.Add()->set_name("billing");
  errors = ValidateBundle(files, Schemas(), {.services = &services});
  ASSERT_EQ(errors.size(), 1u) << Dump(errors);
  EXPECT_EQ(errors[0].field, "service");
  EXPECT_EQ(errors[0].location.line, 3);
  EXPECT_THAT(errors[0].message,
              HasSubstr("'services/marketing' is not registered"));
}

TEST(PolicyBundle, RegisteredServicesAreChecked) {
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  services.Add()->set_name("web");
  auto errors =
      ValidateBundle(ValidFiles(), Schemas(), {.services = &services});
  ASSERT_EQ(errors.size(), 1u) << Dump(errors);
  EXPECT_EQ(errors[0].field, "assignees[2]");
  EXPECT_EQ(errors[0].location.line, 15);
  EXPECT_THAT(errors[0].message, HasSubstr("'services/billing'"));
}

// A configured service as the server's configuration file gives it.
crm::internal::ServiceConfig BillingService() {
  crm::internal::ServiceConfig billing;
  billing.set_name("billing");
  billing.add_identities("spiffe://crm.local/svc/billing");  // not shown
  auto* g = billing.add_grants();
  g->set_object("accounts");
  g->set_read(true);
  g->set_edit(true);
  g = billing.add_grants();
  g->set_object("*");
  g->set_read(true);
  // Out of enum order, and once twice: the scope lists them in enum order.
  billing.add_system_permissions("view_audit");
  billing.add_system_permissions("manage_users");
  billing.add_system_permissions("view_audit");
  billing.add_allowed_ip_ranges("10.0.0.0/8");
  billing.add_allowed_countries("DE");
  return billing;
}

TEST(ServiceScope, ShowsTheConfiguredScopeWithoutIdentities) {
  const crm::v1::ServiceScope scope = ServiceScopeOf(BillingService());
  EXPECT_EQ(scope.name(), "services/billing");
  ASSERT_EQ(scope.object_permissions_size(), 2);
  EXPECT_EQ(scope.object_permissions(0).object(), "accounts");
  EXPECT_TRUE(scope.object_permissions(0).edit());
  EXPECT_FALSE(scope.object_permissions(0).create());
  EXPECT_EQ(scope.object_permissions(1).object(), "*");
  ASSERT_EQ(scope.system_permissions_size(), 2);
  EXPECT_EQ(scope.system_permissions(0), crm::v1::MANAGE_USERS);
  EXPECT_EQ(scope.system_permissions(1), crm::v1::VIEW_AUDIT);
  EXPECT_EQ(scope.allowed_ip_ranges(0), "10.0.0.0/8");
  EXPECT_EQ(scope.allowed_countries(0), "DE");
  EXPECT_THAT(scope.DebugString(), Not(HasSubstr("spiffe")));
}

TEST(ServiceScope, AnExportedScopeValidatesAndAnEditedOneIsRefused) {
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  *services.Add() = BillingService();
  // As export writes it: through the bundle's renderer.
  crm::v1::PolicyObject object;
  *object.mutable_service() = ServiceScopeOf(BillingService());
  PolicyBundle exported;
  exported.Add(object);
  BundleFiles files = ValidFiles();
  for (auto& [path, text] : RenderBundle(exported)) files[path] = text;
  ASSERT_EQ(files.count("services/billing.textproto"), 1u);
  const std::string text = files["services/billing.textproto"];
  EXPECT_THAT(text, HasSubstr("# proto-message: crm.v1.ServiceScope\n"));
  EXPECT_THAT(text, Not(HasSubstr("name:")));  // the path is the name
  EXPECT_THAT(text, HasSubstr("system_permissions: MANAGE_USERS"));

  auto errors = ValidateBundle(files, Schemas(), {.services = &services});
  EXPECT_THAT(errors, IsEmpty()) << Dump(errors);
  // Without a configuration to compare with, it parses and is not compiled.
  errors = ValidateBundle(files, Schemas());
  EXPECT_THAT(errors, IsEmpty()) << Dump(errors);
  ParsedBundle parsed = ParseBundle(files);
  EXPECT_EQ(parsed.bundle.ToState().SerializeAsString(),
            ParseBundle(ValidFiles()).bundle.ToState().SerializeAsString());

  // Granting the service more through its file: refused at the line, with
  // what the configuration has and what to do instead.
  BundleFiles edited = files;
  absl::StrReplaceAll({{"  edit: true\n", "  edit: true\n  delete: true\n"}},
                      &edited["services/billing.textproto"]);
  ASSERT_NE(edited["services/billing.textproto"], text);
  errors = ValidateBundle(edited, Schemas(), {.services = &services});
  ASSERT_EQ(errors.size(), 1u) << Dump(errors);
  EXPECT_EQ(errors[0].object, "services/billing");
  EXPECT_EQ(errors[0].field, "object_permissions");
  EXPECT_EQ(errors[0].location.file, "services/billing.textproto");
  EXPECT_EQ(errors[0].location.line, 2);
  EXPECT_THAT(errors[0].message,
              HasSubstr("differs from this server's configuration"));
  EXPECT_THAT(errors[0].message, HasSubstr("configuration file"));

  // Two fields changed: two errors, each at its own line.
  edited["services/billing.textproto"] += "trusted_gateway: true\n";
  errors = ValidateBundle(edited, Schemas(), {.services = &services});
  ASSERT_EQ(errors.size(), 2u) << Dump(errors);
  EXPECT_EQ(errors[1].field, "trusted_gateway");

  // A service the configuration does not have.
  BundleFiles unknown = files;
  unknown["services/ghost.textproto"] = "trusted_gateway: true\n";
  errors = ValidateBundle(unknown, Schemas(), {.services = &services});
  ASSERT_EQ(errors.size(), 1u) << Dump(errors);
  EXPECT_EQ(errors[0].object, "services/ghost");
  EXPECT_THAT(errors[0].message,
              HasSubstr("no service 'ghost' is in this server's "
                        "configuration (configured: billing)"));
}

TEST(PolicySnapshotCheck, FindsEveryProblemAndBuildReportsTheFirst) {
  crm::internal::PolicyState state;
  state.add_roles()->set_name("roles/a");
  state.mutable_roles(0)->set_parent("roles/missing");
  state.add_groups()->set_name("groups/g");
  state.mutable_groups(0)->add_members()->set_role("roles/missing");
  state.add_defaults()->set_object("widgets");
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> none;
  auto problems = PolicySnapshot::Check(state, none, Schemas());
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].object, "orgWideDefaults/widgets");
  EXPECT_EQ(problems[1].object, "roles/a");
  EXPECT_EQ(problems[1].field, "parent");
  EXPECT_EQ(problems[2].object, "groups/g");
  EXPECT_EQ(problems[2].field, "members[0]");
  auto built = PolicySnapshot::Build(state, none, Schemas());
  EXPECT_EQ(built.status(), problems[0].status);
}

}  // namespace
}  // namespace crm::policy
