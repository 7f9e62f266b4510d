#include "auth/authenticator.h"

#include "auth/auth_test_fixture.h"
#include "auth/session_token.h"
#include "gmock/gmock.h"

namespace crm::auth {
namespace {

using ::testing::HasSubstr;

class AuthenticatorTest : public IdentityBackendTest {};

TEST_P(AuthenticatorTest, LoginStoresOnlyTheTokenHash) {
  auto a = MakeAuthenticator();
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
  auto a = MakeAuthenticator();
  for (auto [user, password] :
       {std::pair{"bob", "nope"}, std::pair{"nobody", "bob-pw"}}) {
    auto r = a.Login(user, password, "web", Loopback());
    EXPECT_TRUE(absl::IsUnauthenticated(r.status())) << user;
    EXPECT_EQ(r.status().message(), kBadLoginMessage) << user;
  }
  EXPECT_TRUE(
      absl::IsInvalidArgument(a.Login("", "x", "web", Loopback()).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      a.Login("bob", std::string(kMaxPasswordBytes + 1, 'x'), "web", Loopback())
          .status()));
}

TEST_P(AuthenticatorTest, LockoutCountsAndExpires) {
  auto a = MakeAuthenticator();
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a.Login("bob", "nope", "web", Loopback()).ok());
  }
  auto row = store_->FindLoginFailure("bob", "127.0.0.1");
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(row->failures, 3);
  EXPECT_EQ(row->locked_until,
            absl::ToUnixMicros(clock_.Now() + absl::Minutes(10)));
  auto locked = a.Login("bob", "bob-pw", "web", Loopback());
  EXPECT_EQ(locked.status().message(), kBadLoginMessage);
  EXPECT_EQ(store_->FindLoginFailure("bob", "127.0.0.1")->failures, 3)
      << "an attempt refused by the lock does not count";
  clock_.Advance(absl::Minutes(10));
  auto r = a.Login("bob", "bob-pw", "web", Loopback());
  ASSERT_TRUE(r.ok()) << r.status();
  row = store_->FindLoginFailure("bob", "127.0.0.1");
  EXPECT_EQ(row->failures, 0) << "success clears the count";
  EXPECT_EQ(row->locked_until, 0);
  EXPECT_EQ(row->last_success, absl::ToUnixMicros(clock_.Now()));
}

TEST_P(AuthenticatorTest, LockIsPerSource) {
  auto a = MakeAuthenticator();
  const login::IpAddress attacker = *login::IpAddress::Parse("127.66.0.1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(a.Login("bob", "nope", "web", attacker).ok());
  }
  EXPECT_EQ(a.Login("bob", "bob-pw", "web", attacker).status().message(),
            kBadLoginMessage)
      << "locked out from the attacker's address";
  auto r = a.Login("bob", "bob-pw", "web", Loopback());
  EXPECT_TRUE(r.ok()) << "not from another: " << r.status();
  // IPv6 addresses of one /64 are one source.
  for (const char* v6 : {"2001:db8::1", "2001:db8::2", "2001:db8::3"}) {
    EXPECT_FALSE(
        a.Login("bob", "nope", "web", *login::IpAddress::Parse(v6)).ok());
  }
  EXPECT_FALSE(
      a.Login("bob", "bob-pw", "web", *login::IpAddress::Parse("2001:db8::4"))
          .ok());
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web",
                      *login::IpAddress::Parse("2001:db8:0:1::4"))
                  .ok());
}

TEST_P(AuthenticatorTest, UnlockClearsTheLock) {
  auto a = MakeAuthenticator();
  for (int i = 0; i < 3; ++i) (void)a.Login("bob", "nope", "web", Loopback());
  auto up = store_->FindUserById("bob");
  ASSERT_TRUE(up.ok() && up->has_value());
  EXPECT_GT((*up)->user.locked_until, absl::ToUnixMicros(clock_.Now()));
  ASSERT_TRUE(a.Unlock("bob").ok());
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web", Loopback()).ok());
  EXPECT_TRUE(absl::IsNotFound(a.Unlock("nobody")));
}

