// Storage of the access policy (migration 3): policy objects, the policy
// version counter and manual record shares; plus the consistent read of
// everything the policy engine compiles (crm.internal.PolicyState).
//
// Policy objects are rows (kind, id, version, body, update_time) where kind
// is the first segment of the object's name ("permissionSets", "roles", ...,
// see kPolicyKinds) and body is the serialized crm.v1 message of that kind
// (PermissionSet, OrgWideDefault, Role, Group, SharingRule, RestrictionRule)
// with its name set and its etag empty (the etag is derived from version).
// This store does not validate bodies: the admin service compiles the policy
// before writing.
//
// Every policy write must bump the policy version (BumpPolicyVersion) in the
// same transaction; doing it FIRST also serialises policy writers (it locks
// the one policy_version row), so each writer validates against the latest
// committed policy. Servers compare PolicyVersion with the version they
// compiled to notice changes made elsewhere.
//
// Thread-safety: stateless apart from the Database pointer; share freely.
// Sessions follow database.h's rules. Failures are the Database's
// (UNAVAILABLE, ABORTED for transient conflicts, INTERNAL with details
// logged) plus those listed per method.
#ifndef CRM_STORE_POLICY_STORE_H_
#define CRM_STORE_POLICY_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "store/database.h"

namespace crm::store {

// The kinds of policy object, in the order PolicyState lists them.
inline constexpr absl::string_view kPermissionSetsKind = "permissionSets";
inline constexpr absl::string_view kOrgWideDefaultsKind = "orgWideDefaults";
inline constexpr absl::string_view kRolesKind = "roles";
inline constexpr absl::string_view kGroupsKind = "groups";
inline constexpr absl::string_view kSharingRulesKind = "sharingRules";
inline constexpr absl::string_view kRestrictionRulesKind = "restrictionRules";
inline constexpr absl::string_view kDataSourcesKind = "dataSources";
inline constexpr absl::string_view kPolicyKinds[] = {
    kPermissionSetsKind, kOrgWideDefaultsKind, kRolesKind,
    kGroupsKind,         kSharingRulesKind,    kRestrictionRulesKind,
    kDataSourcesKind};

bool IsPolicyKind(absl::string_view kind);

struct PolicyObjectRow {
  std::string kind;
  std::string id;
  int64_t version = 1;
  std::string body;  // serialized message (binary)
  int64_t update_time = 0;  // Unix microseconds
};

// Record share access levels (record_shares.access).
inline constexpr int64_t kShareRead = 1;
inline constexpr int64_t kShareReadWrite = 2;

struct ShareRow {
  std::string id;
  std::string object;     // collection, e.g. "accounts"
  std::string record_id;  // the record's id within the collection
  // "users/{id}", "roles/{id}", "roleAndSubordinates/{id}" or "groups/{id}".
  std::string grantee;
  int64_t access = kShareRead;
  std::string created_by;  // "users/{id}" or "services/{name}"
  int64_t create_time = 0;  // Unix microseconds
};

// One policy version in the history (migration 9).
struct PolicyHistoryRow {
  int64_t version = 0;
  int64_t time = 0;  // Unix microseconds
  std::string actor_user;     // "users/{id}" or ""
  std::string actor_service;  // "services/{name}" or ""
  std::string request_id;
  std::string method;   // "PolicyAdminService/ApplyPolicy", ...
  std::string message;  // the caller's, or ""
  std::vector<std::string> changed;  // object names, in diff order
  // The policy at this version (policy::SerializeBundleState's bytes).
  // AppendHistory: the state to keep; GetHistory: the state, read from the
  // row that holds it; ListHistory: empty.
  std::string state;
};

// The shadow policy (migration 10; admin_service.proto SetShadowPolicy).
struct ShadowPolicyRow {
  int64_t revision = 0;  // 0: never set
  bool active = false;
  bool prune = false;
  int64_t time = 0;  // Unix microseconds of the last set or clear
  std::string actor_user;     // "users/{id}" or ""
  std::string actor_service;  // "services/{name}" or ""
  std::string message;
  // crm.v1.PolicyBundleFiles, serialized; empty when inactive.
  std::string bundle;
};

class PolicyStore {
 public:
  // `db` must be migrated to version 3 or later and outlive the store.
  explicit PolicyStore(Database* db) : db_(db) {}

  // --- The compiled input -------------------------------------------------

  // Everything the engine compiles: every policy object (parsed, with name
  // and etag set), every user (id, "roles/{role_id}" or "", "profiles/{id}",
  // active) with the system permissions of their profile, every profile
  // with its login restrictions (ToPolicyProfile), and the policy version.
  // Read on `session`; call inside a transaction for a consistent read.
  // INTERNAL if a stored body does not parse.
  absl::StatusOr<crm::internal::PolicyState> LoadState(Session& session);
  // The same in its own transaction.
  absl::StatusOr<crm::internal::PolicyState> LoadState();

  // The current policy version (1 after migration 3).
  absl::StatusOr<int64_t> PolicyVersion(Session& session);
  absl::StatusOr<int64_t> PolicyVersion();

  // Adds one to the policy version and returns the new value. Call first in
  // the transaction of every write that changes the policy's input (policy
  // objects, and also users and profiles).
  absl::StatusOr<int64_t> BumpPolicyVersion(Session& session);

  // --- Policy objects -----------------------------------------------------

