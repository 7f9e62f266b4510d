// The compiled form of a PolicyState: plain, immutable data indexed by dense
// integers, built once by PolicySnapshot::Build and read (without locks) by
// the Evaluator. Nothing here is part of the public API; see snapshot.h and
// evaluator.h. The rules these structures implement are written once, in
// proto/crm/v1/policy.proto.
#ifndef CRM_POLICY_COMPILED_H_
#define CRM_POLICY_COMPILED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "crm/v1/policy.pb.h"
#include "login/login_restrictions.h"
#include "model/object_schema.h"
#include "policy/principal.h"
#include "query/checked_filter.h"

namespace crm::policy {

// Record access levels, ordered: levels combine by maximum.
enum class Level : uint8_t { kNone = 0, kRead = 1, kReadWrite = 2, kFull = 3 };

// "none", "read", "read-write", "full".
const char* LevelName(Level level);

// The record access level `op` needs (kNone for create: object-level only).
Level RequiredLevel(Operation op);

struct ObjectPermissions {
  bool read = false;
  bool create = false;
  bool edit = false;
  bool remove = false;
  bool view_all = false;
  bool modify_all = false;

  // The object permission `op` needs (share: read; transfer: edit).
  bool Allows(Operation op) const;
  // Applies the implications of policy.proto (edit/delete/view_all imply
  // read; modify_all implies everything).
  void Normalize();
  ObjectPermissions Intersect(const ObjectPermissions& other) const;
  void Merge(const ObjectPermissions& other);
};

// Explicit field grants held for one field (the union over permission sets).
struct FieldGrant {
  bool mentioned = false;  // some held FieldPermission names this field
  bool read = false;       // read or edit granted
  bool edit = false;
};

struct ObjectPolicy;

// The union of a combination of permission sets (shared by every principal
// holding exactly that combination).
struct PermissionBundle {
  std::vector<ObjectPermissions> objects;       // [object]
  std::vector<std::vector<FieldGrant>> fields;  // [object][field index]
  // [object][field index]: kFieldRead | kFieldEdit after the defaults of
  // policy.proto (no grant held: non-sensitive fields read and edit).
  std::vector<std::vector<uint8_t>> effective;
  uint32_t system = 0;                          // bit (1 << SystemPermission)

  static constexpr uint8_t kFieldRead = 1;
  static constexpr uint8_t kFieldEdit = 2;
  // Fills `effective` from `fields` and the schemas.
  void Finish(const std::vector<ObjectPolicy>& objects);

