// crmctl end to end against the real server over mTLS: the CLI logic
// in-process through RunCli (with the default connect, pointed at the test
// server through the CRM_* environment), and the built crmctl executable as
// a subprocess. Covers CRUD on accounts and contacts in table and JSON
// output, the documented exit codes and error lines, echo and --help; the
// policy and sharing commands (crmctl policy/share/unshare/shares/transfer)
// against the real PolicyAdminService and SharingService.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <fstream>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli.h"
#include "crm/v1/admin_service.pb.h"
#include "crm/v1/resources.pb.h"
#include "crm/v1/sharing_service.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

template <typename M>
M ParseJson(const std::string& json) {
  M m;
  google::protobuf::util::JsonParseOptions options;
  auto st = google::protobuf::util::JsonStringToMessage(json, &m, options);
  EXPECT_TRUE(st.ok()) << st.ToString() << " in:\n" << json;
  return m;
}

class CliE2eTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { StartServer(nullptr); }

  void StartServer(
      std::function<void(crm::internal::ServerConfig&)> customize) {
    auto server = TestServer::Start(
        {.backend = GetParam(), .customize = std::move(customize)});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    env_ = {{"CRM_TARGET", server_->target()},
            {"CRM_CA", server_->certs().ca},
            {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
            {"CRM_KEY", server_->certs().ClientKey("admin-cli")}};
  }

  // crmctl ARGS in-process, with the CRM_* variables of env_ (and CRM_TOKEN
  // = `token` if not empty) and the real (default) connect.
  // `input` is what --password-stdin reads.
  CliResult Run(const std::vector<std::string>& args,
                const std::string& token = "",
                const std::string& input = "") const {
    auto env = env_;
    if (!token.empty()) env["CRM_TOKEN"] = token;
    return RunCrmctl(args, std::move(env), input);
  }

  crm::v1::Account CreateAccount(const std::vector<std::string>& fields) {
    std::vector<std::string> args = {"--output", "json", "accounts", "create"};
    args.insert(args.end(), fields.begin(), fields.end());
    CliResult r = Run(args);
    EXPECT_EQ(r.code, 0) << r.Describe();
    return ParseJson<crm::v1::Account>(r.out);
  }

  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::string> env_;
};

