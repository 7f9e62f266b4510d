#include "auth/account_rules.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/password_hasher.h"
#include "login/login_hours.h"

namespace crm::auth {

absl::Status ValidateUsername(absl::string_view username) {
  const std::string name = absl::AsciiStrToLower(username);
  bool ok = !name.empty() && name.size() <= 128;
  for (size_t i = 0; ok && i < name.size(); ++i) {
    char c = name[i];
    ok = absl::ascii_islower(c) || absl::ascii_isdigit(c) ||
         (i > 0 && (c == '.' || c == '_' || c == '@' || c == '-'));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "username '", username,
      "' is not valid: use 1-128 characters a-z, 0-9, '.', '_', '@', '-', "
      "starting with a letter or digit"));
}

absl::Status ValidateNewPassword(absl::string_view password,
                                 absl::string_view username) {
  if (password.size() < kMinPasswordBytes ||
      password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "password: use ", kMinPasswordBytes, " to ", kMaxPasswordBytes,
        " bytes (a passphrase of a few words is a good choice); the one "
        "given has ", password.size()));
  }
  if (!username.empty() &&
      absl::StrContains(absl::AsciiStrToLower(password),
                        absl::AsciiStrToLower(username))) {
    return absl::InvalidArgumentError(
        "password: must not contain the username");
  }
  return absl::OkStatus();
}

absl::Status ValidateTimeZone(absl::string_view zone,
                              absl::string_view field) {
  if (zone.empty()) return absl::OkStatus();
  // The loader the login hours use at check time (IANA names only).
  if (login::LoginHours::LoadZone({zone.data(), zone.size()}).ok()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", zone,
                   "' is not a known IANA time zone; use a name such as "
                   "\"Europe/Berlin\" or \"UTC\", or leave it empty"));
}

}  // namespace crm::auth
