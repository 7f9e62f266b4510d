#include "store/identity_store.h"

#include <utility>
#include <variant>
#include <vector>

#include "store/statement.h"

namespace crm::store {
namespace {

using model::SqlValue;

constexpr char kUserColumns[] =
    "u.id, u.username, u.display_name, u.active, u.profile_id, u.role_id, "
    "u.time_zone, u.password_hash, u.failed_logins, u.locked_until, "
    "u.version, u.create_time, u.update_time";
constexpr size_t kUserColumnCount = 13;
constexpr char kProfileColumns[] =
    "p.id, p.name, p.allowed_ip_ranges, p.allowed_countries, p.login_hours, "
    "p.login_time_zone, p.system_permissions, p.version";
constexpr size_t kProfileColumnCount = 8;
constexpr char kSessionColumns[] =
    "s.token_hash, s.user_id, s.service, s.create_time, s.last_seen, "
    "s.expire_time, s.revoked";
constexpr size_t kSessionColumnCount = 7;

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
  u.failed_logins = Int(row, at + 8);
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
  return s;
}

}  // namespace

absl::Status IdentityStore::CreateProfile(const ProfileRow& p) {
  return db_->WithSession([&](Session& session) {
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
  });
}

absl::Status IdentityStore::CreateUser(const UserRow& u) {
  return db_->WithSession([&](Session& session) {
    return Execute(
               session,
               {"INSERT INTO users (id, username, display_name, active, "
                "profile_id, role_id, time_zone, password_hash, "
                "failed_logins, locked_until, version, create_time, "
                "update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {u.id, u.username, u.display_name, int64_t{u.active ? 1 : 0},
                 u.profile_id, u.role_id, u.time_zone, u.password_hash,
                 u.failed_logins, u.locked_until, u.version, u.create_time,
                 u.update_time}},
               "creating user '" + u.username + "'")
        .status();
  });
}

namespace {

absl::StatusOr<std::optional<UserWithProfile>> FindUserWhere(
    Database* db, const char* column, absl::string_view value) {
  std::optional<UserWithProfile> out;
  absl::Status s = db->WithSession([&](Session& session) -> absl::Status {
    std::string sql = std::string("SELECT ") + kUserColumns + ", " +
                      kProfileColumns +
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

absl::StatusOr<bool> IdentityStore::UpdateLockState(absl::string_view user_id,
                                                    int64_t expected_version,
                                                    int64_t failed_logins,
                                                    int64_t locked_until,
                                                    int64_t now) {
  int64_t changed = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto n = Execute(session,
                     {"UPDATE users SET failed_logins = ?, locked_until = ?, "
                      "version = version + 1, update_time = ? "
                      "WHERE id = ? AND version = ?",
                      {failed_logins, locked_until, now, std::string(user_id),
                       expected_version}},
                     "recording a login attempt");
    if (!n.ok()) return n.status();
    changed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed > 0;
}

absl::StatusOr<bool> IdentityStore::UnlockUser(absl::string_view user_id,
                                               int64_t now) {
  int64_t changed = 0;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto n = Execute(session,
                     {"UPDATE users SET failed_logins = 0, locked_until = 0, "
                      "version = version + 1, update_time = ? WHERE id = ?",
                      {now, std::string(user_id)}},
                     "unlocking a user");
    if (!n.ok()) return n.status();
    changed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed > 0;
}

absl::Status IdentityStore::InsertSession(const SessionRow& r) {
  return db_->WithSession([&](Session& session) {
    return Execute(session,
                   {"INSERT INTO sessions (token_hash, user_id, service, "
                    "create_time, last_seen, expire_time, revoked) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?)",
                    {r.token_hash, r.user_id, r.service, r.create_time,
                     r.last_seen, r.expire_time, int64_t{r.revoked ? 1 : 0}}},
                   "creating a session")
        .status();
  });
}

absl::StatusOr<std::optional<SessionWithUser>> IdentityStore::FindSession(
    absl::string_view token_hash) {
  std::optional<SessionWithUser> out;
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    std::string sql = std::string("SELECT ") + kSessionColumns + ", " +
                      kUserColumns + ", " + kProfileColumns +
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
    auto n = Execute(session,
                     {"UPDATE sessions SET revoked = 1 WHERE user_id = ? AND "
                      "revoked = 0 AND expire_time > ?",
                      {std::string(user_id), now}},
                     "revoking a user's sessions");
    if (!n.ok()) return n.status();
    changed = *n;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed;
}

}  // namespace crm::store