  bool HasSystem(crm::v1::SystemPermission p) const {
    return (system >> static_cast<int>(p)) & 1u;
  }
};

struct GranteeRef {
  enum class Kind : uint8_t { kUser, kRole, kRoleAndSubordinates, kGroup };
  Kind kind = Kind::kUser;
  int index = -1;  // into users, roles or groups
};

struct CompiledRole {
  std::string name;  // "roles/{id}"
  int parent = -1;
  int tin = 0;   // Euler tour interval: r is at or below a iff
  int tout = 0;  // a.tin <= r.tin && r.tout <= a.tout
  std::vector<int> users;     // users holding exactly this role
  std::vector<int> children;  // roles directly below
};

struct CompiledGroup {
  std::string name;               // "groups/{id}"
  std::vector<uint64_t> members;  // bitset over users (transitive)
  // The members as configured (users, roles, roles and subordinates, other
  // groups), for explaining how a user is a member (policy/explain.h).
  std::vector<GranteeRef> direct;
  bool Contains(int user) const {
    return (members[user >> 6] >> (user & 63)) & 1u;
  }
};

struct CompiledSharingRule {
  std::string name;  // "sharingRules/{id}"
  int object = -1;
  bool criteria_based = false;
  GranteeRef owned_by;             // owner-based
  query::CheckedFilter criteria;   // criteria-based
  GranteeRef shared_with;
  Level level = Level::kRead;
};

struct CompiledRestriction {
  std::string name;  // "restrictionRules/{id}"
  int object = -1;
  GranteeRef applies_to;
  query::CheckedFilter criteria;
};

struct ObjectPolicy {
  const model::ObjectSchema* schema = nullptr;
  int owner_field = -1;    // index of "owner" in schema->fields(), or -1
  int account_field = -1;  // index of "account" (a reference to accounts)
  crm::v1::OrgWideDefault::Access access = crm::v1::OrgWideDefault::PRIVATE;
  bool hierarchy = false;  // grant_access_using_hierarchies
  bool controlled_by_parent() const {
    return access == crm::v1::OrgWideDefault::CONTROLLED_BY_PARENT;
  }
  Level public_level() const;  // from PUBLIC_READ / PUBLIC_READ_WRITE
};

struct CompiledUser {
  std::string id;
  std::string resource_name;  // "users/{id}"
  std::string profile;        // "profiles/{id}" or ""
  int role = -1;
  bool active = false;
  // Object, field and system permissions: the profile's system permissions
  // and every permission set assigned to the user or their profile.
  const PermissionBundle* permissions = nullptr;
  // Bits (1 << SystemPermission) the profile itself grants (a subset of
  // permissions->system), to name the grant in a Decision.
  uint32_t profile_system = 0;
  // Indexes into CompiledPolicy::permission_sets of the sets assigned to
  // the user or their profile.
  std::vector<int> sets;
  std::vector<int> groups;  // every group containing the user (transitive)
  // Strings a record_shares.grantee must equal to reach this user.
  std::vector<std::string> grantee_keys;
  // [object] -> indexes of sharing rules whose shared_with contains the user.
  std::vector<std::vector<int>> sharing_rules;
  // [object] -> indexes of restriction rules that apply to the user.
  std::vector<std::vector<int>> restrictions;
  // Purposes of the permission sets the user holds (sorted, unique;
  // policy.proto "Consent and purposes").
  std::vector<std::string> purposes;
};

struct CompiledService {
  ObjectPermissions Scope(int object) const { return scope[object]; }
  std::string resource_name;             // "services/{name}"
  std::vector<ObjectPermissions> scope;  // [object]: config grants + sets
  // [object]: ServiceConfig.grants alone (to name the grant in an
  // explanation; the sets' part is in the sets).
  std::vector<ObjectPermissions> config_scope;
  const PermissionBundle* permissions = nullptr;  // sets assigned to it
  // Bits (1 << SystemPermission) of ServiceConfig.system_permissions.
  uint32_t config_system = 0;
  // Every system permission the service holds: config_system and the sets
  // assigned to "services/{name}" (permissions->system).
  uint32_t system = 0;
  std::vector<int> sets;  // indexes into CompiledPolicy::permission_sets
  // Data sources (crm.v1.DataSource) whose service this is: [object][field]
  // -> index into CompiledPolicy::data_sources of the first of them (by
  // name) that may write the field, -1 if none. Empty when the service has
  // no data source.
  std::vector<std::vector<int>> source_of;
  // [object] -> index into CompiledPolicy::data_sources of the first data
  // source (by name) of this service that may record consent of the
  // object's records, -1 if none. Empty when the service has no data
  // source.
  std::vector<int> consent_source_of;
  // ServiceConfig.purpose and the purposes of the permission sets assigned
  // to the service (sorted, unique).
  std::vector<std::string> purposes;
};

// A registered data source (crm.v1.DataSource), to name it in a decision
// and in provenance.
struct CompiledDataSource {
  std::string name;  // "dataSources/{id}"
  crm::v1::DataSourceKind kind = crm::v1::DATA_SOURCE_KIND_UNSPECIFIED;
  std::string service;  // "services/{name}"
  // What the data inventory reports (records/data_inventory.h); decisions
  // use CompiledService::source_of.
  std::string display_name;
  std::string purpose;  // DataSource.purpose, "" when none is recorded
  // (object index, field indexes) per DataSourceWrite, in the order given;
  // an entry for every field of the object when it lists none (and is not
  // for consent alone).
  std::vector<std::pair<int, std::vector<int>>> writes;
  std::vector<int> consent_objects;  // objects whose consent it may record
};

// A permission set's name and the system permissions it grants (to name
// the grant in a Decision).
// Also its own object and field grants and its assignees, which only
// explanations read (policy/explain.h): decisions use the merged bundles.
struct CompiledPermissionSet {
  std::string name;  // "permissionSets/{id}"
  uint32_t system = 0;
  std::vector<ObjectPermissions> objects;       // [object], normalized
  std::vector<std::vector<FieldGrant>> fields;  // [object][field]; may be empty
  std::vector<std::string> assignees;  // "users/..", "profiles/..", "services/.."
  std::string purpose;  // PermissionSet.purpose, "" for none
};

// A profile's login restrictions, compiled once per policy version
// (policy/profile_restrictions.h).
struct CompiledProfile {
  std::string name;  // "profiles/{id}"
  login::LoginRestrictions restrictions;
};

// Everything a snapshot holds.
struct CompiledPolicy {
  int64_t version = 0;
  std::vector<ObjectPolicy> objects;
  absl::flat_hash_map<std::string, int> object_index;  // collection -> object
  int accounts = -1;                                   // object index
  std::vector<CompiledUser> users;
  absl::flat_hash_map<std::string, int> user_index;   // id -> user
  absl::flat_hash_map<std::string, int> owner_index;  // "users/{id}" -> user
  std::vector<CompiledRole> roles;
  std::vector<CompiledGroup> groups;
  // Every grantee key ("users/u1", "roles/r1", "roleAndSubordinates/r1",
  // "groups/g1") -> what it names.
  absl::flat_hash_map<std::string, GranteeRef> grantees;
  std::vector<CompiledSharingRule> sharing_rules;
  std::vector<CompiledRestriction> restrictions;
  absl::flat_hash_map<std::string, CompiledService> services;
  std::vector<CompiledPermissionSet> permission_sets;
  // Every data source, in name order. Non-empty: the source rule is
  // enforced (policy.proto "Data sources").
  std::vector<CompiledDataSource> data_sources;
  // Every profile of the PolicyState by id ("sales", not "profiles/sales").
  absl::flat_hash_map<std::string, CompiledProfile> profiles;
  std::vector<std::unique_ptr<PermissionBundle>> bundles;  // owned here
  PermissionBundle empty_bundle;

  // Does grantee `g` contain user `user`? (O(1))
  bool Contains(const GranteeRef& g, int user) const;
  // Is role `above` strictly above role `below`?
  bool RoleAbove(int above, int below) const;
  // The object index of `collection`, or -1.
  int ObjectIndex(absl::string_view collection) const;
  // The object index of `schema` (by pointer, else by collection), or -1.
  int ObjectOf(const model::ObjectSchema& schema) const;
  // Appends the users of `g` to `out` (may repeat users).
  void AppendUsers(const GranteeRef& g, std::vector<int>* out) const;
  // The grantee's key (see grantee.h).
  std::string GranteeName(const GranteeRef& g) const;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_COMPILED_H_
