// Account lockout after repeated failed logins, as pure functions over a
// stored LockState (the caller persists it with the user).
//
// Rules: each failure counts; the failure that brings the count to the
// policy's threshold locks the account until now + duration. A lock that has
// expired clears the count at the next failure (a fresh start); failures
// while locked are counted but do not extend the lock. A
// successful login or an admin unlock clears everything. While locked, the
// login path must refuse even a correct password, spending the same
// verification time (BurnVerifyTime) and giving the same answer as for a
// wrong password, so a lock reveals neither the user nor the password.
#ifndef CRM_AUTH_LOCKOUT_H_
#define CRM_AUTH_LOCKOUT_H_

#include "absl/time/time.h"

namespace crm::auth {

struct LockoutPolicy {
  // Failures that lock the account; <= 0 disables lockout.
  int threshold = 5;
  // How long a lock lasts; absl::InfiniteDuration() = until an admin unlocks.
  absl::Duration duration = absl::Minutes(15);
};

struct LockState {
  int failed_count = 0;
  // absl::InfinitePast() = not locked; InfiniteFuture() = until unlocked.
  absl::Time locked_until = absl::InfinitePast();
};

// True iff the account is locked at `now`.
bool IsLocked(const LockState& state, absl::Time now);

// The state after one more failed login at `now`.
LockState AfterFailure(LockState state, const LockoutPolicy& policy,
                       absl::Time now);

// The state after a successful login or an admin unlock: nothing counted,
// not locked.
LockState AfterSuccess();

}  // namespace crm::auth

#endif  // CRM_AUTH_LOCKOUT_H_
