// Storage of identities (migrations 2 and 5): profiles, users, sessions and
// login throttling state. Plain rows in, plain rows out; the meaning of the
// columns (lockout, expiry, restrictions) is auth/'s business. Every
// statement is parameterised.
//
// Column formats:
//   profiles.allowed_ip_ranges   CIDR ranges separated by newlines
//                                (SplitListColumn reads the lists)
//   profiles.allowed_countries   ISO 3166-1 alpha-2 codes separated by commas
//   profiles.login_hours         a LoginHours spec (login/login_hours.h)
//   profiles.login_time_zone     IANA zone of login_hours ("" = the user's)
//   profiles.system_permissions  names separated by commas
//                                (auth/system_permissions.h)
//   times                        Unix microseconds; 0 means "never" (not
//                                locked, no failure...), INT64_MAX in a
//                                locked_until "until unlocked"
//   users.failed_logins, users.locked_until   unused since migration 5 (the
//                                lock state moved to login_failures; the
//                                columns stay so that the migration is
//                                additive and a rolling upgrade works)
//
// Sessions die with their user: every session row records the user's
// session_epoch at Login, and a session is valid only while the user's
// epoch is unchanged (auth::SessionManager). Ending all of a user's
// sessions - deactivation, RevokeUserSessions, SetPasswordHash with
// revoke_sessions - bumps the epoch and marks the rows revoked in one
// transaction, so a session that a concurrent Login inserts with the old
// epoch is dead too, and reactivating the user revives nothing. Deleting
// a user deletes their sessions and login_failures rows (foreign keys).
//
// Users and profiles are input of the compiled access policy (a user's role,
// profile and active flag; a profile's system permissions and login
// restrictions, which the snapshot compiles once per policy version: the
// request path never parses these columns). Every write of
// them therefore bumps the policy version (PolicyStore::BumpPolicyVersion)
// FIRST in its transaction, so that every server recompiles. Methods taking
// a Session run inside the caller's transaction and do NOT bump: the caller
// must have bumped first (server/policy_write.h does); the methods without
// a Session open their own transaction and bump. Lock state, passwords and
// sessions are not policy input and bump nothing.
//
// Thread-safety: IdentityStore is immutable after construction and safe to
// use from any number of threads (each call leases its own connection).
// Failures are the Database's (UNAVAILABLE, ABORTED for transient
// conflicts, INTERNAL; details logged) plus those listed per method.
#ifndef CRM_STORE_IDENTITY_STORE_H_
#define CRM_STORE_IDENTITY_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "store/database.h"

namespace crm::store {

struct ProfileRow {
  std::string id;
  std::string name;  // unique, e.g. "Sales Rep"
  std::string allowed_ip_ranges;
  std::string allowed_countries;
  std::string login_hours;
  std::string login_time_zone;
  std::string system_permissions;
  int64_t version = 1;
};

struct UserRow {
  std::string id;
  std::string username;  // unique
  std::string display_name;
  bool active = true;
  std::string profile_id;
  std::string role_id;
  std::string time_zone;
  std::string password_hash;  // PHC string (auth/password_hasher.h)
  // Bumped whenever every session of the user ends (see the file comment).
  int64_t session_epoch = 0;
  // Read-only, derived: the latest locked_until of the user's
  // login_failures rows (any source; it may lie in the past), 0 if none.
  // Filled by ListUsers and FindUserBy*; FindSession leaves it 0.
  int64_t locked_until = 0;
  int64_t version = 1;
  int64_t create_time = 0;
  int64_t update_time = 0;
};

struct SessionRow {
  std::string token_hash;  // auth::HashToken of the bearer token
  std::string user_id;
  std::string service;  // the service that created it
  int64_t create_time = 0;
  int64_t last_seen = 0;
  int64_t expire_time = 0;  // absolute expiry
  bool revoked = false;
  int64_t user_epoch = 0;  // the user's session_epoch at Login
};

// Failed logins of one user from one source (auth/lockout.h, rule 2), and
// the user's last success from it. expire_time: when the row no longer
// means anything and may be deleted (DeleteExpiredLoginState).
struct LoginFailureRow {
  std::string user_id;
  std::string source;
  int64_t failures = 0;
  int64_t last_failure = 0;
  int64_t locked_until = 0;
  int64_t last_success = 0;
  int64_t expire_time = 0;
};

// The failure budgets of auth/lockout.h (rules 1 and 3), one time each.
enum class LoginRateScope { kSource, kUser };

struct UserWithProfile {
  UserRow user;
  ProfileRow profile;
};

struct SessionWithUser {
  SessionRow session;
  UserWithProfile user;
};

// The entries of a list column (separator '\n' for allowed_ip_ranges, ','
// for allowed_countries and system_permissions): trimmed, empty ones
// dropped.
std::vector<std::string> SplitListColumn(absl::string_view text,
                                         char separator);

// The profile as the policy compiles it (PolicyStore::LoadState): name
// "profiles/{id}", display name, lists split, hours and zone as stored.
crm::internal::PolicyProfile ToPolicyProfile(const ProfileRow& profile);

// "view_all_data, manage_policy" -> VIEW_ALL_DATA, MANAGE_POLICY (the
// profiles.system_permissions column). Unknown names are skipped: they are
// validated when written.
std::vector<crm::v1::SystemPermission> ParseProfilePermissions(
    absl::string_view csv);

class IdentityStore {
 public:
  // `db` must be migrated to version 5 or later and outlive the store.
  explicit IdentityStore(Database* db) : db_(db) {}

