#include "auth/authenticator.h"

#include <algorithm>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "auth/account_rules.h"
#include "auth/lockout.h"
#include "base/decision_note.h"
#include "auth/password_hasher.h"
#include "auth/profile_restrictions.h"
#include "auth/session_token.h"
#include "base/error.h"

namespace crm::auth {
namespace {

// One answer for an unknown user, a wrong password, an inactive user and a
// lock: nothing in it (message or details) tells them apart.
// Every failed login looks the same to the caller; `why` (the internal
// decision note, never sent) tells the log and the audit trail what really
// happened: "unknown_user", "inactive_user", "bad_password",
// "bad_password:lockout_started", "locked_out", "user_throttled",
// "bad_password:restricted" (a wrong password from an address or time the
// profile refuses).
absl::Status BadLogin(absl::string_view why) {
  return base::WithDecisionNote(
      base::WithErrorInfo(
          absl::UnauthenticatedError(std::string(kBadLoginMessage)),
          crm::v1::BAD_CREDENTIALS),
      "login", why);
}

std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

// Stored times are Unix microseconds, 0 for "never" (InfinitePast) and
// INT64_MAX for "until unlocked" (InfiniteFuture).
absl::Time FromStored(int64_t micros) {
  if (micros == 0) return absl::InfinitePast();
  if (micros == std::numeric_limits<int64_t>::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromUnixMicros(micros);
}

int64_t ToStored(absl::Time t) {
  if (t == absl::InfinitePast()) return 0;
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  return absl::ToUnixMicros(t);
}

LockState ToLockState(const store::LoginFailureRow& row) {
  LockState s;
  s.failed_count = static_cast<int>(
      std::min<int64_t>(row.failures, std::numeric_limits<int>::max()));
  s.last_failure = FromStored(row.last_failure);
  s.locked_until = FromStored(row.locked_until);
  return s;
}

absl::Status SourceThrottled(const std::string& source, const RateLimit& limit,
                             absl::Duration wait) {
  const absl::Duration rounded = absl::Ceil(wait, absl::Seconds(1));
  absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
      "login refused: too many failed logins from ", source, " (at most ",
      limit.limit, " per ", absl::FormatDuration(limit.window),
      "); try again in ", absl::ToInt64Seconds(rounded), " s"));
  status = base::WithErrorInfo(
      std::move(status), crm::v1::LOGIN_THROTTLED,
      {{"source", source},
       {"limit", absl::StrCat(limit.limit)},
       {"window", absl::FormatDuration(limit.window)}});
  return base::WithRetryInfo(std::move(status), rounded);
}

}  // namespace

std::string NormalizeUsername(absl::string_view username) {
  return absl::AsciiStrToLower(username);
}

void Authenticator::MaybePrune(absl::Time now) const {
  const int64_t now_us = absl::ToUnixMicros(now);
  int64_t due = next_prune_us_.load(std::memory_order_relaxed);
  if (now_us < due) return;
  const int64_t next =
      now_us + absl::ToInt64Microseconds(settings_.prune_interval);
  if (!next_prune_us_.compare_exchange_strong(due, next)) return;
  // Best effort: a failure only leaves rows that read as all-zero ones for
  // the next round; the login's own statements report a database problem.
  (void)store_->DeleteExpiredLoginState(now_us);
}

absl::Status Authenticator::ChargeSource(const std::string& source,
                                         absl::Time now) const {
  if (settings_.source_failures.limit <= 0) return absl::OkStatus();
  return store_
      ->UpdateLoginRate(store::LoginRateScope::kSource, source,
                        [&](int64_t tat) {
                          return ToStored(AfterCountedFailure(
                              FromStored(tat), settings_.source_failures, now));
                        })
      .status();
}

absl::StatusOr<bool> Authenticator::CountFailure(const std::string& user_id,
                                                 const std::string& source,
                                                 absl::Time now) const {
  bool locked_now = false;
  auto pair = store_->UpdateLoginFailure(
      user_id, source, [&](store::LoginFailureRow& row) {
        const LockState before = ToLockState(row);
        LockState next = AfterFailure(before, settings_.lockout, now);
        locked_now = !IsLocked(before, now) && IsLocked(next, now);
        row.failures = next.failed_count;
        row.last_failure = ToStored(next.last_failure);
        row.locked_until = ToStored(next.locked_until);
        // The row matters while locked, while the count can still grow,
        // and while the source is familiar.
        row.expire_time = ToStored(std::max(
            {next.locked_until, next.last_failure + settings_.lockout.duration,
             FromStored(row.last_success) + settings_.familiar_source}));
      });
  if (!pair.ok()) return pair.status();
  if (settings_.user_failures.limit > 0) {
    auto user = store_->UpdateLoginRate(
        store::LoginRateScope::kUser, user_id, [&](int64_t tat) {
          return ToStored(AfterCountedFailure(FromStored(tat),
                                              settings_.user_failures, now));
        });
    if (!user.ok()) return user.status();
  }
  if (absl::Status s = ChargeSource(source, now); !s.ok()) return s;
  return locked_now;
}

