// Login throttling that an attacker cannot aim at a user, as pure functions
// over stored state (auth/authenticator.cc persists it through
// store::IdentityStore, so every replica on one database sees the same
// counts). The rules, in the order Login applies them:
//
// 1. Per source: failed logins from one source (any usernames, known or
//    not) spend a budget of `source` failures per window, refilled
//    continuously (a GCRA rate limit: one failure's worth every
//    window / limit). A source whose budget is spent is refused before any
//    user lookup or password check with RESOURCE_EXHAUSTED naming the
//    retry time, so a guessing source is slowed to limit/window and costs
//    the server no hashing. Successes never refill it (an attacker with one
//    valid account cannot reset it).
// 2. Per (user, source): `lockout.threshold` failures from one source, each
//    within `lockout.duration` of the previous one, lock the user out from
//    THAT source for `lockout.duration`. Other sources are unaffected, so an
//    attacker can only lock the user out of the attacker's own address. The
//    lock refuses even the right password (same answer as a wrong one) and
//    ends no session. A success from the source clears its count.
// 3. Per user, across sources: counted failures against one user from all
//    sources spend a budget of `user` failures per window. While it is spent,
//    logins from unfamiliar sources are refused (same answer as a wrong
//    password); a familiar source (one the user logged in from successfully
//    within `familiar_source`) is not held back. This slows a distributed
//    guess (many addresses, each below the per-source lock) to limit/window
//    without letting it lock the user out of the addresses they use.
//
// What counts against a user (rules 2 and 3): a wrong password, from an
// address the user's profile allows, when the source is not locked and the
// user's budget did not refuse it. Attempts the profile's restrictions
// forbid, attempts refused by a lock, and unknown usernames count against
// the source only. An admin's UnlockUser clears rules 2 and 3 for the user.
//
// "Source" is the client address as the request path resolved it (a trusted
// gateway's forwarded address), keyed per IPv4 address and per IPv6 /64
// (one subscriber's usual allocation, so rotating addresses inside it does
// not buy fresh budgets); see SourceKey.
#ifndef CRM_AUTH_LOCKOUT_H_
#define CRM_AUTH_LOCKOUT_H_

#include <string>

#include "absl/time/time.h"
#include "login/ip_address.h"

namespace crm::auth {

// --- Rule 2: the (user, source) lock ------------------------------------

struct LockoutPolicy {
  // Failures that lock; <= 0 disables the lock.
  int threshold = 5;
  // How long a lock lasts, and how close together failures must be to add
  // up; absl::InfiniteDuration() = locked until an admin unlocks.
  absl::Duration duration = absl::Minutes(15);
};

struct LockState {
  int failed_count = 0;
  // absl::InfinitePast() = never failed.
  absl::Time last_failure = absl::InfinitePast();
  // absl::InfinitePast() = not locked; InfiniteFuture() = until unlocked.
  absl::Time locked_until = absl::InfinitePast();
};

// True iff `state` is locked at `now`.
bool IsLocked(const LockState& state, absl::Time now);

// The state after one more failure at `now`. The count starts afresh when
// a lock has run out or the previous failure is `duration` old; failures
// while locked are counted but do not extend the lock.
LockState AfterFailure(LockState state, const LockoutPolicy& policy,
                       absl::Time now);

// The state after a success or an admin unlock: nothing counted, unlocked.
LockState AfterSuccess();

// --- Rules 1 and 3: failure budgets (GCRA) ------------------------------

struct RateLimit {
  // Failures allowed in a burst, and refilled over `window`; <= 0 disables.
  int limit = 20;
  absl::Duration window = absl::Minutes(10);
};

// A budget's whole state is one time, its "theoretical arrival time"
// (absl::InfinitePast() for a full budget). How long until the next
// failure may be attempted: zero if now.
absl::Duration RetryAfter(absl::Time tat, const RateLimit& limit,
                          absl::Time now);

// The budget after one more failure at `now`.
absl::Time AfterCountedFailure(absl::Time tat, const RateLimit& limit,
                               absl::Time now);

// The key of `address` as a source: "a.b.c.d", "2001:db8:1:2::/64", or
// "unknown" (one shared source for peers without an IP address).
std::string SourceKey(const login::IpAddress& address);

}  // namespace crm::auth

#endif  // CRM_AUTH_LOCKOUT_H_