  // --- Profiles and users (policy input; see the file comment) ----------

  // Inserts a row. ALREADY_EXISTS if the id or the unique name (profile
  // name, username) is taken; for a user, a database error if the profile
  // does not exist (the foreign key refuses it; check first).
  absl::Status CreateProfile(const ProfileRow& profile);
  absl::Status CreateUser(const UserRow& user);
  absl::Status CreateProfile(Session& session, const ProfileRow& profile);
  absl::Status CreateUser(Session& session, const UserRow& user);

  // Replaces display_name, active, profile_id, role_id, time_zone and
  // update_time of user `user.id` and sets version = expected_version + 1,
  // if the row still has expected_version. False (nothing changed) if it
  // does not (stale, or gone). username, password and lock state are kept.
  // With user.active false, every session of the user ends for good in the
  // same transaction (epoch bumped, rows revoked; see the file comment).
  absl::StatusOr<bool> UpdateUser(const UserRow& user,
                                  int64_t expected_version);
  absl::StatusOr<bool> UpdateUser(Session& session, const UserRow& user,
                                  int64_t expected_version);

  // Deletes the user (and, by the foreign keys, their sessions and
  // login_failures rows; their user-wide login budget with them) if its
  // version is expected_version; false otherwise.
  absl::StatusOr<bool> DeleteUser(absl::string_view user_id,
                                  int64_t expected_version);
  absl::StatusOr<bool> DeleteUser(Session& session, absl::string_view user_id,
                                  int64_t expected_version);

  // Replaces every column but id of profile `profile.id` and sets version =
  // expected_version + 1 if the row still has expected_version; false
  // otherwise. ALREADY_EXISTS if the new name is another profile's.
  absl::StatusOr<bool> UpdateProfile(const ProfileRow& profile,
                                     int64_t expected_version);
  absl::StatusOr<bool> UpdateProfile(Session& session,
                                     const ProfileRow& profile,
                                     int64_t expected_version);

  // Deletes the profile if its version is expected_version; false
  // otherwise. A database error if users still reference it (the foreign
  // key refuses it; check with UsersWithProfile first).
  absl::StatusOr<bool> DeleteProfile(absl::string_view profile_id,
                                     int64_t expected_version);
  absl::StatusOr<bool> DeleteProfile(Session& session,
                                     absl::string_view profile_id,
                                     int64_t expected_version);

  // Sets the password hash (not policy input: no version bump of the
  // policy) if the user's version is expected_version (any version if
  // negative), bumping the user's version; with `revoke_sessions`, also
  // ends every session of the user (epoch bumped, rows revoked), in the
  // same transaction. False if no such user or the version is stale.
  absl::StatusOr<bool> SetPasswordHash(absl::string_view user_id,
                                       int64_t expected_version,
                                       const std::string& password_hash,
                                       bool revoke_sessions, int64_t now);