absl::Status Authenticator::RecordSuccess(const std::string& user_id,
                                          const std::string& source,
                                          absl::Time now) const {
  return store_
      ->UpdateLoginFailure(user_id, source,
                           [&](store::LoginFailureRow& row) {
                             row.failures = 0;
                             row.last_failure = 0;
                             row.locked_until = 0;
                             row.last_success = ToStored(now);
                             row.expire_time =
                                 ToStored(now + settings_.familiar_source);
                           })
      .status();
}

absl::StatusOr<LoginResult> Authenticator::Login(
    absl::string_view username, absl::string_view password,
    absl::string_view service, const login::IpAddress& address,
    const policy::PolicySnapshot* policy) const {
  if (username.empty() || password.empty()) {
    return absl::InvalidArgumentError(
        "login: username and password are both required");
  }
  if (password.size() > kMaxPasswordBytes || username.size() > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("login: username or password is too long (at most ",
                     kMaxPasswordBytes, " bytes each)"));
  }
  const absl::Time now = clock_->Now();
  MaybePrune(now);
  // Rule 1: a source over its budget is refused before any lookup or hash.
  const std::string source = SourceKey(address);
  auto source_tat =
      store_->FindLoginRate(store::LoginRateScope::kSource, source);
  if (!source_tat.ok()) return source_tat.status();
  if (absl::Duration wait =
          RetryAfter(FromStored(*source_tat), settings_.source_failures, now);
      wait > absl::ZeroDuration()) {
    return SourceThrottled(source, settings_.source_failures, wait);
  }
  auto found = store_->FindUserByUsername(NormalizeUsername(username));
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    BurnVerifyTime(Sv(password), settings_.hash_params);
    if (absl::Status s = ChargeSource(source, now); !s.ok()) return s;
    return BadLogin("unknown_user");
  }
  const store::UserWithProfile& row = **found;
  const std::string& user_id = row.user.id;
  // Always one verification, whatever the state of the account.
  const bool password_ok =
      VerifyPassword(Sv(password), Sv(row.user.password_hash));
  // The profile decides before anything counts against the user: an
  // attempt from a forbidden address (or outside the login hours) is no
  // guess the user's counters pay for. Its refusal is told only to someone
  // who knows the password.
  const absl::Status refusal = CheckProfileRestrictions(
      policy, row.user.profile_id, {address, now, row.user.time_zone}, geo_);
  if (!row.user.active || !refusal.ok()) {
    if (row.user.active && password_ok) return refusal;
    if (absl::Status s = ChargeSource(source, now); !s.ok()) return s;
    return BadLogin(row.user.active ? "bad_password:restricted"
                                    : "inactive_user");
  }
  // Rules 2 and 3: locked out from this source, or the user's budget is
  // spent and this source is not familiar. Such attempts teach nothing (the
  // answer is the same either way), so they count against the source only.
  auto pair = store_->FindLoginFailure(user_id, source);
  if (!pair.ok()) return pair.status();
  bool held_back = IsLocked(ToLockState(*pair), now);
  const bool familiar =
      now < FromStored(pair->last_success) + settings_.familiar_source;
  if (!held_back && !familiar) {
    auto user_tat =
        store_->FindLoginRate(store::LoginRateScope::kUser, user_id);
    if (!user_tat.ok()) return user_tat.status();
    held_back = RetryAfter(FromStored(*user_tat), settings_.user_failures,
                           now) > absl::ZeroDuration();
  }
  if (held_back) {
    if (absl::Status s = ChargeSource(source, now); !s.ok()) return s;
    return BadLogin(IsLocked(ToLockState(*pair), now) ? "locked_out"
                                                      : "user_throttled");
  }
  if (!password_ok) {
    auto locked_now = CountFailure(user_id, source, now);
    if (!locked_now.ok()) return locked_now.status();
    return BadLogin(*locked_now ? "bad_password:lockout_started"
                                : "bad_password");
  }
  if (absl::Status s = RecordSuccess(user_id, source, now); !s.ok()) return s;
  IssuedToken issued = NewSessionToken();
  store::SessionRow session;
  session.token_hash = issued.hash;
  session.user_id = user_id;
  session.service = std::string(service);
  session.create_time = absl::ToUnixMicros(now);
  session.last_seen = session.create_time;
  session.expire_time = absl::ToUnixMicros(now + settings_.session_absolute);
  // A deactivation or revocation that commits after the read above bumps
  // the epoch, so this session is born dead rather than outliving it.
  session.user_epoch = row.user.session_epoch;
  if (absl::Status s = store_->InsertSession(session); !s.ok()) return s;
  LoginResult result;
  result.token = std::move(issued.token);
  result.expire_time = absl::FromUnixMicros(session.expire_time);
  result.user = UserFromRow(row);
  result.user.session_expire_time = result.expire_time;
  return result;
}

absl::Status Authenticator::Unlock(absl::string_view user_id) const {
  auto done = store_->ClearLoginFailures(user_id);
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
  if (absl::Status s = ValidateTimeZone(user.time_zone, "time_zone"); !s.ok()) {
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
