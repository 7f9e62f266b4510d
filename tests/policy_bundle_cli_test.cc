// crmctl policy export / validate and crmctl profiles create|update|delete
// against the real server on both backends, with the demo organisation
// (server/demo_data.h) loaded: the export is complete and deterministic,
// validates offline, and a broken copy fails with every error located.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli.h"
#include "clients/policy_bundle_commands.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/demo_data.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class PolicyBundleCliTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    // The demo gives admin-cli manage_policy (permissionSets/cli-policy-admin).
    absl::Status demo = server::LoadDemoOrganisation(server_->server().core());
    ASSERT_TRUE(demo.ok()) << demo;
    ASSERT_TRUE(server_->server().ReloadPolicy().ok());
    env_ = {{"CRM_TARGET", server_->target()},
            {"CRM_CA", server_->certs().ca},
            {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
            {"CRM_KEY", server_->certs().ClientKey("admin-cli")}};
    dir_ = MakeTempDir("policy-bundle");
  }

  CliResult Run(const std::vector<std::string>& args) const {
    return RunCrmctl(args, env_);
  }

  policy::BundleFiles Read(const std::string& dir) const {
    auto files = client::ReadBundleDirectory(dir);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : policy::BundleFiles();
  }

  static void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::string> env_;
  std::string dir_;
};

