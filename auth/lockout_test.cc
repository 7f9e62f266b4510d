#include "auth/lockout.h"

#include "gtest/gtest.h"

namespace crm::auth {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(Lockout, DefaultStateIsUnlocked) {
  LockState s;
  EXPECT_EQ(s.failed_count, 0);
  EXPECT_EQ(s.locked_until, absl::InfinitePast());
  EXPECT_FALSE(IsLocked(s, kT0));
  LockoutPolicy p;
  EXPECT_EQ(p.threshold, 5);
  EXPECT_EQ(p.duration, absl::Minutes(15));
}

TEST(Lockout, LocksAtThresholdAndExpires) {
  const LockoutPolicy policy{3, absl::Minutes(10)};
  LockState s;
  s = AfterFailure(s, policy, kT0);
  EXPECT_EQ(s.failed_count, 1);
  EXPECT_FALSE(IsLocked(s, kT0));
  s = AfterFailure(s, policy, kT0 + absl::Seconds(1));
  EXPECT_EQ(s.failed_count, 2);
  EXPECT_FALSE(IsLocked(s, kT0 + absl::Seconds(1)));
  const absl::Time third = kT0 + absl::Seconds(2);
  s = AfterFailure(s, policy, third);
  EXPECT_EQ(s.failed_count, 3);
  EXPECT_EQ(s.locked_until, third + absl::Minutes(10));
  EXPECT_TRUE(IsLocked(s, third));
  EXPECT_TRUE(IsLocked(s, third + absl::Minutes(10) - absl::Nanoseconds(1)));
  EXPECT_FALSE(IsLocked(s, third + absl::Minutes(10)));
}

TEST(Lockout, FailuresWhileLockedDoNotExtendTheLock) {
  const LockoutPolicy policy{2, absl::Minutes(10)};
  LockState s = AfterFailure(AfterFailure({}, policy, kT0), policy, kT0);
  ASSERT_TRUE(IsLocked(s, kT0));
  const absl::Time until = s.locked_until;
  s = AfterFailure(s, policy, kT0 + absl::Minutes(5));
  EXPECT_EQ(s.locked_until, until);
  EXPECT_EQ(s.failed_count, 3);
}

TEST(Lockout, ExpiredLockStartsAFreshCount) {
  const LockoutPolicy policy{2, absl::Minutes(10)};
  LockState s = AfterFailure(AfterFailure({}, policy, kT0), policy, kT0);
  const absl::Time later = kT0 + absl::Minutes(11);
  ASSERT_FALSE(IsLocked(s, later));
  s = AfterFailure(s, policy, later);
  EXPECT_EQ(s.failed_count, 1);
  EXPECT_FALSE(IsLocked(s, later));
  s = AfterFailure(s, policy, later);
  EXPECT_TRUE(IsLocked(s, later));
}

TEST(Lockout, FailuresFarApartDoNotAddUp) {
  const LockoutPolicy policy{3, absl::Minutes(10)};
  LockState s = AfterFailure(AfterFailure({}, policy, kT0), policy,
                             kT0 + absl::Minutes(9));
  EXPECT_EQ(s.failed_count, 2) << "nine minutes apart still add up";
  s = AfterFailure(s, policy, kT0 + absl::Minutes(19));
  EXPECT_EQ(s.failed_count, 1) << "ten minutes after the last: afresh";
  EXPECT_FALSE(IsLocked(s, kT0 + absl::Minutes(19)));
  EXPECT_EQ(s.last_failure, kT0 + absl::Minutes(19));
}

TEST(Lockout, SuccessAndUnlockClear) {
  const LockoutPolicy policy{2, absl::InfiniteDuration()};
  LockState s = AfterFailure(AfterFailure({}, policy, kT0), policy, kT0);
  EXPECT_EQ(s.locked_until, absl::InfiniteFuture());
  EXPECT_TRUE(IsLocked(s, kT0 + absl::Hours(24 * 365 * 100)));
  s = AfterSuccess();
  EXPECT_EQ(s.failed_count, 0);
  EXPECT_FALSE(IsLocked(s, kT0));
  // A success between failures resets the count.
  s = AfterFailure(s, policy, kT0);
  s = AfterSuccess();
  s = AfterFailure(s, policy, kT0);
  EXPECT_FALSE(IsLocked(s, kT0));
}

TEST(Lockout, DisabledPolicyNeverLocks) {
  for (int threshold : {0, -1}) {
    const LockoutPolicy policy{threshold, absl::Minutes(10)};
    LockState s;
    for (int i = 0; i < 100; ++i) s = AfterFailure(s, policy, kT0);
    EXPECT_FALSE(IsLocked(s, kT0)) << threshold;
    EXPECT_EQ(s.failed_count, 100);
  }
}

TEST(Lockout, CountSaturates) {
  LockState s{std::numeric_limits<int>::max(), absl::InfinitePast()};
  s = AfterFailure(s, LockoutPolicy{0, absl::Minutes(1)}, kT0);
  EXPECT_EQ(s.failed_count, std::numeric_limits<int>::max());
}

TEST(RateLimit, BurstThenOnePerInterval) {
  const RateLimit limit{4, absl::Minutes(2)};  // one every 30 s
  absl::Time tat = absl::InfinitePast();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(RetryAfter(tat, limit, kT0), absl::ZeroDuration()) << i;
    tat = AfterCountedFailure(tat, limit, kT0);
  }
  EXPECT_EQ(RetryAfter(tat, limit, kT0), absl::Seconds(30)) << "spent";
  EXPECT_EQ(RetryAfter(tat, limit, kT0 + absl::Seconds(10)), absl::Seconds(20));
  const absl::Time later = kT0 + absl::Seconds(30);
  EXPECT_EQ(RetryAfter(tat, limit, later), absl::ZeroDuration());
  tat = AfterCountedFailure(tat, limit, later);
  EXPECT_EQ(RetryAfter(tat, limit, later), absl::Seconds(30))
      << "one more, then spent again";
  EXPECT_EQ(RetryAfter(tat, limit, later + absl::Minutes(2)),
            absl::ZeroDuration());
  // A full window later the whole burst is back.
  absl::Time refilled = tat;
  const absl::Time much_later = later + absl::Minutes(2);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(RetryAfter(refilled, limit, much_later), absl::ZeroDuration())
        << i;
    refilled = AfterCountedFailure(refilled, limit, much_later);
  }
  EXPECT_GT(RetryAfter(refilled, limit, much_later), absl::ZeroDuration());
}

TEST(RateLimit, DisabledNeverRefuses) {
  for (int n : {0, -1}) {
    const RateLimit limit{n, absl::Minutes(1)};
    absl::Time tat = absl::InfinitePast();
    for (int i = 0; i < 100; ++i) tat = AfterCountedFailure(tat, limit, kT0);
    EXPECT_EQ(RetryAfter(tat, limit, kT0), absl::ZeroDuration()) << n;
  }
}

TEST(SourceKey, AddressOrIpv6Slash64) {
  struct Case {
    const char* address;
    const char* key;
  } cases[] = {
      {"127.9.0.1", "127.9.0.1"},
      {"::ffff:10.1.2.3", "10.1.2.3"},
      {"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
      {"2001:db8:1:2::1", "2001:db8:1:2::/64"},
      {"::1", "::/64"},
  };
  for (const Case& c : cases) {
    auto address = login::IpAddress::Parse(c.address);
    ASSERT_TRUE(address.has_value()) << c.address;
    EXPECT_EQ(SourceKey(*address), c.key) << c.address;
  }
  EXPECT_EQ(SourceKey(login::IpAddress()), "unknown");
}

}  // namespace
}  // namespace crm::auth