TEST_P(CliE2eTest, AccountLifecycleInTableAndJson) {
  crm::v1::Account created =
      CreateAccount({"display_name=Acme Ltd", "industry=Manufacturing",
                     "employee_count=120", "annual_revenue=1.5e6"});
  ASSERT_THAT(created.name(), StartsWith("accounts/"));
  EXPECT_EQ(created.display_name(), "Acme Ltd");
  EXPECT_EQ(created.employee_count(), 120);
  EXPECT_EQ(created.annual_revenue(), 1.5e6);
  EXPECT_EQ(created.owner(), "services/admin-cli");
  const std::string id = created.name().substr(strlen("accounts/"));

  // get, table: FIELD VALUE rows; by full name and by bare id.
  for (const std::string& name : {created.name(), id}) {
    CliResult r = Run({"accounts", "get", name});
    EXPECT_EQ(r.code, 0) << r.Describe();
    EXPECT_THAT(r.out, AllOf(HasSubstr(created.name()), HasSubstr("Acme Ltd"),
                             HasSubstr("Manufacturing"), HasSubstr("120")))
        << name;
    EXPECT_EQ(r.err, "");
  }
  // get, JSON: the same record.
  CliResult r = Run({"--output", "json", "accounts", "get", created.name()});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::Account>(r.out).etag(), created.etag());

  CreateAccount({"display_name=Globex", "industry=Energy",
                 "employee_count=5400"});
  // list, table: a header and one row per record.
  r = Run({"accounts", "list", "--order-by", "display_name"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("name"), HasSubstr("display_name"),
                           HasSubstr("Acme Ltd"), HasSubstr("Globex")));
  EXPECT_LT(r.out.find("Acme Ltd"), r.out.find("Globex"));
  // list, JSON, filtered.
  r = Run({"--output", "json", "accounts", "list", "--filter",
           "employee_count > 1000"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto listed = ParseJson<crm::v1::ListAccountsResponse>(r.out);
  ASSERT_EQ(listed.accounts_size(), 1) << r.out;
  EXPECT_EQ(listed.accounts(0).display_name(), "Globex");
  // list with paging: one page and a token, then --all.
  r = Run({"accounts", "list", "--page-size", "1"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("next_page_token: "));
  r = Run({"--output", "json", "accounts", "list", "--page-size", "1",
           "--all"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::ListAccountsResponse>(r.out).accounts_size(), 2);

  // update with the current etag; a cleared field; then a stale etag.
  r = Run({"--output", "json", "accounts", "update", created.name(),
           "phone=+44 161 000", "industry=", "--etag", created.etag()});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto updated = ParseJson<crm::v1::Account>(r.out);
  EXPECT_EQ(updated.phone(), "+44 161 000");
  EXPECT_EQ(updated.industry(), "");
  EXPECT_EQ(updated.employee_count(), 120);
  EXPECT_NE(updated.etag(), created.etag());
  r = Run({"accounts", "update", created.name(), "phone=1", "--etag",
           created.etag()});
  EXPECT_EQ(r.code, 2 + 10) << r.Describe();  // ABORTED
  EXPECT_THAT(r.err, StartsWith("error: ABORTED: "));
  EXPECT_EQ(r.out, "");

  // delete: stale etag refused, current accepted, then NOT_FOUND.
  r = Run({"accounts", "delete", created.name(), "--etag", created.etag()});
  EXPECT_EQ(r.code, 2 + 10) << r.Describe();
  r = Run({"accounts", "delete", created.name(), "--etag", updated.etag()});
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("deleted " + created.name()));
  r = Run({"accounts", "get", created.name()});
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();  // NOT_FOUND
  EXPECT_THAT(r.err, StartsWith("error: NOT_FOUND: "));
}

TEST_P(CliE2eTest, ContactReferencingAnAccount) {
  crm::v1::Account account = CreateAccount({"display_name=Initech"});
  CliResult r = Run({"--output", "json", "contacts", "create",
                     "first_name=Ada", "last_name=Lovelace",
                     "email=ada@example.org", "account=" + account.name()});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto contact = ParseJson<crm::v1::Contact>(r.out);
  EXPECT_EQ(contact.account(), account.name());

  r = Run({"contacts", "list", "--filter",
           absl::StrCat("account = \"", account.name(), "\"")});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr(contact.name()), HasSubstr("Lovelace")));

  // --json for create and update.
  r = Run({"--output", "json", "contacts", "create", "--json",
           R"({"last_name": "Hopper", "account": ")" + account.name() +
               R"("})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto hopper = ParseJson<crm::v1::Contact>(r.out);
  r = Run({"--output", "json", "contacts", "update", hopper.name(), "--json",
           R"({"title": "Rear Admiral"})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::Contact>(r.out).title(), "Rear Admiral");

  // A reference to the wrong collection is the server's INVALID_ARGUMENT.
  r = Run({"contacts", "create", "last_name=X", "account=contacts/abc"});
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("error: INVALID_ARGUMENT: "));

  r = Run({"contacts", "delete", contact.name()});
  EXPECT_EQ(r.code, 0) << r.Describe();
  r = Run({"--output", "json", "contacts", "list"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(Not(HasSubstr(contact.name())),
                           HasSubstr(hopper.name())));
}

TEST_P(CliE2eTest, BadInputHasExitCodesAnErrorLineAndDetails) {
  const std::string cert = server_->certs().ClientCert("unregistered");
  const std::string key = server_->certs().ClientKey("unregistered");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string err;  // expected substring of stderr
  };
  const std::vector<Case> cases = {
      // Local (usage) errors: exit 1, nothing sent.
      {{}, 1, "missing command"},
      {{"frobnicate"}, 1, "unknown command 'frobnicate'"},
      {{"--bogus", "accounts", "list"}, 1, "--bogus"},
      {{"--output", "yaml", "accounts", "list"}, 1, "table, json"},
      {{"accounts", "explode"}, 1, "explode"},
      {{"accounts", "get"}, 1, "get"},
      {{"accounts", "create", "no_such_field=1"}, 1, "no_such_field"},
      {{"accounts", "create", "employee_count=many"}, 1, "employee_count"},
      {{"accounts", "list", "--page-size", "0"}, 1, "--page-size"},
      {{"--ca", "/nonexistent/ca.pem", "accounts", "list"}, 1,
       "/nonexistent/ca.pem"},
      // The server's answers: exit 2 + code.
      {{"accounts", "list", "--filter", "display_name = "}, 2 + 3,
       "error: INVALID_ARGUMENT: "},
      {{"accounts", "list", "--filter", "nope = 1"}, 2 + 3, "nope"},
      {{"accounts", "list", "--order-by", "nope"}, 2 + 3, "nope"},
      {{"accounts", "list", "--page-token", "garbage"}, 2 + 3,
       "error: INVALID_ARGUMENT: "},
      {{"accounts", "get", "accounts/a/b"}, 2 + 3,
       "error: INVALID_ARGUMENT: "},
      {{"accounts", "create", "industry=NoName"}, 2 + 3, "display_name"},
      {{"accounts", "get", "accounts/missing"}, 2 + 5, "error: NOT_FOUND: "},
      {{"--cert", cert, "--key", key, "accounts", "list"}, 2 + 16,
       "error: UNAUTHENTICATED: "},
      {{"--cert", server_->certs().ClientCert("billing"), "--key",
        server_->certs().ClientKey("billing"), "accounts", "create",
        "display_name=X"},
       2 + 7, "error: PERMISSION_DENIED: "},
      {{"--cert", server_->certs().ClientCert("foreign"), "--key",
        server_->certs().ClientKey("foreign"), "echo"},
       2 + 14, "error: UNAVAILABLE: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    CliResult r = Run(c.args);
    EXPECT_EQ(r.code, c.code) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(c.err)) << r.Describe();
    // One "error: ..." line first; every further line is one of the server's
    // details in the documented forms (crmctl --help, "Errors are printed").
    EXPECT_THAT(r.err, StartsWith("error: ")) << r.Describe();
    std::vector<std::string> lines =
        absl::StrSplit(r.err, '\n', absl::SkipEmpty());
    for (size_t i = 1; i < lines.size(); ++i) {
      EXPECT_THAT(lines[i], AnyOf(StartsWith("reason: "), StartsWith("field "),
                                  StartsWith("precondition "),
                                  StartsWith("retry after: ")))
          << r.Describe();
    }
    if (c.code == 1) {  // Local errors come with no details.
      EXPECT_EQ(lines.size(), 1u) << r.Describe();
    }
    EXPECT_EQ(r.out, "") << r.Describe();
  }
  // Nothing was written by any of them.
  CliResult r = Run({"--output", "json", "accounts", "list"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::ListAccountsResponse>(r.out).accounts_size(),
            0)
      << r.out;
}

TEST_P(CliE2eTest, EchoAndHelp) {
  CliResult r = Run({"echo", "hello", "world"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("hello world"),
                           HasSubstr("services/admin-cli")));
  r = Run({"--cert", server_->certs().ClientCert("billing"), "--key",
           server_->certs().ClientKey("billing"), "--output", "json", "echo"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\"services/billing\""));

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}}) {
    r = Run(args);
    EXPECT_EQ(r.code, 0) << r.Describe();
    EXPECT_THAT(r.out, AllOf(HasSubstr("usage: crmctl"), HasSubstr("accounts"),
                             HasSubstr("contacts"), HasSubstr("--target")))
        << args[0];
  }
  r = Run({"help", "contacts"});
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("last_name"), HasSubstr("account")));
}

