// Sessions: validating a bearer token on every request, ending sessions.
// See proto/crm/v1/auth_service.proto for the rules a session follows
// (bound to its service, idle and absolute expiry, revocation).
//
// Thread-safety: immutable after construction; safe for concurrent calls.
#ifndef CRM_AUTH_SESSION_MANAGER_H_
#define CRM_AUTH_SESSION_MANAGER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/auth_settings.h"
#include "auth/clock.h"
#include "login/country_resolver.h"
#include "login/ip_address.h"
#include "policy/snapshot.h"
#include "store/identity_store.h"

namespace crm::auth {

// The message of every token refusal: it says nothing about why.
inline constexpr absl::string_view kBadTokenMessage =
    "session token is invalid or expired";

// A user as seen by the request path.
struct AuthenticatedUser {
  std::string user_id;
  std::string username;
  std::string display_name;
  std::string profile_id;
  std::string profile_name;
  std::string time_zone;
  // No system permissions here: policy::Evaluator decides them (WhoAmI
  // lists what it decides).
  absl::Time session_expire_time = absl::InfinitePast();
  std::string token_hash;  // of the session in use; empty after Login
};

// Fills the user fields (not the session ones) from a stored row.
AuthenticatedUser UserFromRow(const store::UserWithProfile& row);

class SessionManager {
 public:
  // Every pointer must outlive the manager; `geo` may be null (then a
  // country rule refuses every request).
  SessionManager(store::IdentityStore* store, Clock* clock,
                 AuthSettings settings, const login::CountryResolver* geo)
      : store_(store), clock_(clock), settings_(settings), geo_(geo) {}

  // Validates `token` presented by `service` from `address`: shape, a stored
  // unrevoked session created through `service`, within its absolute and
  // idle lifetime, an active user whose session epoch is still the
  // session's (sessions die with their user: store/identity_store.h), and
  // the login restrictions of the user's profile at the clock's now, as
  // compiled in `policy`: the snapshot the call is decided with, so a
  // restriction change applies from the first call on its policy version
  // (auth/profile_restrictions.h; nothing is parsed). A login lock
  // (auth/lockout.h) does not end sessions; RevokeUserSessions does. Records
  // use (at most once per touch_interval). UNAUTHENTICATED (kBadTokenMessage)
  // for any token problem; PERMISSION_DENIED naming the rule for a
  // restriction; UNAVAILABLE POLICY_NOT_CURRENT if `policy` is null or does
  // not have the profile yet (fail closed); storage errors as they come.
  absl::StatusOr<AuthenticatedUser> Validate(
      absl::string_view token, absl::string_view service,
      const login::IpAddress& address,
      const policy::PolicySnapshot* policy) const;

  // Ends the session with this token hash. UNAUTHENTICATED if it was not
  // open.
  absl::Status Logout(absl::string_view token_hash) const;

  // Ends every session of the user for good, including one a concurrent
  // Login is creating; returns how many were open.
  absl::StatusOr<int64_t> RevokeUserSessions(absl::string_view user_id) const;

 private:
  store::IdentityStore* store_;
  Clock* clock_;
  AuthSettings settings_;
  const login::CountryResolver* geo_;
};

}  // namespace crm::auth

#endif  // CRM_AUTH_SESSION_MANAGER_H_
