// crmctl login / whoami / users / logout against a real TestServer.
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "clients/cli.h"
#include "tests/auth_test_util.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class AuthCliTest : public AuthFixture, public ::testing::Test {
 protected:
  void SetUp() override { StartServer(Backend::kSqlite); }

  // Runs crmctl as admin-cli; stdin holds `input`.
  int Run(const std::vector<std::string>& args, std::string* out,
          std::string* err, const std::string& input = "") {
    std::istringstream in(input);
    client::CliDeps deps;
    deps.env = [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    };
    deps.in = &in;
    deps.connect = [this](const client::GlobalOptions&)
        -> absl::StatusOr<std::unique_ptr<client::CrmClient>> {
      return server_->Client("admin-cli");
    };
    std::ostringstream o, e;
    int code = client::RunCli(args, o, e, deps);
    *out = o.str();
    *err = e.str();
    return code;
  }
};

TEST_F(AuthCliTest, LoginThenWhoAmIThenLogout) {
  std::string out, err;
  ASSERT_EQ(Run({"login", "bob", "--password-stdin"}, &out, &err, "bob-pw\n"),
            0)
      << err;
  ASSERT_TRUE(absl::StartsWith(out, "export CRM_TOKEN=crm_")) << out;
  EXPECT_THAT(out, HasSubstr("users/bob"));
  std::string token = std::string(absl::StripPrefix(
      std::vector<std::string>(absl::StrSplit(out, '\n'))[0],
      "export CRM_TOKEN="));

  ASSERT_EQ(Run({"--token", token, "whoami"}, &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("users/bob"));
  EXPECT_THAT(out, HasSubstr("Staff"));
  EXPECT_THAT(out, HasSubstr("services/admin-cli"));

  ASSERT_EQ(Run({"--token", token, "logout"}, &out, &err), 0) << err;
  EXPECT_EQ(Run({"--token", token, "whoami"}, &out, &err), 2 + 16);
  EXPECT_THAT(err, HasSubstr("session token is invalid or expired"));
}

TEST_F(AuthCliTest, WrongPasswordAndAdminCommands) {
  std::string out, err;
  EXPECT_EQ(Run({"login", "bob", "--password-stdin"}, &out, &err, "nope\n"),
            2 + 16);
  EXPECT_THAT(err, HasSubstr("invalid username or password"));
  ASSERT_EQ(Run({"users", "unlock", "bob"}, &out, &err), 0) << err;
  ASSERT_EQ(Run({"users", "revoke-sessions", "users/bob"}, &out, &err), 0)
      << err;
  EXPECT_THAT(out, HasSubstr("revoked 0 session(s)"));
  EXPECT_EQ(Run({"users", "unlock", "nobody"}, &out, &err), 2 + 5);
  EXPECT_EQ(Run({"users", "frobnicate", "bob"}, &out, &err), 1);
}

}  // namespace
}  // namespace crm::testing
