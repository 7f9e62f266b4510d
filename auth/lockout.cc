#include "auth/lockout.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace crm::auth {

bool IsLocked(const LockState& state, absl::Time now) {
  return now < state.locked_until;
}

LockState AfterFailure(LockState state, const LockoutPolicy& policy,
                       absl::Time now) {
  const bool lock_ran_out =
      state.locked_until != absl::InfinitePast() && !IsLocked(state, now);
  const bool count_went_stale = !IsLocked(state, now) &&
                                state.last_failure != absl::InfinitePast() &&
                                now - state.last_failure >= policy.duration;
  if (lock_ran_out || count_went_stale) state = AfterSuccess();
  if (state.failed_count < std::numeric_limits<int>::max()) {
    ++state.failed_count;
  }
  state.last_failure = now;
  if (policy.threshold > 0 && state.failed_count >= policy.threshold &&
      !IsLocked(state, now)) {
    state.locked_until = now + policy.duration;
  }
  return state;
}

LockState AfterSuccess() { return LockState{}; }

namespace {

// One failure's worth of a budget.
absl::Duration Interval(const RateLimit& limit) {
  return limit.window / limit.limit;
}

}  // namespace

absl::Duration RetryAfter(absl::Time tat, const RateLimit& limit,
                          absl::Time now) {
  if (limit.limit <= 0) return absl::ZeroDuration();
  // A failure is allowed while tat is at most `window - interval` ahead of
  // now: from a full budget, exactly `limit` failures in a burst.
  const absl::Time allowed_from = tat - (limit.window - Interval(limit));
  return std::max(allowed_from - now, absl::ZeroDuration());
}

absl::Time AfterCountedFailure(absl::Time tat, const RateLimit& limit,
                               absl::Time now) {
  if (limit.limit <= 0) return tat;
  return std::max(tat, now) + Interval(limit);
}

std::string SourceKey(const login::IpAddress& address) {
  if (address.is_v4()) return address.ToString();
  if (!address.is_v6()) return "unknown";
  std::array<uint8_t, 16> network{};
  std::copy_n(address.bytes().begin(), 8, network.begin());
  return absl::StrCat(login::IpAddress::FromV6Bytes(network.data()).ToString(),
                      "/64");
}

}  // namespace crm::auth
