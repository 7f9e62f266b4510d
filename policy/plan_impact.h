// The access impact of a policy change, for `crmctl policy plan`
// (PolicyAdminService.PlanPolicy, issue 12): which users gain and lose which
// access between two policy states, per user and per changed policy object.
//
// Nothing here decides: every verdict compared is the Evaluator's, from the
// code the request path runs (AllowsObject, Fields, SystemPermissions,
// RecordFilter) on the two snapshots, and login restrictions are those
// PolicySnapshot::ProfileRestrictions gives for the user's profile. So a
// user this reports as unchanged is decided identically by both snapshots
// (tests: policy/plan_impact_test.cc checks it with point decisions on
// generated organisations).
//
// Record access cannot be compared without the records: for each record
// operation whose access differs, the two RecordFilter predicates are
// returned and the caller counts |after AND NOT before| (gained) and
// |before AND NOT after| (lost) in SQL. "Differs" is decided by comparing
// the predicates' text and parameters, so it is sound (equal predicates
// select the same records) but not complete: two different predicates may
// select the same records (e.g. an owner list in another order), and then
// both counts are 0.
//
// Pure: no I/O, no SQL execution. Thread-compatible (the functions hold no
// state; the snapshots are immutable).
#ifndef CRM_POLICY_PLAN_IMPACT_H_
#define CRM_POLICY_PLAN_IMPACT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/v1/policy.pb.h"
#include "model/object_schema.h"
#include "model/sql.h"
#include "policy/evaluator.h"
#include "policy/snapshot.h"

namespace crm::policy {

// What is known, without the records, about how a record filter changed.
enum class AccessDirection {
  kUnknown,  // records may be gained and lost: count both in SQL
  kGained,   // after selects every record before did (count the gains only)
  kLost,     // before selects every record after does
};

// "unknown", "gained", "lost".
const char* AccessDirectionName(AccessDirection d);

// One object type's access change for one user. Only what changed is
// filled; lists are in schema field order.
struct ObjectAccessChange {
  std::string object;  // collection, "accounts"
  // Object permissions as Evaluator::AllowsObject decides them (the user's
  // intersected with the service's scope): "read", "create", "edit",
  // "delete".
  std::vector<std::string> operations_gained;
  std::vector<std::string> operations_lost;
  // Field names whose Evaluator::Fields(schema).CanRead / CanWrite verdict
  // differs. CanRead includes the object permission "read" (as on the
  // request path, which masks every field of an unreadable object), so a
  // user gaining or losing "read" gains or loses every readable field too.
  std::vector<std::string> readable_fields_gained, readable_fields_lost;
  std::vector<std::string> writable_fields_gained, writable_fields_lost;

  // A record operation (read, edit, delete) whose record filter differs
  // between the two snapshots: Evaluator::RecordFilter on each, built with
  // ImpactSqlShape(before, after) ("1 = 0": none; empty sql: every record
  // of the table).
  // The caller counts |after AND NOT before| and |before AND NOT after|.
  struct RecordFilterChange {
    Operation op = Operation::kRead;
    model::SqlFragment before, after;
    // kGained when before selects nothing or after everything, kLost the
    // other way round; ImpactByGrant also fills it from the kind of change
    // (see GrantImpact); else kUnknown.
    AccessDirection direction = AccessDirection::kUnknown;
  };
  std::vector<RecordFilterChange> records;  // in the order read, edit, delete

  bool empty() const;
};

// One user's access change through one service.
struct UserAccessChange {
  std::string user;  // "users/bob"
  std::vector<ObjectAccessChange> objects;  // changed ones, by collection
  // Evaluator::SystemPermissions differences, in enum order.
  std::vector<crm::v1::SystemPermission> system_gained, system_lost;
  // Whether the user's login is decided differently: LoginSummary differs
  // (another profile with other restrictions, the profile's restrictions
  // changed, the user was activated or deactivated, added or removed).
  bool login_changed = false;
  std::string login_before, login_after;  // LoginSummary of each side