  // --- Reads --------------------------------------------------------------

  // Users with username > after_username, in username order, at most
  // `limit`, each with its profile.
  absl::StatusOr<std::vector<UserWithProfile>> ListUsers(
      absl::string_view after_username, int limit);

  // Profiles with id > after_id, in id order, at most `limit`.
  absl::StatusOr<std::vector<ProfileRow>> ListProfiles(
      absl::string_view after_id, int limit);

  absl::StatusOr<std::optional<ProfileRow>> FindProfileById(
      absl::string_view id);
  absl::StatusOr<std::optional<ProfileRow>> FindProfileById(
      Session& session, absl::string_view id);

  // The ids of at most `limit` users whose profile is `profile_id` (in id
  // order), and how many there are in all.
  struct ProfileUsers {
    std::vector<std::string> user_ids;
    int64_t total = 0;
  };
  absl::StatusOr<ProfileUsers> UsersWithProfile(Session& session,
                                                absl::string_view profile_id,
                                                int limit);

  // The user with its profile, or nullopt if there is none.
  absl::StatusOr<std::optional<UserWithProfile>> FindUserByUsername(
      absl::string_view username);
  absl::StatusOr<std::optional<UserWithProfile>> FindUserById(
      absl::string_view id);

  // --- Login throttling (not policy input; see auth/lockout.h) ----------

  // The (user_id, source) row; if there is none, a row with only the key
  // set (all counts 0).
  absl::StatusOr<LoginFailureRow> FindLoginFailure(absl::string_view user_id,
                                                   absl::string_view source);

  // Replaces the (user_id, source) row with what `change` makes of the
  // current one (as FindLoginFailure gives it), holding the row locked in
  // between, so concurrent changes from any number of servers all apply.
  // Returns the row written. `change` may run more than once (transaction
  // retries) and must be pure; it must not change the key. A database
  // error (constraint) if the user does not exist.
  absl::StatusOr<LoginFailureRow> UpdateLoginFailure(
      absl::string_view user_id, absl::string_view source,
      const std::function<void(LoginFailureRow&)>& change);

  // Clears failures and locks of every source of the user and deletes the
  // user's budget (scope kUser); last_success is kept. False if no such
  // user.
  absl::StatusOr<bool> ClearLoginFailures(absl::string_view user_id);

  // A budget's time (0 if it has none), and its atomic update, as for
  // FindLoginFailure/UpdateLoginFailure: `next` maps the current time (0 if
  // none) to the new one.
  absl::StatusOr<int64_t> FindLoginRate(LoginRateScope scope,
                                        absl::string_view subject);
  absl::StatusOr<int64_t> UpdateLoginRate(
      LoginRateScope scope, absl::string_view subject,
      const std::function<int64_t(int64_t)>& next);

  // Deletes login_failures rows whose expire_time and budgets whose time
  // are before `now` (a deleted row reads as an all-zero one). Returns how
  // many rows went.
  absl::StatusOr<int64_t> DeleteExpiredLoginState(int64_t now);

  // --- Sessions -----------------------------------------------------------

  absl::Status InsertSession(const SessionRow& session);

  // The session with its user and profile (one query), or nullopt.
  absl::StatusOr<std::optional<SessionWithUser>> FindSession(
      absl::string_view token_hash);

  // Sets last_seen to `now` if it is older than `older_than` (so that
  // concurrent requests write at most once).
  absl::Status TouchSession(absl::string_view token_hash, int64_t now,
                            int64_t older_than);

  // Marks one session revoked. False if it did not exist or was revoked.
  absl::StatusOr<bool> RevokeSession(absl::string_view token_hash);

  // Ends every session of the user for good (epoch bumped, rows revoked,
  // in one transaction); returns how many were open (unrevoked and before
  // their absolute expiry at `now`).
  absl::StatusOr<int64_t> RevokeUserSessions(absl::string_view user_id,
                                             int64_t now);

 private:
  Database* db_;
};

}  // namespace crm::store

#endif  // CRM_STORE_IDENTITY_STORE_H_
