#include "auth/lockout.h"

#include <limits>

namespace crm::auth {

bool IsLocked(const LockState& state, absl::Time now) {
  return now < state.locked_until;
}

LockState AfterFailure(LockState state, const LockoutPolicy& policy,
                       absl::Time now) {
  if (state.locked_until != absl::InfinitePast() &&
      !IsLocked(state, now)) {
    state = AfterSuccess();  // the lock has run out: start counting afresh
  }
  if (state.failed_count < std::numeric_limits<int>::max()) {
    ++state.failed_count;
  }
  if (policy.threshold > 0 && state.failed_count >= policy.threshold &&
      !IsLocked(state, now)) {
    state.locked_until = now + policy.duration;
  }
  return state;
}

LockState AfterSuccess() { return LockState{0, absl::InfinitePast()}; }

}  // namespace crm::auth
