// Login: password check with lockout, login restrictions, session creation.
//
// Indistinguishability: an unknown user, a wrong password, an inactive user
// and a locked user all get UNAUTHENTICATED "invalid username or password",
// and each spends one Argon2id verification (BurnVerifyTime when there is no
// usable hash), so neither text nor timing class tells them apart. Login
// restrictions are checked only after the password verified, so their
// PERMISSION_DENIED never reveals whether a username exists.
//
// Thread-safety: immutable after construction; safe for concurrent calls.
// Concurrent failures for one user are all counted (version-checked
// updates, retried).
#ifndef CRM_AUTH_AUTHENTICATOR_H_
#define CRM_AUTH_AUTHENTICATOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "auth/auth_settings.h"
#include "auth/clock.h"
#include "auth/geoip.h"
#include "auth/ip_address.h"
#include "auth/session_manager.h"
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
                AuthSettings settings, const CountryResolver* geo)
      : store_(store), clock_(clock), settings_(settings), geo_(geo) {}

  // Checks `username`/`password` for a login through `service` from
  // `address` and opens a session bound to `service`. Statuses: see the
  // file comment; INVALID_ARGUMENT for an empty username or password or one
  // over kMaxPasswordBytes.
  absl::StatusOr<LoginResult> Login(absl::string_view username,
                                    absl::string_view password,
                                    absl::string_view service,
                                    const IpAddress& address) const;

  // Clears the user's lock and failed-login count. NOT_FOUND if no such
  // user.
  absl::Status Unlock(absl::string_view user_id) const;

 private:
  // Counts one failure for `row` (re-reading on a concurrent change).
  absl::Status RecordFailure(store::UserWithProfile row) const;

  store::IdentityStore* store_;
  Clock* clock_;
  AuthSettings settings_;
  const CountryResolver* geo_;
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
