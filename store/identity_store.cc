#include "store/identity_store.h"
#include "store/profile_rows.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "store/policy_store.h"
#include "store/statement.h"

namespace crm::store {
namespace {

using model::SqlValue;

// The user columns UserFrom reads; `with_lock` adds the derived
// locked_until (a lookup in login_failures), else 0 stands in for it.
std::string UserColumns(bool with_lock) {
  return absl::StrCat(
      "u.id, u.username, u.display_name, u.active, u.profile_id, u.role_id, "
      "u.time_zone, u.password_hash, u.session_epoch, ",
      with_lock ? "COALESCE((SELECT MAX(f.locked_until) FROM login_failures "
                  "f WHERE f.user_id = u.id), 0)"
                : "0",
      ", u.version, u.create_time, u.update_time");
}
constexpr size_t kUserColumnCount = 13;
constexpr char kProfileColumns[] =
    "p.id, p.name, p.allowed_ip_ranges, p.allowed_countries, p.login_hours, "
    "p.login_time_zone, p.system_permissions, p.version";
constexpr size_t kProfileColumnCount = 8;
constexpr char kSessionColumns[] =
    "s.token_hash, s.user_id, s.service, s.create_time, s.last_seen, "
    "s.expire_time, s.revoked, s.user_epoch";
constexpr size_t kSessionColumnCount = 8;
constexpr char kLoginFailureColumns[] =
    "user_id, source, failures, last_failure, locked_until, last_success, "
    "expire_time";

std::string Text(const Row& row, size_t i) {
  if (i >= row.size()) return "";
  if (const auto* s = std::get_if<std::string>(&row[i])) return *s;
  return "";
}

int64_t Int(const Row& row, size_t i) {
  if (i >= row.size()) return 0;
  if (const auto* v = std::get_if<int64_t>(&row[i])) return *v;
  if (const auto* d = std::get_if<double>(&row[i])) {
    return static_cast<int64_t>(*d);
  }
  // SQLite gives an expression column (no declared type, e.g. the derived
  // locked_until) to SOCI as text.
  int64_t parsed = 0;
  if (const auto* t = std::get_if<std::string>(&row[i]);
      t != nullptr && absl::SimpleAtoi(*t, &parsed)) {
    return parsed;
  }
  return 0;
}

UserRow UserFrom(const Row& row, size_t at) {
  UserRow u;
  u.id = Text(row, at + 0);
  u.username = Text(row, at + 1);
  u.display_name = Text(row, at + 2);
  u.active = Int(row, at + 3) != 0;
  u.profile_id = Text(row, at + 4);
  u.role_id = Text(row, at + 5);
  u.time_zone = Text(row, at + 6);
  u.password_hash = Text(row, at + 7);
  u.session_epoch = Int(row, at + 8);
  u.locked_until = Int(row, at + 9);
  u.version = Int(row, at + 10);
  u.create_time = Int(row, at + 11);
  u.update_time = Int(row, at + 12);
  return u;
}

ProfileRow ProfileFrom(const Row& row, size_t at) {
  ProfileRow p;
  p.id = Text(row, at + 0);
  p.name = Text(row, at + 1);
  p.allowed_ip_ranges = Text(row, at + 2);
  p.allowed_countries = Text(row, at + 3);
  p.login_hours = Text(row, at + 4);
  p.login_time_zone = Text(row, at + 5);
  p.system_permissions = Text(row, at + 6);
  p.version = Int(row, at + 7);
  return p;
}

SessionRow SessionFrom(const Row& row, size_t at) {
  SessionRow s;
  s.token_hash = Text(row, at + 0);
  s.user_id = Text(row, at + 1);
  s.service = Text(row, at + 2);
  s.create_time = Int(row, at + 3);
  s.last_seen = Int(row, at + 4);
  s.expire_time = Int(row, at + 5);
  s.revoked = Int(row, at + 6) != 0;
  s.user_epoch = Int(row, at + 7);
  return s;
}

LoginFailureRow LoginFailureFrom(const Row& row) {
  LoginFailureRow f;
  f.user_id = Text(row, 0);
  f.source = Text(row, 1);
  f.failures = Int(row, 2);
  f.last_failure = Int(row, 3);
  f.locked_until = Int(row, 4);
  f.last_success = Int(row, 5);
  f.expire_time = Int(row, 6);
  return f;
}

const char* ScopeName(LoginRateScope scope) {
  switch (scope) {
    case LoginRateScope::kSource:
      return "source";
    case LoginRateScope::kUser:
      return "user";
  }
  return "?";
}

// " FOR UPDATE" on PostgreSQL; nothing on SQLite, whose BEGIN IMMEDIATE
// already holds the database's write lock for the whole transaction.
const char* ForUpdate(const Session& session) {
  return DialectOf(session) == Dialect::kPostgres ? " FOR UPDATE" : "";
}

// Ends every session of the user for good inside the caller's transaction:
// bumps the epoch (sessions a concurrent Login inserts with the old one are
// dead too) and marks the open rows revoked. Returns how many were open.
absl::StatusOr<int64_t> EndAllSessions(Session& session,
                                       absl::string_view user_id, int64_t now) {
  auto bumped = Execute(session,
                        {"UPDATE users SET session_epoch = session_epoch + 1 "
                         "WHERE id = ?",
                         {std::string(user_id)}},
                        "ending a user's sessions");
  if (!bumped.ok()) return bumped.status();
  return Execute(session,
                 {"UPDATE sessions SET revoked = 1 WHERE user_id = ? AND "
                  "revoked = 0 AND expire_time > ?",
                  {std::string(user_id), now}},
                 "ending a user's sessions");
}

}  // namespace

absl::StatusOr<std::vector<ProfileRow>> ReadAllProfiles(Session& session) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", kProfileColumns, " FROM profiles p ORDER BY p.id"),
       {}},
      "loading profiles for the policy");
  if (!rows.ok()) return rows.status();
  std::vector<ProfileRow> out;
  out.reserve(rows->size());
  for (const Row& row : *rows) out.push_back(ProfileFrom(row, 0));
  return out;
}