INSTANTIATE_TEST_SUITE_P(Backends, CliE2eTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

// The policy and sharing commands. admin-cli may manage the policy; alice
// and bob are users of profile "rep" who may work on accounts (private, no
// hierarchy); their own tokens are passed as CRM_TOKEN.
class PolicyCliE2eTest : public CliE2eTest {
 protected:
  void SetUp() override {
    StartServer([](crm::internal::ServerConfig& config) {
      testing::GrantSystemPermissions(config, "admin-cli", {"manage_policy"});
    });
    if (HasFatalFailure()) return;
    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    for (const char* user : {"alice", "bob"}) {
      ASSERT_TRUE(AddUser(*server_, user, "pw", "rep").ok());
    }
    // Written after the users: a policy write recompiles them too.
    for (const std::vector<std::string>& create :
         std::vector<std::vector<std::string>>{
             {"roles", "manager", R"({"display_name": "Manager"})"},
             {"roles", "rep", R"({"parent": "roles/manager"})"},
             {"orgWideDefaults", "accounts",
              R"({"internal_access": "PRIVATE"})"},
             {"permissionSets", "reps",
              R"({"object_permissions": [{"object": "accounts", "read": true,
                  "create": true, "edit": true, "delete": true}],
                  "assignees": ["profiles/rep"]})"}}) {
      std::vector<std::string> args = {"policy", "create"};
      args.insert(args.end(), create.begin(), create.end());
      CliResult r = Run(args);
      ASSERT_EQ(r.code, 0) << r.Describe();
    }
    for (const char* user : {"alice", "bob"}) {
      auto client = server_->Client("admin-cli");
      auto token = LoginToken(*client, user, "pw");
      ASSERT_TRUE(token.ok()) << token.status();
      tokens_[user] = *token;
    }
  }

  CliResult As(const std::string& user, const std::vector<std::string>& args) {
    return Run(args, tokens_.at(user));
  }

  std::map<std::string, std::string> tokens_;
};

