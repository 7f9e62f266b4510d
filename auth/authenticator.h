// Login: password check with login throttling (auth/lockout.h), login
// restrictions, session creation.
//
// Indistinguishability: an unknown user, a wrong password, an inactive user,
// a user locked out from this source and a user whose failure budget
// refuses this source all get UNAUTHENTICATED "invalid username or
// password", and each spends one Argon2id verification (BurnVerifyTime when
// there is no usable hash), so neither text nor timing class tells them
// apart. The profile's login restrictions are evaluated before anything is
// counted against the user (a forbidden address never counts), but their
// PERMISSION_DENIED is reported only when the password verified, so it
// never reveals whether a username exists. A source over its failure
// budget gets RESOURCE_EXHAUSTED before any lookup: it says nothing about
// users.
//
// Thread-safety: safe for concurrent calls (the only mutable member is an
// atomic pruning deadline). Throttling state lives in the database and is
// updated under row locks, so concurrent failures from any number of
// servers are all counted.
#ifndef CRM_AUTH_AUTHENTICATOR_H_
#define CRM_AUTH_AUTHENTICATOR_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/auth_settings.h"
#include "auth/clock.h"
#include "auth/session_manager.h"
#include "login/country_resolver.h"
#include "login/ip_address.h"
#include "policy/snapshot.h"
#include "store/identity_store.h"

namespace crm::auth {

inline constexpr absl::string_view kBadLoginMessage =
    "invalid username or password";

struct LoginResult {
  std::string token;  // give to the client once; never log it
  absl::Time expire_time;
  AuthenticatedUser user;
};

class Authenticator {
 public:
  // Every pointer must outlive the authenticator; `geo` may be null.
  Authenticator(store::IdentityStore* store, Clock* clock,
                AuthSettings settings, const login::CountryResolver* geo)
      : store_(store), clock_(clock), settings_(settings), geo_(geo) {}

  // Checks `username`/`password` for a login through `service` from
  // `address` and opens a session bound to `service`. The profile's login
  // restrictions are those compiled in `policy`, the snapshot the call is
  // decided with (auth/profile_restrictions.h: a null snapshot or one
  // without the profile refuses, as UNAVAILABLE POLICY_NOT_CURRENT told like
  // a restriction, to the right password only). Statuses: see the file
  // comment; RESOURCE_EXHAUSTED "... try again in N s" when the source's
  // failure budget is spent; INVALID_ARGUMENT for an empty username or
  // password or one over kMaxPasswordBytes; storage errors as they come.
  absl::StatusOr<LoginResult> Login(absl::string_view username,
                                    absl::string_view password,
                                    absl::string_view service,
                                    const login::IpAddress& address,
                                    const policy::PolicySnapshot* policy) const;

  // Clears the user's locks from every source and their failure budget
  // (not the budgets of sources). NOT_FOUND if no such user.
  absl::Status Unlock(absl::string_view user_id) const;

 private:
  // Spends one failure of the source's budget.
  absl::Status ChargeSource(const std::string& source, absl::Time now) const;
  // A counted failure: the (user, source) lock count, the user's budget and
  // the source's budget. True if this failure started a lockout of
  // (user, source).
  absl::StatusOr<bool> CountFailure(const std::string& user_id,
                                    const std::string& source,
                                    absl::Time now) const;
  // A success: clears the (user, source) count and makes it familiar.
  absl::Status RecordSuccess(const std::string& user_id,
                             const std::string& source, absl::Time now) const;
  // Deletes expired throttling rows, at most once per prune_interval.
  void MaybePrune(absl::Time now) const;

  store::IdentityStore* store_;
  Clock* clock_;
  AuthSettings settings_;
  const login::CountryResolver* geo_;
  mutable std::atomic<int64_t> next_prune_us_{0};
};

// What a new user needs; used by the demo data and tests (there is no user
// administration API yet).
struct NewUser {
  std::string id;
  std::string username;  // stored in lower case
  std::string display_name;
  std::string password;
  std::string profile_id;
  std::string time_zone;
  bool active = true;
};

// Validates the username ([a-z0-9][a-z0-9._@-]{0,127} after lower-casing)
// and time zone, hashes the password with `params` and stores the user.
// INVALID_ARGUMENT naming the problem; ALREADY_EXISTS for a taken id or
// username.
absl::Status CreateUserWithPassword(store::IdentityStore& store,
                                    const NewUser& user,
                                    const PasswordHashParams& params,
                                    absl::Time now);

// Lower-cases ASCII letters.
std::string NormalizeUsername(absl::string_view username);

}  // namespace crm::auth

#endif  // CRM_AUTH_AUTHENTICATOR_H_
