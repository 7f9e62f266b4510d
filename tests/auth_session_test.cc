// Session tokens through the real server: idle and absolute expiry (with a
// FakeClock), revocation, reuse after logout, tampering, another service;
// sessions die with their user (deactivation, deletion) and reactivation
// revives none.
#include "auth/session_token.h"
#include "crm/v1/user_admin_service.grpc.pb.h"
#include "tests/auth_test_util.h"

namespace crm::testing {
namespace {

class AuthSessionTest : public AuthFixture,
                        public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    StartServer(GetParam(), [](crm::internal::ServerConfig& c) {
      c.mutable_auth()->set_session_idle_seconds(600);
      c.mutable_auth()->set_session_absolute_seconds(3600);
    });
    web_ = server_->Client("web-frontend");
  }

  void ExpectRefused(client::CrmClient& client, const std::string& what) {
    grpc::Status s = WhoAmI(client);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what << ": " << StatusText(s);
    EXPECT_EQ(s.error_message(), "session token is invalid or expired") << what;
  }

  // UserAdminService.UpdateUser of bob's active flag, by admin-cli.
  grpc::Status SetBobActive(bool active) {
    auto admin = server_->Client("admin-cli");
    auto stub = crm::v1::UserAdminService::NewStub(admin->channel());
    crm::v1::UpdateUserRequest request;
    request.mutable_user()->set_name("users/bob");
    request.mutable_user()->set_active(active);
    request.mutable_update_mask()->add_paths("active");
    crm::v1::User response;
    auto ctx = admin->NewContext();
    return stub->UpdateUser(ctx.get(), request, &response);
  }

  grpc::Status DeleteBob() {
    auto admin = server_->Client("admin-cli");
    auto stub = crm::v1::UserAdminService::NewStub(admin->channel());
    crm::v1::DeleteUserRequest request;
    request.set_name("users/bob");
    google::protobuf::Empty response;
    auto ctx = admin->NewContext();
    return stub->DeleteUser(ctx.get(), request, &response);
  }

  std::unique_ptr<client::CrmClient> web_;
};