std::vector<std::string> SplitListColumn(absl::string_view text,
                                         char separator) {
  std::vector<std::string> out;
  for (absl::string_view piece : absl::StrSplit(text, separator)) {
    piece = absl::StripAsciiWhitespace(piece);
    if (!piece.empty()) out.emplace_back(piece);
  }
  return out;
}

crm::internal::PolicyProfile ToPolicyProfile(const ProfileRow& profile) {
  crm::internal::PolicyProfile out;
  out.set_name(absl::StrCat("profiles/", profile.id));
  out.set_display_name(profile.name);
  for (std::string& r : SplitListColumn(profile.allowed_ip_ranges, '\n')) {
    out.add_allowed_ip_ranges(std::move(r));
  }
  for (std::string& c : SplitListColumn(profile.allowed_countries, ',')) {
    out.add_allowed_countries(std::move(c));
  }
  out.set_login_hours(profile.login_hours);
  out.set_login_time_zone(profile.login_time_zone);
  for (crm::v1::SystemPermission p :
       ParseProfilePermissions(profile.system_permissions)) {
    out.add_system_permissions(p);
  }
  return out;
}

std::vector<crm::v1::SystemPermission> ParseProfilePermissions(
    absl::string_view csv) {
  std::vector<crm::v1::SystemPermission> out;
  for (absl::string_view name : absl::StrSplit(csv, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) continue;
    crm::v1::SystemPermission p;
    if (crm::v1::SystemPermission_Parse(
            absl::AsciiStrToUpper(std::string(name)), &p) &&
        p != crm::v1::SYSTEM_PERMISSION_UNSPECIFIED) {
      out.push_back(p);
    }
  }
  // One canonical order (the enum's), whatever order the column has: a
  // policy bundle and the history compare profiles by their text.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// Runs `write` in one transaction that bumps the policy version first (see
// the file comment of identity_store.h).
absl::Status InPolicyTransaction(
    Database* db, const std::function<absl::Status(Session&)>& write) {
  PolicyStore policy(db);
  return db->InTransaction([&](Session& session) -> absl::Status {
    auto version = policy.BumpPolicyVersion(session);
    if (!version.ok()) return version.status();
    return write(session);
  });
}

// The same for a conditional write reporting whether it applied; a write
// that did not apply rolls back (the bump too).
absl::StatusOr<bool> InPolicyTransactionIf(
    Database* db, const std::function<absl::StatusOr<bool>(Session&)>& write) {
  bool not_applied = false;
  absl::Status s = InPolicyTransaction(db, [&](Session& session) {
    auto done = write(session);
    if (!done.ok()) return done.status();
    not_applied = !*done;
    return not_applied ? absl::AbortedError("not applied; rolled back")
                       : absl::OkStatus();
  });
  if (not_applied) return false;
  if (!s.ok()) return s;
  return true;
}

absl::StatusOr<bool> Changed(absl::StatusOr<int64_t> n) {
  if (!n.ok()) return n.status();
  return *n > 0;
}

}  // namespace

