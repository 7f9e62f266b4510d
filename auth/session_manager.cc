#include "auth/session_manager.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "auth/profile_restrictions.h"
#include "auth/session_token.h"
#include "base/error.h"

namespace crm::auth {
namespace {

// One answer for every way a token can be bad (errors.proto SESSION_INVALID).
absl::Status BadToken() {
  return base::WithErrorInfo(
      absl::UnauthenticatedError(std::string(kBadTokenMessage)),
      crm::v1::SESSION_INVALID);
}

}  // namespace

AuthenticatedUser UserFromRow(const store::UserWithProfile& row) {
  AuthenticatedUser u;
  u.user_id = row.user.id;
  u.username = row.user.username;
  u.display_name = row.user.display_name;
  u.profile_id = row.profile.id;
  u.profile_name = row.profile.name;
  u.time_zone = row.user.time_zone;
  return u;
}

absl::StatusOr<AuthenticatedUser> SessionManager::Validate(
    absl::string_view token, absl::string_view service,
    const login::IpAddress& address,
    const policy::PolicySnapshot* policy) const {
  if (!LooksLikeToken({token.data(), token.size()})) return BadToken();
  std::string hash = HashToken({token.data(), token.size()});
  auto found = store_->FindSession(hash);
  if (!found.ok()) return found.status();
  if (!found->has_value()) return BadToken();
  const store::SessionWithUser& row = **found;
  const absl::Time now = clock_->Now();
  const absl::Time last_seen = absl::FromUnixMicros(row.session.last_seen);
  // A login lock does not end sessions (auth/lockout.h): only the session's
  // own state, its user's activity and the user's session epoch do.
  if (row.session.revoked || row.session.service != service ||
      now >= absl::FromUnixMicros(row.session.expire_time) ||
      now >= last_seen + settings_.session_idle || !row.user.user.active ||
      row.session.user_epoch != row.user.user.session_epoch) {
    return BadToken();
  }
  if (absl::Status s = CheckProfileRestrictions(
          policy, row.user.user.profile_id,
          {address, now, row.user.user.time_zone}, geo_);
      !s.ok()) {
    return s;
  }
  if (now - last_seen >= settings_.touch_interval) {
    const int64_t now_us = absl::ToUnixMicros(now);
    const int64_t older_than =
        absl::ToUnixMicros(now - settings_.touch_interval) + 1;
    if (absl::Status s = store_->TouchSession(hash, now_us, older_than);
        !s.ok()) {
      return s;
    }
  }
  AuthenticatedUser user = UserFromRow(row.user);
  user.session_expire_time = absl::FromUnixMicros(row.session.expire_time);
  user.token_hash = std::move(hash);
  return user;
}

absl::Status SessionManager::Logout(absl::string_view token_hash) const {
  auto ended = store_->RevokeSession(token_hash);
  if (!ended.ok()) return ended.status();
  if (!*ended) return BadToken();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> SessionManager::RevokeUserSessions(
    absl::string_view user_id) const {
  return store_->RevokeUserSessions(user_id, absl::ToUnixMicros(clock_->Now()));
}

}  // namespace crm::auth
