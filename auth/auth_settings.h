// The auth settings the login and session code uses, derived once from
// AuthConfig (proto/crm/internal/server_config.proto). Plain values.
#ifndef CRM_AUTH_AUTH_SETTINGS_H_
#define CRM_AUTH_AUTH_SETTINGS_H_

#include "absl/time/time.h"
#include "auth/lockout.h"
#include "auth/password_hasher.h"
#include "crm/internal/server_config.pb.h"

namespace crm::auth {

struct AuthSettings {
  absl::Duration session_idle = absl::Minutes(30);
  absl::Duration session_absolute = absl::Hours(12);
  // Login throttling (auth/lockout.h): the (user, source) lock, the
  // per-source and per-user failure budgets, and how long a source where
  // the user logged in stays familiar.
  LockoutPolicy lockout;
  RateLimit source_failures{20, absl::Minutes(10)};
  RateLimit user_failures{50, absl::Hours(1)};
  absl::Duration familiar_source = absl::Hours(24 * 30);
  // Expired throttling rows are deleted at most this often per process.
  absl::Duration prune_interval = absl::Minutes(1);
  PasswordHashParams hash_params;
  // last_seen is written at most this often per session.
  absl::Duration touch_interval = absl::Minutes(1);
};

// Zero fields in `config` take the defaults above (FinalizeConfig writes
// the same defaults for the fields it knows).
AuthSettings AuthSettingsFromConfig(const crm::internal::AuthConfig& config);

}  // namespace crm::auth

#endif  // CRM_AUTH_AUTH_SETTINGS_H_