absl::Status IdentityStore::CreateProfile(const ProfileRow& p) {
  return InPolicyTransaction(
      db_, [&](Session& session) { return CreateProfile(session, p); });
}

absl::Status IdentityStore::CreateUser(const UserRow& u) {
  return InPolicyTransaction(
      db_, [&](Session& session) { return CreateUser(session, u); });
}

absl::Status IdentityStore::CreateProfile(Session& session,
                                          const ProfileRow& p) {
  return Execute(session,
                 {"INSERT INTO profiles (id, name, allowed_ip_ranges, "
                  "allowed_countries, login_hours, login_time_zone, "
                  "system_permissions, version) VALUES (?, ?, ?, ?, ?, ?, "
                  "?, ?)",
                  {p.id, p.name, p.allowed_ip_ranges, p.allowed_countries,
                   p.login_hours, p.login_time_zone, p.system_permissions,
                   p.version}},
                 "creating profile '" + p.name + "'")
      .status();
}

absl::Status IdentityStore::CreateUser(Session& session, const UserRow& u) {
  return Execute(session,
                 {"INSERT INTO users (id, username, display_name, active, "
                  "profile_id, role_id, time_zone, password_hash, "
                  "session_epoch, version, create_time, update_time) VALUES "
                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  {u.id, u.username, u.display_name, int64_t{u.active ? 1 : 0},
                   u.profile_id, u.role_id, u.time_zone, u.password_hash,
                   u.session_epoch, u.version, u.create_time, u.update_time}},
                 "creating user '" + u.username + "'")
      .status();
}

absl::StatusOr<bool> IdentityStore::UpdateUser(const UserRow& u,
                                               int64_t expected_version) {
  return InPolicyTransactionIf(db_, [&](Session& session) {
    return UpdateUser(session, u, expected_version);
  });
}

absl::StatusOr<bool> IdentityStore::UpdateUser(Session& session,
                                               const UserRow& u,
                                               int64_t expected_version) {
  auto applied = Changed(
      Execute(session,
              {"UPDATE users SET display_name = ?, active = ?, profile_id = ?, "
               "role_id = ?, time_zone = ?, update_time = ?, version = ? "
               "WHERE id = ? AND version = ?",
               {u.display_name, int64_t{u.active ? 1 : 0}, u.profile_id,
                u.role_id, u.time_zone, u.update_time, expected_version + 1,
                u.id, expected_version}},
              "updating user '" + u.id + "'"));
  if (!applied.ok() || !*applied || u.active) return applied;
  // An inactive user has no session, now or after a reactivation.
  auto ended = EndAllSessions(session, u.id, u.update_time);
  if (!ended.ok()) return ended.status();
  return true;
}

absl::StatusOr<bool> IdentityStore::DeleteUser(absl::string_view user_id,
                                               int64_t expected_version) {
  return InPolicyTransactionIf(db_, [&](Session& session) {
    return DeleteUser(session, user_id, expected_version);
  });
}

absl::StatusOr<bool> IdentityStore::DeleteUser(Session& session,
                                               absl::string_view user_id,
                                               int64_t expected_version) {
  auto applied =
      Changed(Execute(session,
                      {"DELETE FROM users WHERE id = ? AND version = ?",
                       {std::string(user_id), expected_version}},
                      absl::StrCat("deleting user '", user_id, "'")));
  if (!applied.ok() || !*applied) return applied;
  // Sessions and login_failures went with the row (ON DELETE CASCADE); the
  // budget is keyed by a plain string, so that a new user with this id
  // starts clean.
  auto budget = Execute(
      session,
      {"DELETE FROM login_rates WHERE scope = ? AND "
       "subject = ?",
       {std::string(ScopeName(LoginRateScope::kUser)), std::string(user_id)}},
      absl::StrCat("deleting user '", user_id, "'"));
  if (!budget.ok()) return budget.status();
  return true;
}

absl::StatusOr<bool> IdentityStore::UpdateProfile(const ProfileRow& p,
                                                  int64_t expected_version) {
  return InPolicyTransactionIf(db_, [&](Session& session) {
    return UpdateProfile(session, p, expected_version);
  });
}

