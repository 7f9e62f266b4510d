#include "auth/session_manager.h"

#include "auth/auth_test_fixture.h"
#include "auth/session_token.h"
#include "gmock/gmock.h"

namespace crm::auth {
namespace {

class SessionManagerTest : public IdentityBackendTest {
 public:
  std::string Login() {
    auto r = MakeAuthenticator().Login("bob", "bob-pw", "web", Loopback());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->token : "";
  }
  absl::Status Check(const std::string& token, const std::string& service =
                                                   "web") {
    return MakeSessions().Validate(token, service, Loopback()).status();
  }
};

TEST_P(SessionManagerTest, ValidSessionGivesTheUser) {
  std::string token = Login();
  auto user = MakeSessions().Validate(token, "web", Loopback());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->user_id, "bob");
  EXPECT_EQ(user->token_hash, HashToken(token));
  EXPECT_EQ(user->system_permissions, PermissionSet{"export"});
  EXPECT_EQ(user->session_expire_time, clock_.Now() + absl::Hours(1));
}

TEST_P(SessionManagerTest, EveryRefusalIsTheSame) {
  struct Case {
    const char* what;
    std::function<std::string(SessionManagerTest&)> setup;
    const char* service;
  } cases[] = {
      {"another service", [](SessionManagerTest& t) { return t.Login(); },
       "billing"},
      {"idle", [](SessionManagerTest& t) {
         std::string token = t.Login();
         t.clock_.Advance(absl::Minutes(10));
         return token;
       }, "web"},
      {"revoked", [](SessionManagerTest& t) {
         std::string token = t.Login();
         EXPECT_TRUE(t.MakeSessions().Logout(HashToken(token)).ok());
         return token;
       }, "web"},
      {"user locked", [](SessionManagerTest& t) {
         std::string token = t.Login();
         for (int i = 0; i < 3; ++i) {
           (void)t.MakeAuthenticator().Login("bob", "x", "web", Loopback());
         }
         return token;
       }, "web"},
      {"unknown", [](SessionManagerTest&) { return NewSessionToken().token; },
       "web"},
      {"malformed", [](SessionManagerTest&) { return std::string("crm_x"); },
       "web"},
  };
  for (const Case& c : cases) {
    std::string token = c.setup(*this);
    absl::Status s = Check(token, c.service);
    EXPECT_TRUE(absl::IsUnauthenticated(s)) << c.what << ": " << s;
    EXPECT_EQ(s.message(), kBadTokenMessage) << c.what;
  }
}

TEST_P(SessionManagerTest, RevokeUserSessionsCountsOpenOnes) {
  std::string a = Login();
  std::string b = Login();
  ASSERT_TRUE(MakeSessions().Logout(HashToken(a)).ok());
  auto n = MakeSessions().RevokeUserSessions("bob");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(absl::IsUnauthenticated(Check(b)));
  EXPECT_TRUE(absl::IsUnauthenticated(MakeSessions().Logout(HashToken(b))));
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionManagerTest,
                         ::testing::ValuesIn(crm::testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::auth
