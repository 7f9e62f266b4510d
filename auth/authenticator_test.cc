#include "auth/authenticator.h"

#include "auth/auth_test_fixture.h"
#include "auth/session_token.h"
#include "gmock/gmock.h"

namespace crm::auth {
namespace {

using ::testing::HasSubstr;

class AuthenticatorTest : public IdentityBackendTest {};

TEST_P(AuthenticatorTest, LoginStoresOnlyTheTokenHash) {
  Authenticator a = MakeAuthenticator();
  auto r = a.Login("Bob", "bob-pw", "web", Loopback());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(LooksLikeToken(r->token));
  EXPECT_EQ(r->user.user_id, "bob");
  EXPECT_EQ(r->user.profile_name, "Plain");
  EXPECT_EQ(r->expire_time, clock_.Now() + absl::Hours(1));
  auto by_token = store_->FindSession(r->token);
  ASSERT_TRUE(by_token.ok());
  EXPECT_FALSE(by_token->has_value()) << "the plain token must not be a key";
  auto by_hash = store_->FindSession(HashToken(r->token));
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  EXPECT_EQ((*by_hash)->session.service, "web");
}

TEST_P(AuthenticatorTest, FailuresShareOneMessage) {
  Authenticator a = MakeAuthenticator();
  for (auto [user, password] : {std::pair{"bob", "nope"},
                                std::pair{"nobody", "bob-pw"}}) {
    auto r = a.Login(user, password, "web", Loopback());
    EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << user;
    EXPECT_EQ(r.status().message(), kBadLoginMessage) << user;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      a.Login("", "x", "web", Loopback()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      a.Login("bob", std::string(kMaxPasswordBytes + 1, 'x'), "web",
              Loopback())
          .status()));
}

TEST_P(AuthenticatorTest, LockoutCountsAndExpires) {
  Authenticator a = MakeAuthenticator();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a.Login("bob", "nope", "web", Loopback()).ok());
  }
  auto row = store_->FindUserById("bob");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->user.failed_logins, 3);
  EXPECT_EQ((*row)->user.locked_until,
            absl::ToUnixMicros(clock_.Now() + absl::Minutes(10)));
  auto locked = a.Login("bob", "bob-pw", "web", Loopback());
  EXPECT_EQ(locked.status().message(), kBadLoginMessage);
  clock_.Advance(absl::Minutes(10));
  auto r = a.Login("bob", "bob-pw", "web", Loopback());
  ASSERT_TRUE(r.ok()) << r.status();
  row = store_->FindUserById("bob");
  EXPECT_EQ((*row)->user.failed_logins, 0) << "success clears the count";
  EXPECT_EQ((*row)->user.locked_until, 0);
}

TEST_P(AuthenticatorTest, UnlockClearsTheLock) {
  Authenticator a = MakeAuthenticator();
  for (int i = 0; i < 3; ++i) (void)a.Login("bob", "nope", "web", Loopback());
  ASSERT_TRUE(a.Unlock("bob").ok());
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web", Loopback()).ok());
  EXPECT_TRUE(absl::IsNotFound(a.Unlock("nobody")));
}

TEST_P(AuthenticatorTest, RestrictionsAreCheckedAfterThePassword) {
  store::ProfileRow p;
  p.id = "far";
  p.name = "Far Away";
  p.allowed_ip_ranges = "10.0.0.0/8";
  ASSERT_TRUE(store_->CreateProfile(p).ok());
  NewUser eve{"eve", "eve", "Eve", "eve-pw", "far", "", true};
  ASSERT_TRUE(
      CreateUserWithPassword(*store_, eve, settings_.hash_params, clock_.Now())
          .ok());
  Authenticator a = MakeAuthenticator();
  auto wrong = a.Login("eve", "nope", "web", Loopback());
  EXPECT_EQ(wrong.status().message(), kBadLoginMessage);
  auto right = a.Login("eve", "eve-pw", "web", Loopback());
  EXPECT_TRUE(absl::IsPermissionDenied(right.status())) << right.status();
  EXPECT_THAT(right.status().message(),
              HasSubstr("ip_ranges of profile 'Far Away'"));
}

TEST_P(AuthenticatorTest, CreateUserValidates) {
  NewUser bad{"x", "no spaces", "", "pw", "p", "", true};
  EXPECT_TRUE(absl::IsInvalidArgument(CreateUserWithPassword(
      *store_, bad, settings_.hash_params, clock_.Now())));
  NewUser zone{"y", "yves", "", "pw", "p", "Mars/Olympus", true};
  EXPECT_TRUE(absl::IsInvalidArgument(CreateUserWithPassword(
      *store_, zone, settings_.hash_params, clock_.Now())));
  NewUser dup{"z", "BOB", "", "pw", "p", "", true};
  EXPECT_TRUE(absl::IsAlreadyExists(CreateUserWithPassword(
      *store_, dup, settings_.hash_params, clock_.Now())));
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthenticatorTest,
                         ::testing::ValuesIn(crm::testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::auth