TEST_P(AuthenticatorTest, SourceBudgetRefusesBeforeAnyPasswordCheck) {
  settings_.source_failures = {4, absl::Minutes(2)};  // one per 30 s
  auto a = MakeAuthenticator();
  const login::IpAddress sprayer = *login::IpAddress::Parse("127.77.0.1");
  // Failures against any usernames, known or not, spend the budget.
  for (const char* user : {"bob", "nobody", "alice", "bob"}) {
    auto r = a.Login(user, "guess", "web", sprayer);
    EXPECT_EQ(r.status().message(), kBadLoginMessage) << user;
  }
  auto refused = a.Login("bob", "bob-pw", "web", sprayer);
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("too many failed logins from 127.77.0.1"));
  EXPECT_THAT(refused.status().message(), HasSubstr("try again in 30 s"));
  EXPECT_EQ(store_->FindLoginFailure("bob", "127.77.0.1")->failures, 2)
      << "a refused attempt is not counted";
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web", Loopback()).ok())
      << "other sources are unaffected";
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web", sprayer).ok())
      << "one attempt per interval once spent";
}

TEST_P(AuthenticatorTest, UserBudgetHoldsBackOnlyUnfamiliarSources) {
  settings_.user_failures = {6, absl::Hours(1)};
  auto a = MakeAuthenticator();
  ASSERT_TRUE(a.Login("bob", "bob-pw", "web", Loopback()).ok());
  // A guess spread over three addresses, two failures each (below the lock).
  for (const char* from : {"127.5.0.1", "127.5.0.2", "127.5.0.3"}) {
    for (int i = 0; i < 2; ++i) {
      EXPECT_FALSE(
          a.Login("bob", "nope", "web", *login::IpAddress::Parse(from)).ok());
    }
  }
  auto fresh =
      a.Login("bob", "bob-pw", "web", *login::IpAddress::Parse("127.5.0.4"));
  EXPECT_EQ(fresh.status().message(), kBadLoginMessage)
      << "a new address is held back while the budget is spent";
  EXPECT_TRUE(a.Login("bob", "bob-pw", "web", Loopback()).ok())
      << "the address bob logged in from is familiar";
  clock_.Advance(absl::Minutes(10));  // one failure's worth
  EXPECT_TRUE(
      a.Login("bob", "bob-pw", "web", *login::IpAddress::Parse("127.5.0.4"))
          .ok());
}

TEST_P(AuthenticatorTest, ForbiddenAddressesDoNotCountAgainstTheUser) {
  store::ProfileRow p;
  p.id = "office";
  p.name = "Office";
  p.allowed_ip_ranges = "127.1.0.0/16";
  ASSERT_TRUE(store_->CreateProfile(p).ok());
  NewUser olga{"olga", "olga", "Olga", "olga-pw", "office", "", true};
  ASSERT_TRUE(
      CreateUserWithPassword(*store_, olga, settings_.hash_params, clock_.Now())
          .ok());
  auto a = MakeAuthenticator();
  const login::IpAddress outside = *login::IpAddress::Parse("127.9.0.1");
  for (int i = 0; i < 10; ++i) {
    auto r = a.Login("olga", "nope", "web", outside);
    EXPECT_EQ(r.status().message(), kBadLoginMessage) << i;
  }
  EXPECT_EQ(store_->FindLoginFailure("olga", "127.9.0.1")->failures, 0);
  EXPECT_EQ(*store_->FindLoginRate(store::LoginRateScope::kUser, "olga"), 0);
  EXPECT_GT(*store_->FindLoginRate(store::LoginRateScope::kSource, "127.9.0.1"),
            0)
      << "they do count against the source";
  auto right = a.Login("olga", "olga-pw", "web", outside);
  EXPECT_TRUE(absl::IsPermissionDenied(right.status())) << right.status();
  EXPECT_TRUE(
      a.Login("olga", "olga-pw", "web", *login::IpAddress::Parse("127.1.0.1"))
          .ok());
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
  auto a = MakeAuthenticator();
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
