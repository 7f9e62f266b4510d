// Login, lockout, WhoAmI and the admin calls of AuthService, through the
// real server over mTLS on both backends (lockout from several addresses:
// tests/auth_lockout_test.cc).
#include "tests/auth_test_util.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class AuthLoginTest : public AuthFixture,
                      public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    StartServer(GetParam(), [](crm::internal::ServerConfig& c) {
      c.mutable_auth()->set_lockout_threshold(3);
      c.mutable_auth()->set_lockout_seconds(600);
      c.mutable_auth()->set_session_absolute_seconds(7200);
    });
  }
};

TEST_P(AuthLoginTest, LoginOpensASessionThatWhoAmIShows) {
  auto web = server_->Client("web-frontend");
  crm::v1::LoginResponse login;
  grpc::Status s = Login(*web, "BOB", "bob-pw", &login);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_THAT(login.session_token(), ::testing::StartsWith("crm_"));
  EXPECT_EQ(login.user().name(), "users/bob");
  EXPECT_EQ(login.expire_time().seconds(),
            absl::ToUnixSeconds(MondayTenUtc() + absl::Hours(2)));

  auto as_bob = UserClient("web-frontend", login.session_token());
  crm::v1::WhoAmIResponse who;
  s = WhoAmI(*as_bob, &who);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(who.service(), "services/web-frontend");
  EXPECT_TRUE(who.acting_for_user());
  EXPECT_EQ(who.user().name(), "users/bob");
  EXPECT_EQ(who.user().username(), "bob");
  EXPECT_EQ(who.user().profile(), "profiles/staff");
  EXPECT_EQ(who.user().profile_display_name(), "Staff");
  EXPECT_EQ(who.client_address(), "127.0.0.1");
  EXPECT_EQ(who.session_expire_time().seconds(), login.expire_time().seconds());
  EXPECT_EQ(who.system_permissions_size(), 0);
}

TEST_P(AuthLoginTest, WhoAmIWithoutTokenIsTheServiceItself) {
  auto admin = server_->Client("admin-cli");
  crm::v1::WhoAmIResponse who;
  grpc::Status s = WhoAmI(*admin, &who);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(who.service(), "services/admin-cli");
  EXPECT_FALSE(who.acting_for_user());
  EXPECT_FALSE(who.has_user());
  EXPECT_THAT(who.system_permissions(), ::testing::ElementsAre("manage_users"));
}

TEST_P(AuthLoginTest, FailuresLookTheSameForEveryReason) {
  ASSERT_TRUE(AddUser(*server_, "gone", "gone-pw", "staff").ok());
  // Deactivate "gone" directly: there is no user admin API yet.
  {
    auto found =
        server_->server().core().authn->identities().FindUserByUsername("gone");
    ASSERT_TRUE(found.ok() && found->has_value());
    store::UserRow row = (*found)->user;
    row.id = "gone2";
    row.username = "gone2";
    row.active = false;
    ASSERT_TRUE(
        server_->server().core().authn->identities().CreateUser(row).ok());
  }
  auto web = server_->Client("web-frontend");
  struct Case {
    const char* what;
    const char* username;
    const char* password;
  } cases[] = {
      {"wrong password", "bob", "nope"},
      {"unknown user", "nobody", "bob-pw"},
      {"inactive user", "gone2", "gone-pw"},
  };
  for (const Case& c : cases) {
    grpc::Status s = Login(*web, c.username, c.password);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.what;
    EXPECT_EQ(s.error_message(), "invalid username or password") << c.what;
  }
  grpc::Status empty = Login(*web, "bob", "");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(AuthLoginTest, LockoutAfterThresholdThenAdminUnlocks) {
  auto web = server_->Client("web-frontend");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Login(*web, "bob", "wrong").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::Status locked = Login(*web, "bob", "bob-pw");
  EXPECT_EQ(locked.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << "a locked user must be refused even with the right password";
  EXPECT_EQ(locked.error_message(), "invalid username or password");

  auto admin = server_->Client("admin-cli");
  grpc::Status s = Unlock(*admin, "bob");
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_TRUE(Login(*web, "bob", "bob-pw").ok());
}

TEST_P(AuthLoginTest, LockExpiresWithTime) {
  auto web = server_->Client("web-frontend");
  for (int i = 0; i < 3; ++i) (void)Login(*web, "bob", "wrong");
  EXPECT_FALSE(Login(*web, "bob", "bob-pw").ok());
  clock_.Advance(absl::Seconds(599));
  EXPECT_FALSE(Login(*web, "bob", "bob-pw").ok()) << "still locked";
  clock_.Advance(absl::Seconds(2));
  grpc::Status s = Login(*web, "bob", "bob-pw");
  EXPECT_TRUE(s.ok()) << "the lock expired: " << StatusText(s);
}

TEST_P(AuthLoginTest, LockingEndsNoExistingSession) {
  auto web = server_->Client("web-frontend");
  std::string token = MustLogin(*web, "bob", "bob-pw");
  for (int i = 0; i < 3; ++i) (void)Login(*web, "bob", "wrong");
  EXPECT_FALSE(Login(*web, "bob", "bob-pw").ok()) << "locked";
  auto as_bob = UserClient("web-frontend", token);
  grpc::Status s = WhoAmI(*as_bob);
  EXPECT_TRUE(s.ok()) << "a lockout is not a revocation: " << StatusText(s);
}

TEST_P(AuthLoginTest, AdminCallsNeedManageUsers) {
  auto web = server_->Client("web-frontend");
  std::string bob = MustLogin(*web, "bob", "bob-pw");
  auto admin = server_->Client("admin-cli");
  std::string alice = MustLogin(*admin, "alice", "alice-pw");
  std::string bob_via_admin = MustLogin(*admin, "bob", "bob-pw");
  std::string alice_via_web = MustLogin(*web, "alice", "alice-pw");

  struct Case {
    const char* what;
    std::unique_ptr<client::CrmClient> client;
    grpc::StatusCode want;
  };
  Case cases[] = {
      {"admin-cli as itself", server_->Client("admin-cli"),
       grpc::StatusCode::OK},
      {"billing as itself", server_->Client("billing"),
       grpc::StatusCode::PERMISSION_DENIED},
      {"alice through admin-cli", UserClient("admin-cli", alice),
       grpc::StatusCode::OK},
      {"bob through admin-cli", UserClient("admin-cli", bob_via_admin),
       grpc::StatusCode::PERMISSION_DENIED},
      {"bob through web-frontend", UserClient("web-frontend", bob),
       grpc::StatusCode::PERMISSION_DENIED},
      {"alice through web-frontend (the service lacks manage_users)",
       UserClient("web-frontend", alice_via_web),
       grpc::StatusCode::PERMISSION_DENIED},
  };
  for (Case& c : cases) {
    grpc::Status s = Unlock(*c.client, "bob");
    EXPECT_EQ(s.error_code(), c.want) << c.what << ": " << StatusText(s);
    if (c.want == grpc::StatusCode::PERMISSION_DENIED) {
      EXPECT_THAT(s.error_message(), HasSubstr("manage_users")) << c.what;
    }
    crm::v1::RevokeUserSessionsRequest request;
    request.set_username("nobody");
    crm::v1::RevokeUserSessionsResponse response;
    auto ctx = c.client->NewContext();
    s = c.client->auth().RevokeUserSessions(ctx.get(), request, &response);
    EXPECT_EQ(s.error_code(), c.want == grpc::StatusCode::OK
                                  ? grpc::StatusCode::NOT_FOUND
                                  : c.want)
        << c.what << ": " << StatusText(s);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthLoginTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