absl::StatusOr<bool> IdentityStore::UpdateProfile(Session& session,
                                                  const ProfileRow& p,
                                                  int64_t expected_version) {
  return Changed(Execute(
      session,
      {"UPDATE profiles SET name = ?, allowed_ip_ranges = ?, "
       "allowed_countries = ?, login_hours = ?, login_time_zone = ?, "
       "system_permissions = ?, version = ? WHERE id = ? AND version = ?",
       {p.name, p.allowed_ip_ranges, p.allowed_countries, p.login_hours,
        p.login_time_zone, p.system_permissions, expected_version + 1, p.id,
        expected_version}},
      "updating profile '" + p.id + "'"));
}

absl::StatusOr<bool> IdentityStore::DeleteProfile(absl::string_view profile_id,
                                                  int64_t expected_version) {
  return InPolicyTransactionIf(db_, [&](Session& session) {
    return DeleteProfile(session, profile_id, expected_version);
  });
}

absl::StatusOr<bool> IdentityStore::DeleteProfile(Session& session,
                                                  absl::string_view profile_id,
                                                  int64_t expected_version) {
  return Changed(Execute(session,
                         {"DELETE FROM profiles WHERE id = ? AND version = ?",
                          {std::string(profile_id), expected_version}},
                         absl::StrCat("deleting profile '", profile_id, "'")));
}

absl::StatusOr<bool> IdentityStore::SetPasswordHash(
    absl::string_view user_id, int64_t expected_version,
    const std::string& password_hash, bool revoke_sessions, int64_t now) {
  bool applied = false;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    auto n = Execute(session,
                     {"UPDATE users SET password_hash = ?, version = version "
                      "+ 1, update_time = ? WHERE id = ? AND (? < 0 OR "
                      "version = ?)",
                      {password_hash, now, std::string(user_id),
                       expected_version, expected_version}},
                     "setting a password");
    if (!n.ok()) return n.status();
    applied = *n > 0;
    if (!applied || !revoke_sessions) return absl::OkStatus();
    return EndAllSessions(session, user_id, now).status();
  });
  if (!s.ok()) return s;
  return applied;
}