  bool empty() const;
};

// The shape RecordFilterChange predicates are built with: List's own
// (SqlShape{}: drive or scan, owner sets of many users as a role join),
// except that when a user's role differs between the snapshots (a user
// moved, added or removed with a role) the role join is left out. Its
// `"owner" IN (SELECT ... FROM "users" WHERE "role_id" IN (...))` reads the
// user -> role assignment from the users table: run against the live
// database, the "after" predicate would see the live (before) assignment,
// and the moved user's records would be counted on the wrong side. Owners
// are then listed by name (more parameters: a manager's predicate over
// thousands of users is slower to build and to plan).
SqlShape ImpactSqlShape(const PolicySnapshot& before,
                        const PolicySnapshot& after);

// How the user `user_id` ("bob" or "users/bob") may log in under
// `snapshot`, as one line of text: "any address, any country, any time";
// "10.0.0.0/8; countries CA, US; mon-fri 08:00-18:00 Europe/Berlin" (an
// unrestricted part reads "any address" / "any country" / "any time";
// hours without a zone of their own read "... in the user's time zone");
// or why every login is refused: "refused: inactive user", "refused:
// unknown user", "refused: no profile", "refused: profiles/x is not in the
// policy" (the request path refuses a user whose profile the snapshot does
// not have, auth/profile_restrictions.h). Profile display names are not
// part of it.
std::string LoginSummary(const PolicySnapshot& snapshot,
                         absl::string_view user_id);

// Every user of either snapshot (matched by id; a user in only one of them
// gains or loses everything) whose access through `service` differs
// between `before` and `after`: object permissions and fields of every
// object of `schemas`, record filters of read / edit / delete, system
// permissions, login. Sorted by user. `only_users` (ids or "users/{id}"),
// if given, limits the users looked at.
//
// Cost: the point checks are made for every user; RecordFilter (tens of
// microseconds each) is only built where the user's record access may
// differ: users whose inputs to RecordFilter are provably the same in both
// snapshots (the same permission bundle for the object, org-wide default,
// role with the same users below it, grantee keys, sharing rules with the
// same content and sources, restriction rules) are not rebuilt, since
// RecordFilter is a function of those inputs. On the 10,001-user
// benchmark organisation a change touching few users takes ~0.1 s
// (figures in policy/README.md).
//
// Both snapshots must have been built with `schemas`.
std::vector<UserAccessChange> DiffUserAccess(
    const PolicySnapshot& before, const PolicySnapshot& after,
    absl::string_view service, const model::SchemaRegistry& schemas,
    const std::vector<std::string>* only_users = nullptr);

// The impact of one policy object's change alone.
struct GrantImpact {
  // The object, named as the policy names it: "sharingRules/retail",
  // "groups/emea", "roles/vp", "permissionSets/x", "profiles/x",
  // "orgWideDefaults/accounts", "users/bob", "restrictionRules/x".
  std::string object;
  std::string change;  // "added" | "changed" | "removed"
  // False when `before` with only this change does not compile (it depends
  // on another change, e.g. a rule naming a group the same bundle adds, or
  // removes a role users still hold): no users then, and `reason` says why
  // (PolicySnapshot::Build's message).
  bool evaluable_alone = true;
  std::string reason;
  // False for objects beyond ImpactByGrant's `max_objects`: not looked at.
  bool examined = true;
  // The users whose access changes (by DiffUserAccess between `before` and
  // `before` + this change), classified:
  //   gaining  - only gains: operations, fields or system permissions
  //              gained, record filters of direction kGained;
  //   losing   - only losses, likewise;
  //   changing - both, or a record filter of unknown direction, or a login
  //              change (whether a login is allowed more or less often is
  //              not decided here).
  // A record filter's direction comes from its end points (nothing before,
  // everything after, ...) or from the kind of change when that kind only
  // ever adds or only ever removes record access (policy.proto):
  //   a sharing rule added, a restriction rule removed: gains;
  //   a sharing rule removed, a restriction rule added: losses;
  //   a group whose change only adds members to groups (transitively) and
  //   no restriction rule applies to a group whose members changed: gains
  //   (groups only reach shares, rules' shared_with and owned_by, and
  //   restrictions); only removes members: losses.
  // Anything else (a rule changed, a role moved, a user's role, ...) gives
  // kUnknown: the caller counts both directions in SQL to classify.
  std::vector<std::string> users_gaining, users_losing, users_changing;
  std::vector<UserAccessChange> changes;  // the details, sorted by user
};

// For each policy object that differs between `before` and `after` (every
// repeated field of PolicyState, matched by name; etags ignored), in
// PolicyState field order then name order: the users whose access through
// `service` changes when ONLY that object's change is applied to `before`
// (compiled with PolicySnapshot::Build and compared with DiffUserAccess).
// A profile's system permissions are stored on its users
// (PolicyUser.profile_system_permissions): a change there on users whose
// profile did not change is the profile's change, and applying it sets
// them on every user of the profile; a user's own change (role, profile,
// active) carries the user's system permissions of `after`.
// At most `max_objects` objects are examined (each costs a Build, ~0.1 s
// on 10,000 users, and a DiffUserAccess); the others are returned with
// examined = false.
// Fails with Build's status when `before` itself does not compile.
absl::StatusOr<std::vector<GrantImpact>> ImpactByGrant(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after,
    const PolicySnapshot::Services& services, absl::string_view service,
    const model::SchemaRegistry& schemas, int max_objects);

// The records sharing rule `rule_name` ("sharingRules/x") covers on its
// object's table, as a parameterised predicate over that table (what the
// rule grants to its shared_with users, before restriction rules and
// whatever they see anyway): a criteria rule's criteria (query::ToSql, as
// RecordFilter writes it); an owner-based rule `"owner" IN (...)` the users
// of owned_by ("1 = 0" when it has none). nullopt if the snapshot has no
// such rule. For "how many records does each rule grant" in a plan.
std::optional<model::SqlFragment> SharingRuleSource(
    const PolicySnapshot& snapshot, absl::string_view rule_name);

}  // namespace crm::policy

#endif  // CRM_POLICY_PLAN_IMPACT_H_