INSTANTIATE_TEST_SUITE_P(Backends, PolicyBundleCliTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

TEST_P(PolicyBundleCliTest, ExportIsCompleteDeterministicAndValidates) {
  const std::string a = dir_ + "/a", b = dir_ + "/b";
  CliResult r = Run({"policy", "export", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("removed"));
  policy::BundleFiles files = Read(a);
  for (const char* path :
       {"roles/ceo.textproto", "roles/sales-rep.textproto",
        "orgWideDefaults/accounts.textproto",
        "orgWideDefaults/contacts.textproto", "permissionSets/sales.textproto",
        "permissionSets/cli-policy-admin.textproto",
        "profiles/sales-rep.textproto", "profiles/eu-partner.textproto"}) {
    EXPECT_TRUE(files.count(path)) << path;
  }
  EXPECT_EQ(files.at("roles/sales-rep.textproto"),
            "# proto-message: crm.v1.Role\n"
            "display_name: \"Sales Rep\"\n"
            "parent: \"roles/sales-manager\"\n");
  EXPECT_THAT(files.at("profiles/sales-rep.textproto"),
              AllOf(HasSubstr("allowed_ip_ranges: \"127.0.0.0/8\"\n"),
                    HasSubstr("login_time_zone: \"Europe/London\"\n")));
  EXPECT_THAT(files.at("orgWideDefaults/contacts.textproto"),
              HasSubstr("internal_access: CONTROLLED_BY_PARENT\n"));
  for (const auto& [path, text] : files) {
    EXPECT_THAT(text, Not(HasSubstr("etag"))) << path;
  }

  // Byte-identical: into a second folder, and again into the first (which
  // then writes nothing).
  r = Run({"policy", "export", b});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(Read(b), files);
  r = Run({"policy", "export", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("(0 written"));
  EXPECT_EQ(Read(a), files);

  // A stale file (an object the server does not have) is removed by the
  // next export; other files are kept.
  Write(fs::path(a) / "roles/gone.textproto", "display_name: \"Gone\"\n");
  Write(fs::path(a) / "README.md", "notes\n");
  r = Run({"policy", "export", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("1 removed"));
  EXPECT_FALSE(fs::exists(fs::path(a) / "roles/gone.textproto"));
  EXPECT_TRUE(fs::exists(fs::path(a) / "README.md"));

  // Validates offline (no server needed: a target nobody listens on).
  client::CliDeps offline;
  offline.env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "CRM_TARGET") return "localhost:1";
    return std::nullopt;
  };
  std::ostringstream out, err;
  int code = client::RunCli({"policy", "validate", a}, out, err, offline);
  EXPECT_EQ(code, 0) << out.str() << err.str();
  EXPECT_THAT(out.str(), HasSubstr("the policy compiles"));
}

TEST_P(PolicyBundleCliTest, BrokenBundleFailsWithEveryErrorLocated) {
  CliResult r = Run({"policy", "export", dir_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  const fs::path d = dir_;
  // Five independent mistakes in five files.
  Write(d / "roles/sales-rep.textproto",
        "display_name: \"Sales Rep\"\nparent: \"roles/nope\"\n");
  Write(d / "roles/ceo.textproto", "display_name: \"CEO\"\nparnt: \"x\"\n");
  Write(d / "profiles/contractor.textproto",
        "display_name: \"Contractor\"\n"
        "allowed_ip_ranges: \"10.0.0.0/33\"\n"
        "allowed_countries: \"France\"\n");
  Write(d / "sharingRules/retail.textproto",
        "object: \"accounts\"\ncriteria: \"sector = \\\"Retail\\\"\"\n"
        "shared_with { role_and_subordinates: \"roles/sales-rep\" }\n"
        "access: READ\n");
  Write(d / "rolez/x.textproto", "");
  r = Run({"policy", "validate", dir_});
  EXPECT_EQ(r.code, 1) << r.Describe();
  const std::string p = dir_ + "/";
  EXPECT_THAT(r.err,
              AllOf(HasSubstr(p + "roles/sales-rep.textproto:2:1: parent: "
                                  "role 'roles/sales-rep': unknown parent "
                                  "'roles/nope'"),
                    HasSubstr(p + "roles/ceo.textproto:2:"),
                    HasSubstr(p + "profiles/contractor.textproto:2:1: "
                                  "allowed_ip_ranges[0]: "),
                    HasSubstr(p + "profiles/contractor.textproto:3:1: "
                                  "allowed_countries[0]: "),
                    HasSubstr(p + "sharingRules/retail.textproto:2:1: "
                                  "criteria: "),
                    HasSubstr(p + "rolez/x.textproto: unknown kind "
                                  "directory 'rolez'"),
                    HasSubstr("error: INVALID_ARGUMENT: policy validate: 6 "
                              "errors in ")))
      << r.Describe();
}

// A service's own scope (ServiceConfig in the server's configuration) is
// in the export so the bundle shows every grant, and is read-only: a bundle
// may carry it only as configured, and the API refuses to write it.
TEST_P(PolicyBundleCliTest, ServicesOwnScopeIsExportedReadOnly) {
  CliResult r = Run({"policy", "export", dir_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  policy::BundleFiles files = Read(dir_);
  // Every configured service, none that is not (the harness's config).
  for (const char* name : {"admin-cli", "web-frontend", "gateway", "expired",
                           "revoked", "billing"}) {
    EXPECT_TRUE(files.count(absl::StrCat("services/", name, ".textproto")))
        << name;
  }
  EXPECT_EQ(files.at("services/billing.textproto"),
            "# proto-message: crm.v1.ServiceScope\n"
            "object_permissions {\n  object: \"accounts\"\n  read: true\n}\n"
            "object_permissions {\n  object: \"opportunities\"\n"
            "  read: true\n  edit: true\n}\n");
  EXPECT_THAT(files.at("services/admin-cli.textproto"),
              AllOf(HasSubstr("object: \"*\""),
                    HasSubstr("system_permissions: MANAGE_USERS\n")));
  EXPECT_THAT(files.at("services/web-frontend.textproto"),
              HasSubstr("trusted_gateway: true\n"));
  for (const auto& [path, text] : files) {
    EXPECT_THAT(text, Not(HasSubstr("spiffe://"))) << path;  // no identities
  }

  // The exported bundle, services included, applies as a no-op.
  r = Run({"policy", "apply", dir_});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("no change"));

  // Read through the generic commands.
  r = Run({"policy", "get", "services/billing"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("opportunities"));
  r = Run({"policy", "list", "services"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("services/admin-cli"),
                           HasSubstr("services/web-frontend")));
  r = Run({"policy", "get", "services/nope"});
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();  // NOT_FOUND

  // Writes are refused, naming where the scope is set.
  r = Run({"policy", "delete", "services/billing"});
  EXPECT_EQ(r.code, 2 + 9) << r.Describe();  // FAILED_PRECONDITION
  EXPECT_THAT(r.err, AllOf(HasSubstr("services/billing is read-only"),
                           HasSubstr("configuration file"),
                           HasSubstr("READ_ONLY_OBJECT")));
  r = Run({"policy", "create", "services", "billing2",
           "{\"object_permissions\":[{\"object\":\"accounts\","
           "\"read\":true}]}"});
  EXPECT_EQ(r.code, 2 + 9) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("read-only"));

  // A bundle that grants a service more through its file: plan and apply
  // refuse it at the line, and nothing changes.
  const fs::path billing = fs::path(dir_) / "services/billing.textproto";
  std::string edited = files.at("services/billing.textproto");
  edited.replace(edited.find("  read: true\n}"), 12,
                 "  read: true\n  delete: true\n");
  Write(billing, edited);
  r = Run({"policy", "history"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  const std::string history = r.out;
  for (const char* verb : {"plan", "apply"}) {
    r = Run({"policy", verb, dir_});
    EXPECT_EQ(r.code, 2 + 3) << verb << ": " << r.Describe();
    EXPECT_THAT(r.err,
                AllOf(HasSubstr("services/billing.textproto:2:1"),
                      HasSubstr("object_permissions"),
                      HasSubstr("differs from this server's configuration"),
                      HasSubstr("restart the servers")))
        << verb;
  }
  // A service the server does not have.
  Write(billing, files.at("services/billing.textproto"));
  Write(fs::path(dir_) / "services/ghost.textproto", "trusted_gateway: true\n");
  r = Run({"policy", "apply", dir_});
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("no service 'ghost'"));
  r = Run({"policy", "history"});
  EXPECT_EQ(r.out, history);  // no version was made
  fs::remove(fs::path(dir_) / "services/ghost.textproto");

  // Leaving the services out (or all of them) removes nothing, even with
  // --prune: they are not the bundle's to remove.
  fs::remove_all(fs::path(dir_) / "services");
  r = Run({"policy", "apply", dir_, "--prune"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("no change"));
  r = Run({"policy", "get", "services/billing"});
  EXPECT_EQ(r.code, 0) << r.Describe();
}

TEST_P(PolicyBundleCliTest, ProfilesCreateUpdateDelete) {
  // From an exported file's form (text format)...
  const fs::path file = fs::path(dir_) / "profiles/night.textproto";
  Write(file,
        "display_name: \"Night Shift\"\n"
        "allowed_ip_ranges: \"10.1.0.0/16\"\n"
        "allowed_ip_ranges: \"2001:db8::/32\"\n"
        "login_hours: \"mon-fri 20:00-24:00\"\n"
        "login_time_zone: \"Europe/Berlin\"\n");
  CliResult r = Run({"profiles", "create", "night", "@" + file.string()});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("profiles/night"),
                           HasSubstr("10.1.0.0/16"), HasSubstr("v")));

  // ... and JSON: only the fields it names change.
  r = Run({"profiles", "update", "night", R"({"allowed_countries": ["de"]})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = Run({"--output", "json", "profiles", "get", "profiles/night"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("\"DE\""), HasSubstr("10.1.0.0/16"),
                           HasSubstr("Night Shift")));

  // Every bad entry is reported, nothing is written.
  r = Run({"profiles", "update", "night",
           R"({"allowed_ip_ranges": ["10.0.0.0/8", "300.1.1.1/8"],
               "login_hours": "mon 25:00-26:00"})"});
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();  // INVALID_ARGUMENT
  EXPECT_THAT(r.err, AllOf(HasSubstr("profile.allowed_ip_ranges[1]"),
                           HasSubstr("profile.login_hours")));

  // Clearing a field needs naming it.
  r = Run(
      {"profiles", "update", "night", "{}", "--fields", "allowed_countries"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, Not(HasSubstr("DE")));
  r = Run({"profiles", "update", "night", "{}"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("sets none of"));

  r = Run({"profiles", "delete", "night", "--etag", "v1"});
  EXPECT_EQ(r.code, 2 + 10) << r.Describe();  // ABORTED: stale etag
  r = Run({"profiles", "delete", "night"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "deleted profiles/night\n");
  r = Run({"profiles", "get", "night"});
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();  // NOT_FOUND
}

}  // namespace
}  // namespace crm::testing
