// The rules for user accounts written by an administrator: username form,
// password policy, time zones. One place, used by CreateUserWithPassword
// (auth/authenticator.h) and the user admin service.
//
// Pure functions; thread-safe. Errors are INVALID_ARGUMENT with a message
// that names the field and says what is accepted.
#ifndef CRM_AUTH_ACCOUNT_RULES_H_
#define CRM_AUTH_ACCOUNT_RULES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace crm::auth {

// Shortest password an administrator may set (bytes). Longest:
// kMaxPasswordBytes (auth/password_hasher.h).
inline constexpr size_t kMinPasswordBytes = 12;

// `username` as given; valid if its lower-cased form (NormalizeUsername) is
// 1-128 characters a-z, 0-9, '.', '_', '@', '-', starting with a letter or
// digit.
absl::Status ValidateUsername(absl::string_view username);

// kMinPasswordBytes..kMaxPasswordBytes, and not containing the username
// (case-insensitively). The message never contains the password.
absl::Status ValidateNewPassword(absl::string_view password,
                                 absl::string_view username);

// "" or an IANA zone name that absl can load; `field` names it in the
// message (e.g. "time_zone").
absl::Status ValidateTimeZone(absl::string_view zone, absl::string_view field);

}  // namespace crm::auth

#endif  // CRM_AUTH_ACCOUNT_RULES_H_