absl::StatusOr<std::vector<UserWithProfile>> IdentityStore::ListUsers(
    absl::string_view after_username, int limit) {
  std::vector<UserWithProfile> out;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto rows = Query(
        session,
        {absl::StrCat("SELECT ", UserColumns(true), ", ", kProfileColumns,
                      " FROM users u JOIN profiles p ON p.id = u.profile_id "
                      "WHERE u.username > ? ORDER BY u.username LIMIT ?"),
         {std::string(after_username), int64_t{limit}}},
        "listing users");
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) {
      out.push_back(UserWithProfile{UserFrom(row, 0),
                                    ProfileFrom(row, kUserColumnCount)});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<ProfileRow>> IdentityStore::ListProfiles(
    absl::string_view after_id, int limit) {
  std::vector<ProfileRow> out;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto rows = Query(session,
                      {absl::StrCat("SELECT ", kProfileColumns,
                                    " FROM profiles p WHERE p.id > ? "
                                    "ORDER BY p.id LIMIT ?"),
                       {std::string(after_id), int64_t{limit}}},
                      "listing profiles");
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) out.push_back(ProfileFrom(row, 0));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<ProfileRow>> IdentityStore::FindProfileById(
    absl::string_view id) {
  std::optional<ProfileRow> out;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto found = FindProfileById(session, id);
    if (!found.ok()) return found.status();
    out = *std::move(found);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<ProfileRow>> IdentityStore::FindProfileById(
    Session& session, absl::string_view id) {
  auto rows = Query(session,
                    {absl::StrCat("SELECT ", kProfileColumns,
                                  " FROM profiles p WHERE p.id = ?"),
                     {std::string(id)}},
                    "reading a profile");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  return ProfileFrom(rows->front(), 0);
}

absl::StatusOr<IdentityStore::ProfileUsers> IdentityStore::UsersWithProfile(
    Session& session, absl::string_view profile_id, int limit) {
  ProfileUsers out;
  auto total = QueryInt(session,
                        {"SELECT COUNT(*) FROM users WHERE profile_id = ?",
                         {std::string(profile_id)}},
                        "counting a profile's users");
  if (!total.ok()) return total.status();
  out.total = *total;
  auto rows = Query(session,
                    {"SELECT id FROM users WHERE profile_id = ? ORDER BY id "
                     "LIMIT ?",
                     {std::string(profile_id), int64_t{limit}}},
                    "reading a profile's users");
  if (!rows.ok()) return rows.status();
  for (const Row& row : *rows) out.user_ids.push_back(Text(row, 0));
  return out;
}

namespace {

absl::StatusOr<std::optional<UserWithProfile>> FindUserWhere(
    Database* db, const char* column, absl::string_view value) {
  std::optional<UserWithProfile> out;
  absl::Status s = db->WithSession([&](Session& session) -> absl::Status {
    std::string sql = "SELECT " + UserColumns(true) + ", " + kProfileColumns +
                      " FROM users u JOIN profiles p ON p.id = u.profile_id "
                      "WHERE u." +
                      column + " = ?";
    auto rows = Query(session, {sql, {std::string(value)}}, "reading a user");
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::OkStatus();
    const Row& row = rows->front();
    out = UserWithProfile{UserFrom(row, 0), ProfileFrom(row, kUserColumnCount)};
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace

absl::StatusOr<std::optional<UserWithProfile>>
IdentityStore::FindUserByUsername(absl::string_view username) {
  return FindUserWhere(db_, "username", username);
}

absl::StatusOr<std::optional<UserWithProfile>> IdentityStore::FindUserById(
    absl::string_view id) {
  return FindUserWhere(db_, "id", id);
}

absl::StatusOr<LoginFailureRow> IdentityStore::FindLoginFailure(
    absl::string_view user_id, absl::string_view source) {
  LoginFailureRow out;
  out.user_id = std::string(user_id);
  out.source = std::string(source);
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto rows = Query(session,
                      {absl::StrCat("SELECT ", kLoginFailureColumns,
                                    " FROM login_failures WHERE user_id = ? "
                                    "AND source = ?"),
                       {out.user_id, out.source}},
                      "reading failed logins");
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) out = LoginFailureFrom(rows->front());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<LoginFailureRow> IdentityStore::UpdateLoginFailure(
    absl::string_view user_id, absl::string_view source,
    const std::function<void(LoginFailureRow&)>& change) {
  LoginFailureRow row;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    const std::string user(user_id), from(source);
    // Make sure the row exists, so that there is a row to lock: two first
    // failures at once must not both insert.
    auto n = Execute(session,
                     {"INSERT INTO login_failures (user_id, source, "
                      "expire_time) VALUES (?, ?, 0) ON CONFLICT (user_id, "
                      "source) DO NOTHING",
                      {user, from}},
                     "recording a login attempt");
    if (!n.ok()) return n.status();
    auto rows = Query(session,
                      {absl::StrCat("SELECT ", kLoginFailureColumns,
                                    " FROM login_failures WHERE user_id = ? "
                                    "AND source = ?",
                                    ForUpdate(session)),
                       {user, from}},
                      "recording a login attempt");
    if (!rows.ok()) return rows.status();
    if (rows->empty()) {
      return absl::InternalError("recording a login attempt: row vanished");
    }
    row = LoginFailureFrom(rows->front());
    change(row);
    row.user_id = user;
    row.source = from;
    return Execute(session,
                   {"UPDATE login_failures SET failures = ?, last_failure = "
                    "?, locked_until = ?, last_success = ?, expire_time = ? "
                    "WHERE user_id = ? AND source = ?",
                    {row.failures, row.last_failure, row.locked_until,
                     row.last_success, row.expire_time, user, from}},
                   "recording a login attempt")
        .status();
  });
  if (!s.ok()) return s;
  return row;
}

absl::StatusOr<bool> IdentityStore::ClearLoginFailures(
    absl::string_view user_id) {
  bool exists = false;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    const std::string user(user_id);
    auto n =
        QueryInt(session, {"SELECT COUNT(*) FROM users WHERE id = ?", {user}},
                 "unlocking a user");
    if (!n.ok()) return n.status();
    exists = *n > 0;
    if (!exists) return absl::OkStatus();
    auto cleared = Execute(session,
                           {"UPDATE login_failures SET failures = 0, "
                            "locked_until = 0 WHERE user_id = ?",
                            {user}},
                           "unlocking a user");
    if (!cleared.ok()) return cleared.status();
    return Execute(session,
                   {"DELETE FROM login_rates WHERE scope = ? AND subject = ?",
                    {std::string(ScopeName(LoginRateScope::kUser)), user}},
                   "unlocking a user")
        .status();
  });
  if (!s.ok()) return s;
  return exists;
}

absl::StatusOr<int64_t> IdentityStore::FindLoginRate(
    LoginRateScope scope, absl::string_view subject) {
  int64_t out = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto tat = QueryInt(session,
                        {"SELECT tat FROM login_rates WHERE scope = ? AND "
                         "subject = ?",
                         {std::string(ScopeName(scope)), std::string(subject)}},
                        "reading a login budget");
    if (!tat.ok()) return tat.status();
    out = *tat;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> IdentityStore::UpdateLoginRate(
    LoginRateScope scope, absl::string_view subject,
    const std::function<int64_t(int64_t)>& next) {
  int64_t out = 0;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    const std::string scope_name(ScopeName(scope)), key(subject);
    auto n = Execute(session,
                     {"INSERT INTO login_rates (scope, subject, tat) VALUES "
                      "(?, ?, 0) ON CONFLICT (scope, subject) DO NOTHING",
                      {scope_name, key}},
                     "recording a failed login");
    if (!n.ok()) return n.status();
    auto tat = QueryInt(session,
                        {absl::StrCat("SELECT tat FROM login_rates WHERE "
                                      "scope = ? AND subject = ?",
                                      ForUpdate(session)),
                         {scope_name, key}},
                        "recording a failed login");
    if (!tat.ok()) return tat.status();
    out = next(*tat);
    return Execute(session,
                   {"UPDATE login_rates SET tat = ? WHERE scope = ? AND "
                    "subject = ?",
                    {out, scope_name, key}},
                   "recording a failed login")
        .status();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<int64_t> IdentityStore::DeleteExpiredLoginState(int64_t now) {
  int64_t deleted = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    for (const char* sql : {"DELETE FROM login_failures WHERE expire_time < ?",
                            "DELETE FROM login_rates WHERE tat < ?"}) {
      auto n = Execute(session, {sql, {now}}, "forgetting old failed logins");
      if (!n.ok()) return n.status();
      deleted += *n;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return deleted;
}

absl::Status IdentityStore::InsertSession(const SessionRow& r) {
  return db_->WithSession([&](Session& session) {
    return Execute(
               session,
               {"INSERT INTO sessions (token_hash, user_id, service, "
                "create_time, last_seen, expire_time, revoked, "
                "user_epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                {r.token_hash, r.user_id, r.service, r.create_time, r.last_seen,
                 r.expire_time, int64_t{r.revoked ? 1 : 0}, r.user_epoch}},
               "creating a session")
        .status();
  });
}

absl::StatusOr<std::optional<SessionWithUser>> IdentityStore::FindSession(
    absl::string_view token_hash) {
  std::optional<SessionWithUser> out;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    std::string sql = std::string("SELECT ") + kSessionColumns + ", " +
                      UserColumns(false) + ", " + kProfileColumns +
                      " FROM sessions s JOIN users u ON u.id = s.user_id "
                      "JOIN profiles p ON p.id = u.profile_id "
                      "WHERE s.token_hash = ?";
    auto rows =
        Query(session, {sql, {std::string(token_hash)}}, "reading a session");
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::OkStatus();
    const Row& row = rows->front();
    out = SessionWithUser{
        SessionFrom(row, 0),
        UserWithProfile{
            UserFrom(row, kSessionColumnCount),
            ProfileFrom(row, kSessionColumnCount + kUserColumnCount)}};
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status IdentityStore::TouchSession(absl::string_view token_hash,
                                         int64_t now, int64_t older_than) {
  return db_->WithSession([&](Session& session) {
    return Execute(session,
                   {"UPDATE sessions SET last_seen = ? WHERE token_hash = ? "
                    "AND last_seen < ?",
                    {now, std::string(token_hash), older_than}},
                   "recording session use")
        .status();
  });
}

absl::StatusOr<bool> IdentityStore::RevokeSession(
    absl::string_view token_hash) {
  int64_t changed = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto n = Execute(session,
                     {"UPDATE sessions SET revoked = 1 WHERE token_hash = ? "
                      "AND revoked = 0",
                      {std::string(token_hash)}},
                     "ending a session");
    if (!n.ok()) return n.status();
    changed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed > 0;
}

absl::StatusOr<int64_t> IdentityStore::RevokeUserSessions(
    absl::string_view user_id, int64_t now) {
  int64_t changed = 0;
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    auto n = EndAllSessions(session, user_id, now);
    if (!n.ok()) return n.status();
    changed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed;
}

}  // namespace crm::store
