#include "auth/clock.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace crm::auth {
namespace {

TEST(FakeClock, SetAndAdvance) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1005));
  clock.Set(absl::FromUnixSeconds(7));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(7));
}

TEST(FakeClock, ConcurrentAdvanceIsNotLost) {
  FakeClock clock;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&clock] {
      for (int j = 0; j < 1000; ++j) clock.Advance(absl::Seconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.Now(), absl::UnixEpoch() + absl::Seconds(4000));
}

TEST(SystemClock, IsProcessWideAndCurrent) {
  EXPECT_EQ(SystemClock(), SystemClock());
  const absl::Time now = SystemClock()->Now();
  EXPECT_LT(absl::AbsDuration(now - absl::Now()), absl::Seconds(5));
}

}  // namespace
}  // namespace crm::auth