  absl::StatusOr<std::optional<PolicyObjectRow>> GetObject(
      Session& session, absl::string_view kind, absl::string_view id);

  // Objects of `kind` with id > after_id, in id order, at most `limit`.
  absl::StatusOr<std::vector<PolicyObjectRow>> ListObjects(
      Session& session, absl::string_view kind, absl::string_view after_id,
      int limit);

  // ALREADY_EXISTS if (kind, id) is taken.
  absl::Status InsertObject(Session& session, const PolicyObjectRow& row);

  // Replaces body, sets update_time and version = expected_version + 1 if the
  // row still has expected_version; false (nothing changed) otherwise.
  absl::StatusOr<bool> UpdateObjectIfVersion(Session& session,
                                             absl::string_view kind,
                                             absl::string_view id,
                                             int64_t expected_version,
                                             const std::string& body,
                                             int64_t update_time);

  // False if no row has that version (stale, or gone).
  absl::StatusOr<bool> DeleteObjectIfVersion(Session& session,
                                             absl::string_view kind,
                                             absl::string_view id,
                                             int64_t expected_version);

  // --- History --------------------------------------------------------------

  // Records policy version `row.version` (in the transaction that made
  // it). `state_changed`: whether the policy objects and profiles differ
  // from the previous version's (`previous_state`); if not, the state is
  // not stored again (the row points at the one that holds it). The first
  // entry of an empty history is preceded by one for the version before it
  // holding `previous_state`, so the policy the history starts from can be
  // read, diffed and rolled back to.
  absl::Status AppendHistory(Session& session, const PolicyHistoryRow& row,
                             const std::string& previous_state,
                             bool state_changed);

  // Versions below `before_version` (0: from the newest), newest first, at
  // most `limit`; without their states.
  absl::StatusOr<std::vector<PolicyHistoryRow>> ListHistory(
      Session& session, int64_t before_version, int limit);

  // One version with its state; nullopt if the history has no such version.
  absl::StatusOr<std::optional<PolicyHistoryRow>> GetHistory(
      Session& session, int64_t version);

  // --- Shadow policy ------------------------------------------------------

  // The stored candidate (revision 0 and inactive if never set).
  absl::StatusOr<ShadowPolicyRow> GetShadow(Session& session);
  // Its revision alone (what servers poll).
  absl::StatusOr<int64_t> ShadowRevision(Session& session);
  absl::StatusOr<int64_t> ShadowRevision();
  // Replaces the candidate (`row.revision` is ignored) and returns the new
  // revision, one more than the stored one. Concurrent writers serialise on
  // the row. With `expect_revision` > 0, FAILED_PRECONDITION if the stored
  // revision is another one (nothing written).
  absl::StatusOr<int64_t> PutShadow(Session& session,
                                    const ShadowPolicyRow& row,
                                    int64_t expect_revision = 0);

  // --- Users (read-only here; identity_store.h owns them) -----------------

  // nullopt if there is no such user, else whether the user is active.
  absl::StatusOr<std::optional<bool>> UserActive(Session& session,
                                                 absl::string_view user_id);

  // --- Manual record shares -----------------------------------------------

  // ALREADY_EXISTS if the id is taken.
  absl::Status InsertShare(Session& session, const ShareRow& share);

  // Sets the access of one share; false if it does not exist.
  absl::StatusOr<bool> UpdateShareAccess(Session& session,
                                         absl::string_view share_id,
                                         int64_t access);

  // The share of the record with `grantee`, if any.
  absl::StatusOr<std::optional<ShareRow>> FindShareByGrantee(
      Session& session, absl::string_view object, absl::string_view record_id,
      absl::string_view grantee);

  // The share `share_id` if it belongs to the record.
  absl::StatusOr<std::optional<ShareRow>> GetShare(Session& session,
                                                   absl::string_view object,
                                                   absl::string_view record_id,
                                                   absl::string_view share_id);

  // False if the record has no such share.
  absl::StatusOr<bool> DeleteShare(Session& session, absl::string_view object,
                                   absl::string_view record_id,
                                   absl::string_view share_id);

  // Removes every share of a record (when the record is deleted); returns
  // how many.
  absl::StatusOr<int64_t> DeleteSharesOf(Session& session,
                                         absl::string_view object,
                                         absl::string_view record_id);

  // Every share of the record, oldest first (create_time, then id). For
  // point decisions (a record has few shares).
  absl::StatusOr<std::vector<ShareRow>> SharesFor(Session& session,
                                                  absl::string_view object,
                                                  absl::string_view record_id);

  // SharesFor many records of `object`, one statement per chunk
  // (ForEachChunk, statement.h): record id -> its shares in SharesFor's
  // order (records with none are absent).
  absl::StatusOr<std::map<std::string, std::vector<ShareRow>>> SharesForAll(
      Session& session, absl::string_view object,
      const std::vector<std::string>& record_ids);

  // A page of the record's shares after (after_time, after_id) in the order
  // of SharesFor, at most `limit`.
  absl::StatusOr<std::vector<ShareRow>> ListShares(
      Session& session, absl::string_view object, absl::string_view record_id,
      int64_t after_time, absl::string_view after_id, int limit);

  // How many shares (of any record) have one of `grantees`.
  absl::StatusOr<int64_t> CountSharesWithGrantee(
      Session& session, const std::vector<std::string>& grantees);

 private:
  Database* db_;
};

}  // namespace crm::store

#endif  // CRM_STORE_POLICY_STORE_H_