TEST_P(PolicyCliE2eTest, PolicyObjectLifecycle) {
  CliResult r = Run({"policy", "create", "roles", "vp",
                     R"({"display_name": "VP"})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("roles/vp"), HasSubstr("VP"),
                           HasSubstr("v1")));

  r = Run({"policy", "list", "roles"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("roles/manager"), HasSubstr("roles/rep"),
                           HasSubstr("roles/vp")));
  r = Run({"--output", "json", "policy", "list", "roles"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto listed = ParseJson<crm::v1::ListPolicyObjectsResponse>(r.out);
  ASSERT_EQ(listed.objects_size(), 3) << r.out;
  EXPECT_EQ(listed.objects(1).role().parent(), "roles/manager");

  // update replaces the object; an etag in the JSON or --etag makes it
  // conditional.
  r = Run({"policy", "update", "roles/vp",
           R"({"display_name": "Vice President"})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("Vice President"), HasSubstr("v2")));
  r = Run({"policy", "update", "roles/vp", R"({"display_name": "X"})",
           "--etag", "v1"});
  EXPECT_EQ(r.code, 2 + 10) << r.Describe();  // ABORTED
  EXPECT_THAT(r.err, HasSubstr("read it again"));

  // get --output json | edit | update @FILE: the etag read makes it
  // conditional.
  r = Run({"--output", "json", "policy", "get", "roles/vp"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto role = ParseJson<crm::v1::Role>(r.out);
  EXPECT_EQ(role.etag(), "v2");
  role.set_parent("roles/manager");
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(role, &json).ok());
  const std::string file = MakeTempDir("policy-cli") + "/vp.json";
  std::ofstream(file) << json;
  r = Run({"policy", "update", "roles/vp", "@" + file});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("roles/manager"), HasSubstr("v3")));
  r = Run({"policy", "update", "roles/vp", "@" + file});
  EXPECT_EQ(r.code, 2 + 10) << r.Describe();  // its etag is v2: stale

  // An org-wide default is named by its object.
  r = Run({"policy", "update", "orgWideDefaults/accounts",
           R"({"internal_access": "PUBLIC_READ"})"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  r = Run({"policy", "get", "orgWideDefaults/accounts"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("accounts"), HasSubstr("PUBLIC_READ")));

  r = Run({"policy", "delete", "roles/manager"});
  EXPECT_EQ(r.code, 2 + 9) << r.Describe();  // FAILED_PRECONDITION
  EXPECT_THAT(r.err, HasSubstr("roles/rep"));
  r = Run({"policy", "delete", "roles/vp"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "deleted roles/vp\n");
  r = Run({"policy", "get", "roles/vp"});
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("roles/vp not found"));
}

TEST_P(PolicyCliE2eTest, ShareSharesUnshareTransfer) {
  CliResult r = As("alice", {"--output", "json", "accounts", "create",
                             "display_name=Acme"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto account = ParseJson<crm::v1::Account>(r.out);
  const std::string& a = account.name();
  ASSERT_EQ(account.owner(), "users/alice");
  EXPECT_EQ(As("bob", {"accounts", "get", a}).code, 2 + 5);

  r = As("alice", {"share", a, "users/bob"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr(a + "/shares/"), HasSubstr("READ"),
                           HasSubstr("users/alice")));
  EXPECT_EQ(As("bob", {"accounts", "get", a}).code, 0);
  r = As("bob", {"accounts", "update", a, "industry=Retail"});
  EXPECT_EQ(r.code, 2 + 7) << r.Describe();  // read only

  // Sharing again with the same grantee changes the level of that share.
  r = As("alice", {"--output", "json", "share", a, "users/bob", "read_write"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto share = ParseJson<crm::v1::RecordShare>(r.out);
  EXPECT_EQ(share.access(), crm::v1::READ_WRITE);
  r = As("bob", {"accounts", "update", a, "industry=Retail"});
  EXPECT_EQ(r.code, 0) << r.Describe();

  r = As("alice", {"shares", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr(share.name()), HasSubstr("users/bob"),
                           HasSubstr("READ_WRITE")));
  r = As("alice", {"--output", "json", "shares", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::ListRecordSharesResponse>(r.out).shares_size(),
            1);
  r = As("bob", {"shares", a});  // a share gives no right to list shares
  EXPECT_EQ(r.code, 2 + 7) << r.Describe();

  r = As("alice", {"unshare", share.name()});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "unshared " + share.name() + "\n");
  EXPECT_EQ(As("bob", {"accounts", "get", a}).code, 2 + 5);
  r = As("alice", {"shares", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "(no shares)\n");

  r = As("alice", {"transfer", a, "bob"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("users/bob"));
  r = As("bob", {"--output", "json", "accounts", "get", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::Account>(r.out).owner(), "users/bob");
  EXPECT_EQ(As("alice", {"accounts", "get", a}).code, 2 + 5);
}

TEST_P(PolicyCliE2eTest, BadInputIsRefusedWithAClearMessage) {
  CliResult created = As("alice", {"--output", "json", "accounts", "create",
                                   "display_name=Acme"});
  ASSERT_EQ(created.code, 0) << created.Describe();
  const std::string a = ParseJson<crm::v1::Account>(created.out).name();
  struct Case {
    std::string user;  // "" = admin-cli itself
    std::vector<std::string> args;
    int code;
    std::string err;  // expected substring of stderr
  };
  const std::vector<Case> cases = {
      // Local: exit 1, nothing sent.
      {"", {"policy"}, 1, "usage: crmctl policy list KIND"},
      {"", {"policy", "explode"}, 1, "unknown verb 'explode'"},
      {"", {"policy", "list"}, 1, "policy list: wrong arguments"},
      {"",
       {"policy", "list", "widgets"},
       1,
       "'widgets' is not a policy kind; use one of permissionSets, "
       "orgWideDefaults, roles, groups, sharingRules, restrictionRules"},
      {"", {"policy", "get", "vp"}, 1, "use KIND/ID"},
      {"",
       {"policy", "create", "roles", "x", "{bad"},
       1,
       "policy create: the JSON: not a valid Role"},
      {"",
       {"policy", "create", "roles", "x", "@/nonexistent/role.json"},
       1,
       "cannot read '/nonexistent/role.json'"},
      {"",
       {"policy", "update", "roles/rep", R"({"name": "roles/manager"})"},
       1,
       "the JSON's name is 'roles/manager' but the command names roles/rep"},
      {"", {"share", "acme", "users/bob"}, 1, "use COLLECTION/ID"},
      {"", {"share", a, "bob"}, 1, "grantee 'bob' is not valid"},
      {"",
       {"share", a, "users/bob", "write"},
       1,
       "access 'write' is not valid; use read or read_write"},
      {"", {"unshare", a}, 1, "is not a share name"},
      {"", {"transfer", a}, 1, "transfer: wrong arguments"},
      // The server's answers: exit 2 + code.
      {"",
       {"policy", "create", "sharingRules", "r",
        R"({"object": "accounts", "criteria": "nope = 1",
            "shared_with": {"role": "roles/rep"}, "access": "READ"})"},
       2 + 3,
       "nope"},
      {"", {"policy", "get", "roles/nope"}, 2 + 5, "roles/nope not found"},
      {"bob", {"policy", "list", "roles"}, 2 + 7, "manage_policy is required"},
      {"alice", {"share", "accounts/missing", "users/bob"}, 2 + 5,
       "accounts/missing not found"},
      {"bob", {"share", a, "users/bob"}, 2 + 5, "not found"},
      {"alice", {"share", a, "users/nobody"}, 2 + 3, "users/nobody"},
      {"alice", {"transfer", a, "nobody"}, 2 + 3, "users/nobody"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    CliResult r = c.user.empty() ? Run(c.args) : As(c.user, c.args);
    EXPECT_EQ(r.code, c.code) << r.Describe();
    EXPECT_THAT(r.err, AllOf(StartsWith("error: "), HasSubstr(c.err)))
        << r.Describe();
    EXPECT_EQ(r.out, "") << r.Describe();
  }
  // Nothing was written: no sharing rule, no share, the owner unchanged.
  CliResult r = Run({"--output", "json", "policy", "list", "sharingRules"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::ListPolicyObjectsResponse>(r.out).objects_size(),
            0);
  r = As("alice", {"--output", "json", "shares", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::ListRecordSharesResponse>(r.out).shares_size(),
            0);
  r = As("alice", {"--output", "json", "accounts", "get", a});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(ParseJson<crm::v1::Account>(r.out).owner(), "users/alice");
}

TEST_P(PolicyCliE2eTest, UsersAndProfiles) {
  CliResult r = Run({"profiles", "list"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("profiles/rep"), HasSubstr("Rep")));
  r = Run({"profiles", "get", "rep"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("profiles/rep"));

  r = Run({"users", "create", "carol", "profile=rep", "display_name=Carol C",
           "--password-stdin"},
          "", "tangerine-sky-41\n");
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("users/carol"), HasSubstr("profiles/rep"),
                           HasSubstr("Carol C")));
  EXPECT_THAT(r.out, Not(HasSubstr("tangerine-sky-41")));
  auto client = server_->Client("admin-cli");
  EXPECT_TRUE(LoginToken(*client, "carol", "tangerine-sky-41").ok());

  r = Run({"--output", "json", "users", "update", "carol", "role=rep"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto carol = ParseJson<crm::v1::User>(r.out);
  EXPECT_EQ(carol.role(), "roles/rep");
  EXPECT_EQ(carol.display_name(), "Carol C");  // not in the mask: kept
  EXPECT_TRUE(carol.active());

  r = Run({"users", "list"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("users/alice"), HasSubstr("users/bob"),
                           HasSubstr("users/carol")));
  r = Run({"users", "get", "users/carol"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("roles/rep"));

  r = Run({"users", "set-password", "carol", "--password-stdin"}, "",
          "tangerine-sky-42\n");
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_EQ(r.out, "password set for users/carol; their sessions ended\n");
  EXPECT_FALSE(LoginToken(*client, "carol", "tangerine-sky-41").ok());
  EXPECT_TRUE(LoginToken(*client, "carol", "tangerine-sky-42").ok());

  // Bad input: locally (exit 1) and from the server.
  r = Run({"users", "create", "dan", "--password-stdin"}, "", "x\n");
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("profile=ID is required"));
  r = Run({"users", "create", "dan", "shoe_size=9"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("shoe_size"));
  r = Run({"users", "explode"});
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("users: unknown verb 'explode'"));
  r = Run({"users", "create", "dan", "profile=rep", "--password-stdin"}, "",
          "short\n");
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("12"));
  r = Run({"users", "get", "nobody"});
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();
  r = As("bob", {"users", "list"});
  EXPECT_EQ(r.code, 2 + 7) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("manage_users"));
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyCliE2eTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

// The built executable, as a user runs it.
#ifdef CRM_CRMCTL_PATH

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs `env VARS crmctl ARGS` with a shell; stdout and stderr captured.
CliResult RunCrmctl(const std::map<std::string, std::string>& env,
                    const std::vector<std::string>& args,
                    const std::string& tmp) {
  std::string cmd = "env";
  for (const auto& [k, v] : env) absl::StrAppend(&cmd, " ", k, "=", ShellQuote(v));
  absl::StrAppend(&cmd, " ", ShellQuote(CRM_CRMCTL_PATH));
  for (const std::string& a : args) absl::StrAppend(&cmd, " ", ShellQuote(a));
  absl::StrAppend(&cmd, " >", tmp, "/out 2>", tmp, "/err");
  int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFileOrDie(tmp + "/out");
  r.err = ReadFileOrDie(tmp + "/err");
  return r;
}

TEST(CrmctlExecutable, CrudEchoHelpAndExitCodes) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const TestServer& ts = **server;
  const std::string tmp = MakeTempDir("e2e-crmctl");
  const std::map<std::string, std::string> env = {
      {"CRM_TARGET", ts.target()},
      {"CRM_CA", ts.certs().ca},
      {"CRM_CERT", ts.certs().ClientCert("admin-cli")},
      {"CRM_KEY", ts.certs().ClientKey("admin-cli")}};

  CliResult r = RunCrmctl(env, {"--help"}, tmp);
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("usage: crmctl"));

  r = RunCrmctl(env, {"echo", "ping"}, tmp);
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("ping"), HasSubstr("services/admin-cli")));

  r = RunCrmctl(env,
                {"--output", "json", "accounts", "create",
                 "display_name=Soylent Foods", "billing_country=FR"},
                tmp);
  ASSERT_EQ(r.code, 0) << r.Describe();
  auto account = ParseJson<crm::v1::Account>(r.out);
  ASSERT_THAT(account.name(), StartsWith("accounts/"));

  r = RunCrmctl(env, {"accounts", "list"}, tmp);
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr(account.name()), HasSubstr("Soylent")));

  r = RunCrmctl(env, {"accounts", "update", account.name(), "billing_city=Lyon"},
                tmp);
  EXPECT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("Lyon"));

  r = RunCrmctl(env, {"accounts", "delete", account.name()}, tmp);
  EXPECT_EQ(r.code, 0) << r.Describe();
  r = RunCrmctl(env, {"accounts", "get", account.name()}, tmp);
  EXPECT_EQ(r.code, 2 + 5) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("error: NOT_FOUND: "));

  r = RunCrmctl(env, {"accounts", "list", "--filter", "("}, tmp);
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();
  r = RunCrmctl(env, {"nope"}, tmp);
  EXPECT_EQ(r.code, 1) << r.Describe();

  // Flags override the environment: no server at this address.
  r = RunCrmctl(env, {"--target", "127.0.0.1:1", "echo"}, tmp);
  EXPECT_EQ(r.code, 2 + 14) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("error: UNAVAILABLE: "));
  RemoveTempDir(tmp);
}

#endif  // CRM_CRMCTL_PATH

}  // namespace
}  // namespace crm::testing
