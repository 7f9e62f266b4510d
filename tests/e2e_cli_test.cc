// crmctl end to end against the real server over mTLS: the CLI logic
// in-process through RunCli (with the default connect, pointed at the test
// server through the CRM_* environment), and the built crmctl executable as
// a subprocess. Covers CRUD on accounts and contacts in table and JSON
// output, the documented exit codes and error lines, echo and --help.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
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
#include "clients/cli.h"
#include "crm/v1/resources.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct CliResult {
  int code = -1;
  std::string out, err;
  std::string Describe() const {
    return absl::StrCat("exit ", code, "\n--- stdout:\n", out,
                        "--- stderr:\n", err);
  }
};

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
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    env_ = {{"CRM_TARGET", server_->target()},
            {"CRM_CA", server_->certs().ca},
            {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
            {"CRM_KEY", server_->certs().ClientKey("admin-cli")}};
  }

  // crmctl ARGS in-process, with the CRM_* variables of env_ and the real
  // (default) connect.
  CliResult Run(const std::vector<std::string>& args) const {
    client::CliDeps deps;
    const auto env = env_;
    deps.env = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    std::ostringstream out, err;
    CliResult r;
    r.code = client::RunCli(args, out, err, deps);
    r.out = out.str();
    r.err = err.str();
    return r;
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

TEST_P(CliE2eTest, BadInputHasExitCodesAndOneErrorLine) {
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
    // One line, "error: ..." first.
    EXPECT_THAT(r.err, StartsWith("error: ")) << r.Describe();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.Describe();
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
