#include "auth/authenticator.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth/account_rules.h"
#include "auth/lockout.h"
#include "auth/login_hours.h"
#include "auth/password_hasher.h"
#include "auth/profile_restrictions.h"
#include "auth/session_token.h"

namespace crm::auth {
namespace {

constexpr int kMaxLockRetries = 5;

absl::Status BadLogin() {
  return absl::UnauthenticatedError(std::string(kBadLoginMessage));
}

std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

LockState ToLockState(const store::UserRow& user) {
  LockState s;
  s.failed_count = static_cast<int>(user.failed_logins);
  if (user.locked_until == std::numeric_limits<int64_t>::max()) {
    s.locked_until = absl::InfiniteFuture();
  } else if (user.locked_until != 0) {
    s.locked_until = absl::FromUnixMicros(user.locked_until);
  }
  return s;
}

int64_t LockedUntilMicros(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

}  // namespace

std::string NormalizeUsername(absl::string_view username) {
  return absl::AsciiStrToLower(username);
}

absl::Status Authenticator::RecordFailure(store::UserWithProfile row) const {
  for (int attempt = 0; attempt < kMaxLockRetries; ++attempt) {
    const absl::Time now = clock_->Now();
    LockState next = AfterFailure(ToLockState(row.user), settings_.lockout, now);
    auto written = store_->UpdateLockState(
        row.user.id, row.user.version, next.failed_count,
        LockedUntilMicros(next.locked_until), absl::ToUnixMicros(now));
    if (!written.ok()) return written.status();
    if (*written) return absl::OkStatus();
    auto again = store_->FindUserById(row.user.id);
    if (!again.ok()) return again.status();
    if (!again->has_value()) return absl::OkStatus();  // deleted meanwhile
    row = **again;
  }
  return absl::AbortedError(
      "too many concurrent login attempts for one user; retry later");
}

absl::StatusOr<LoginResult> Authenticator::Login(
    absl::string_view username, absl::string_view password,
    absl::string_view service, const IpAddress& address) const {
  if (username.empty() || password.empty()) {
    return absl::InvalidArgumentError(
        "login: username and password are both required");
  }
  if (password.size() > kMaxPasswordBytes || username.size() > 1024) {
    return absl::InvalidArgumentError(absl::StrCat(
        "login: username or password is too long (at most ",
        kMaxPasswordBytes, " bytes each)"));
  }
  auto found = store_->FindUserByUsername(NormalizeUsername(username));
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    BurnVerifyTime(Sv(password), settings_.hash_params);
    return BadLogin();
  }
  const store::UserWithProfile& row = **found;
  const absl::Time now = clock_->Now();
  // Always one verification, whatever the state of the account.
  const bool password_ok =
      VerifyPassword(Sv(password), Sv(row.user.password_hash));
  if (!row.user.active) return BadLogin();
  if (!password_ok || IsUserLocked(row.user, now)) {
    if (absl::Status s = RecordFailure(row); !s.ok()) return s;
    return BadLogin();
  }
  // The password is right: only now may a refusal say more.
  auto restrictions = ProfileRestrictions(row.profile, row.user.time_zone);
  auto permissions = ProfilePermissions(row.profile);
  if (!restrictions.ok() || !permissions.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "login refused: the user's profile is invalid: ",
        (!restrictions.ok() ? restrictions.status() : permissions.status())
            .message()));
  }
  if (absl::Status s = restrictions->Check({address, now}, geo_); !s.ok()) {
    return s;
  }
  if (row.user.failed_logins != 0 || row.user.locked_until != 0) {
    auto cleared = store_->UpdateLockState(row.user.id, row.user.version, 0, 0,
                                           absl::ToUnixMicros(now));
    if (!cleared.ok()) return cleared.status();
  }
  IssuedToken issued = NewSessionToken();
  store::SessionRow session;
  session.token_hash = issued.hash;
  session.user_id = row.user.id;
  session.service = std::string(service);
  session.create_time = absl::ToUnixMicros(now);
  session.last_seen = session.create_time;
  session.expire_time = absl::ToUnixMicros(now + settings_.session_absolute);
  if (absl::Status s = store_->InsertSession(session); !s.ok()) return s;
  LoginResult result;
  result.token = std::move(issued.token);
  result.expire_time = absl::FromUnixMicros(session.expire_time);
  result.user = UserFromRow(row, *permissions);
  result.user.session_expire_time = result.expire_time;
  return result;
}

absl::Status Authenticator::Unlock(absl::string_view user_id) const {
  auto done = store_->UnlockUser(user_id, absl::ToUnixMicros(clock_->Now()));
  if (!done.ok()) return done.status();
  if (!*done) {
    return absl::NotFoundError(absl::StrCat("users/", user_id, " not found"));
  }
  return absl::OkStatus();
}

absl::Status CreateUserWithPassword(store::IdentityStore& store,
                                    const NewUser& user,
                                    const PasswordHashParams& params,
                                    absl::Time now) {
  if (absl::Status s = ValidateUsername(user.username); !s.ok()) return s;
  std::string username = NormalizeUsername(user.username);
  if (user.id.empty()) {
    return absl::InvalidArgumentError("a user needs an id");
  }
  if (absl::Status s = ValidateTimeZone(user.time_zone, "time_zone");
      !s.ok()) {
    return s;
  }
  auto hash = HashPassword(Sv(user.password), params);
  if (!hash.ok()) return hash.status();
  store::UserRow row;
  row.id = user.id;
  row.username = username;
  row.display_name = user.display_name;
  row.active = user.active;
  row.profile_id = user.profile_id;
  row.time_zone = user.time_zone;
  row.password_hash = *std::move(hash);
  row.create_time = absl::ToUnixMicros(now);
  row.update_time = row.create_time;
  return store.CreateUser(row);
}

}  // namespace crm::auth