TEST_P(AuthSessionTest, DeactivationEndsSessionsAndReactivationRevivesNone) {
  auto old_session =
      UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  auto alice =
      UserClient("web-frontend", MustLogin(*web_, "alice", "alice-pw"));
  ASSERT_TRUE(WhoAmI(*old_session).ok());

  grpc::Status s = SetBobActive(false);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  ExpectRefused(*old_session, "bob deactivated");
  EXPECT_EQ(Login(*web_, "bob", "bob-pw").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  s = SetBobActive(true);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  ExpectRefused(*old_session, "bob reactivated: the old token stays dead");
  auto new_session =
      UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  s = WhoAmI(*new_session);
  EXPECT_TRUE(s.ok()) << "a new login works: " << StatusText(s);
  EXPECT_TRUE(WhoAmI(*alice).ok()) << "another user's session is untouched";
}

TEST_P(AuthSessionTest, DeletionEndsSessionsEvenForANewUserOfTheSameName) {
  std::string token = MustLogin(*web_, "bob", "bob-pw");
  auto old_session = UserClient("web-frontend", token);
  ASSERT_TRUE(WhoAmI(*old_session).ok());
  grpc::Status s = DeleteBob();
  ASSERT_TRUE(s.ok()) << StatusText(s);
  ExpectRefused(*old_session, "bob deleted");
  auto stored = server_->server().core().authn->identities().FindSession(
      auth::HashToken(token));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_FALSE(stored->has_value()) << "the session rows are gone";

  ASSERT_TRUE(AddUser(*server_, "bob", "bob-pw", "staff").ok());
  ExpectRefused(*old_session, "a new bob with the same id");
  EXPECT_TRUE(
      WhoAmI(*UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw")))
          .ok());
}

TEST_P(AuthSessionTest, IdleSessionExpiresAndUseKeepsItAlive) {
  auto as_bob = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  clock_.Advance(absl::Seconds(590));
  ASSERT_TRUE(WhoAmI(*as_bob).ok()) << "used within the idle time";
  clock_.Advance(absl::Seconds(590));
  ASSERT_TRUE(WhoAmI(*as_bob).ok()) << "the last use restarted the idle time";
  clock_.Advance(absl::Seconds(601));
  ExpectRefused(*as_bob, "idle for longer than 600 s");
}

TEST_P(AuthSessionTest, AbsoluteLifetimeEndsEvenABusySession) {
  auto as_bob = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  for (int i = 0; i < 7; ++i) {
    clock_.Advance(absl::Seconds(500));
    ASSERT_TRUE(WhoAmI(*as_bob).ok()) << "at " << (i + 1) * 500 << " s";
  }
  clock_.Advance(absl::Seconds(100));  // 3600 s after login
  ExpectRefused(*as_bob, "at the absolute lifetime");
}

TEST_P(AuthSessionTest, RevokeUserSessionsEndsThemAtOnce) {
  auto one = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  auto two = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  auto alice =
      UserClient("web-frontend", MustLogin(*web_, "alice", "alice-pw"));
  ASSERT_TRUE(WhoAmI(*one).ok());
  auto admin = server_->Client("admin-cli");
  crm::v1::RevokeUserSessionsRequest request;
  request.set_user("users/bob");
  crm::v1::RevokeUserSessionsResponse response;
  auto ctx = admin->NewContext();
  grpc::Status s =
      admin->auth().RevokeUserSessions(ctx.get(), request, &response);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(response.revoked_count(), 2);
  ExpectRefused(*one, "revoked session one");
  ExpectRefused(*two, "revoked session two");
  EXPECT_TRUE(WhoAmI(*alice).ok()) << "another user's session is untouched";
}

TEST_P(AuthSessionTest, LogoutEndsTheSessionForGood) {
  auto as_bob = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  google::protobuf::Empty empty;
  auto ctx = as_bob->NewContext();
  grpc::Status s =
      as_bob->auth().Logout(ctx.get(), crm::v1::LogoutRequest(), &empty);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  ExpectRefused(*as_bob, "reuse after logout");
  ctx = as_bob->NewContext();
  s = as_bob->auth().Logout(ctx.get(), crm::v1::LogoutRequest(), &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // Without a token there is nothing to end.
  ctx = web_->NewContext();
  s = web_->auth().Logout(ctx.get(), crm::v1::LogoutRequest(), &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_P(AuthSessionTest, TamperedAndMalformedTokensAreRefused) {
  std::string token = MustLogin(*web_, "bob", "bob-pw");
  std::string tampered = token;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  std::string fresh = auth::NewSessionToken().token;  // never issued
  for (const std::string& bad :
       {tampered, fresh, token.substr(0, token.size() - 1), std::string("x")}) {
    ExpectRefused(*UserClient("web-frontend", bad), "token " + bad);
  }
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Basic Ym9iOmJvYi1wdw==");
  crm::v1::WhoAmIResponse who;
  grpc::Status s =
      web_->auth().WhoAmI(ctx.get(), crm::v1::WhoAmIRequest(), &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_P(AuthSessionTest, TokenIsBoundToTheServiceThatCreatedIt) {
  std::string token = MustLogin(*web_, "bob", "bob-pw");
  ExpectRefused(*UserClient("admin-cli", token), "replayed through admin-cli");
  ExpectRefused(*UserClient("billing", token), "replayed through billing");
  EXPECT_TRUE(WhoAmI(*UserClient("web-frontend", token)).ok());
}

TEST_P(AuthSessionTest, UserCallsGoThroughThePolicy) {
  // The policy decides what a user may do; a user principal reaches it.
  auto as_bob = UserClient("web-frontend", MustLogin(*web_, "bob", "bob-pw"));
  crm::v1::ListAccountsRequest request;
  crm::v1::ListAccountsResponse response;
  auto ctx = as_bob->NewContext();
  grpc::Status s =
      as_bob->accounts().ListAccounts(ctx.get(), request, &response);
  EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << StatusText(s);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthSessionTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
