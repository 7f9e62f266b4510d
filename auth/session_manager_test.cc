#include "auth/session_manager.h"

#include "auth/auth_test_fixture.h"
#include "auth/session_token.h"
#include "base/error.h"
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
  absl::Status Check(const std::string& token,
                     const std::string& service = "web") {
    return MakeSessions().Validate(token, service, Loopback()).status();
  }
  // Deactivates or reactivates bob as UserAdminService does.
  void SetActive(bool active) {
    auto up = store_->FindUserById("bob");
    ASSERT_TRUE(up.ok() && up->has_value());
    store::UserRow row = (*up)->user;
    row.active = active;
    auto done = store_->UpdateUser(row, row.version);
    ASSERT_TRUE(done.ok() && *done);
  }
};

TEST_P(SessionManagerTest, ValidSessionGivesTheUser) {
  std::string token = Login();
  auto user = MakeSessions().Validate(token, "web", Loopback());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->user_id, "bob");
  EXPECT_EQ(user->token_hash, HashToken(token));
  EXPECT_EQ(user->profile_id, "p");
  EXPECT_EQ(user->profile_name, "Plain");
  EXPECT_EQ(user->time_zone, "Europe/London");
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
      {"idle",
       [](SessionManagerTest& t) {
         std::string token = t.Login();
         t.clock_.Advance(absl::Minutes(10));
         return token;
       },
       "web"},
      {"revoked",
       [](SessionManagerTest& t) {
         std::string token = t.Login();
         EXPECT_TRUE(t.MakeSessions().Logout(HashToken(token)).ok());
         return token;
       },
       "web"},
      {"user deactivated and reactivated",
       [](SessionManagerTest& t) {
         std::string token = t.Login();
         t.SetActive(false);
         t.SetActive(true);
         return token;
       },
       "web"},
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

TEST_P(SessionManagerTest, LockoutEndsNoSessionButRevocationDoes) {
  std::string token = Login();
  auto a = MakeAuthenticator();
  for (const char* from : {"127.0.0.1", "127.66.0.1"}) {
    for (int i = 0; i < 3; ++i) {
      (void)a.Login("bob", "x", "web", *login::IpAddress::Parse(from));
    }
  }
  EXPECT_FALSE(a.Login("bob", "bob-pw", "web", Loopback()).ok()) << "locked";
  EXPECT_TRUE(Check(token).ok()) << "the open session goes on";
  ASSERT_TRUE(MakeSessions().RevokeUserSessions("bob").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(Check(token)));
}

TEST_P(SessionManagerTest, DeactivationEndsSessionsForGood) {
  std::string token = Login();
  SetActive(false);
  EXPECT_TRUE(absl::IsUnauthenticated(Check(token)));
  EXPECT_FALSE(
      MakeAuthenticator().Login("bob", "bob-pw", "web", Loopback()).ok());
  SetActive(true);
  EXPECT_TRUE(absl::IsUnauthenticated(Check(token))) << "not revived";
  std::string fresh = Login();
  EXPECT_TRUE(Check(fresh).ok());
}

// A Login that read the user before a deactivation committed and inserts
// its session after: the session carries the old epoch and is dead.
TEST_P(SessionManagerTest, SessionOfALoginRacingADeactivationIsDead) {
  auto up = store_->FindUserById("bob");
  ASSERT_TRUE(up.ok() && up->has_value());
  const int64_t epoch_read_by_login = (*up)->user.session_epoch;
  SetActive(false);
  SetActive(true);
  IssuedToken issued = NewSessionToken();
  store::SessionRow row;
  row.token_hash = issued.hash;
  row.user_id = "bob";
  row.service = "web";
  row.create_time = absl::ToUnixMicros(clock_.Now());
  row.last_seen = row.create_time;
  row.expire_time = absl::ToUnixMicros(clock_.Now() + absl::Hours(1));
  row.user_epoch = epoch_read_by_login;
  ASSERT_TRUE(store_->InsertSession(row).ok());
  absl::Status s = Check(issued.token);
  EXPECT_TRUE(absl::IsUnauthenticated(s)) << s;
}

// The restrictions are those of the snapshot the call is decided with: a
// change applies to an open session from the first call on the new policy
// version, and not before.
TEST_P(SessionManagerTest, RestrictionsComeFromTheGivenSnapshot) {
  std::string token = Login();
  SessionManager sessions(store_.get(), &clock_, settings_, nullptr);
  std::shared_ptr<const policy::PolicySnapshot> before = Policy();
  ASSERT_NE(before, nullptr);
  auto p = store_->FindProfileById("p");
  ASSERT_TRUE(p.ok() && p->has_value());
  store::ProfileRow changed = **p;
  changed.allowed_ip_ranges = "10.0.0.0/8";
  auto done = store_->UpdateProfile(changed, changed.version);
  ASSERT_TRUE(done.ok() && *done);
  EXPECT_TRUE(sessions.Validate(token, "web", Loopback(), before.get()).ok())
      << "the old version still allows it";
  std::shared_ptr<const policy::PolicySnapshot> after = Policy();
  ASSERT_NE(after, nullptr);
  EXPECT_GT(after->version(), before->version());
  absl::Status s =
      sessions.Validate(token, "web", Loopback(), after.get()).status();
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(s.message(),
              ::testing::HasSubstr("ip_ranges of profile 'Plain'"));
}

// A snapshot without the user's profile (none loaded, or one older than
// the profile) refuses: fail closed, never allow.
TEST_P(SessionManagerTest, SnapshotWithoutTheProfileRefuses) {
  std::string token = Login();
  SessionManager sessions(store_.get(), &clock_, settings_, nullptr);
  auto empty = policy::PolicySnapshot::Build(policy::PolicySnapshot::Services(),
                                             model::SchemaRegistry::Default());
  ASSERT_TRUE(empty.ok()) << empty.status();
  for (const policy::PolicySnapshot* snapshot :
       {static_cast<const policy::PolicySnapshot*>(nullptr), empty->get()}) {
    absl::Status s =
        sessions.Validate(token, "web", Loopback(), snapshot).status();
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_EQ(base::GetReason(s), "POLICY_NOT_CURRENT") << s;
    EXPECT_TRUE(base::GetRetryInfo(s).has_value()) << s;
  }
  auto login = Authenticator(store_.get(), &clock_, settings_, nullptr)
                   .Login("bob", "bob-pw", "web", Loopback(), empty->get());
  EXPECT_TRUE(absl::IsUnavailable(login.status())) << login.status();
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionManagerTest,
                         ::testing::ValuesIn(crm::testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::auth
