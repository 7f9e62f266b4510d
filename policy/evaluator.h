// The one place where an access decision is made. Every CRM operation asks
// an Evaluator, bound to the current snapshot and the acting principal, at
// each step of the request path (see DESIGN.md):
//   object permission -> record access -> field permissions;
// and the admin services and WhoAmI ask it for system permissions
// (CheckSystem), so what WhoAmI reports is exactly what is enforced.
// List applies the same record access inside SQL through RecordFilter, so
// the point decision and the SQL filter agree (tests/policy_differential_test
// checks it on generated organisations). The rules are those of
// proto/crm/v1/policy.proto; policy/README.md explains the SQL shapes.
//
// Thread-safety: immutable; cheap to construct per request (one hash lookup).
#ifndef CRM_POLICY_EVALUATOR_H_
#define CRM_POLICY_EVALUATOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crm/v1/policy.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "policy/decision.h"
#include "policy/principal.h"
#include "policy/shadow.h"
#include "policy/snapshot.h"

namespace crm::policy {

// One manual share of a record (a row of record_shares).
struct ShareFact {
  std::string grantee;  // grantee key, see grantee.h
  crm::v1::AccessLevel level = crm::v1::READ;
};

// One consent entry of a record (a row of consents), for point decisions
// of a principal marked with a purpose (policy.proto "Consent and
// purposes").
struct ConsentFact {
  std::string channel;  // "email", "phone", "sms", "post"
  std::string purpose;  // "marketing"
  bool opted_in = false;
  bool opted_out = false;
};

// What a point decision needs to know about a record. Pointers are not
// owned and must outlive the call.
struct RecordFacts {
  const model::Record* record = nullptr;
  std::vector<ShareFact> shares;  // the record's manual shares
  // For objects controlled by parent (NeedsParent): the record's account, or
  // nullptr if the "account" field is empty or names no existing account,
  // and the account's manual shares.
  const model::Record* parent = nullptr;
  std::vector<ShareFact> parent_shares;
  // For consent subjects, when Evaluator::NeedsConsent: the record's
  // consent entries (none: the person consented to nothing).
  std::vector<ConsentFact> consents;
};

// One grant a record decision found, in Evaluator::TraceRecord: every
// grant, not only the first that suffices, whatever its level.
struct TracedGrant {
  enum class Kind {
    kOwner,           // the user owns the record
    kHierarchy,       // the user's role is above the owner's
    kOrgDefault,      // PUBLIC_READ / PUBLIC_READ_WRITE
    kSharingRule,     // an owner- or criteria-based sharing rule
    kShare,           // a manual share to a grantee containing the user
    kViewAll,         // view_all on the object
    kModifyAll,       // modify_all on the object
    kViewAllData,     // the system permission VIEW_ALL_DATA
    kModifyAllData,   // the system permission MODIFY_ALL_DATA
    kServiceScope,    // a service acting as itself: its object permissions
  };
  Kind kind = Kind::kOwner;
  Level level = Level::kNone;
  // As Decision::rule names it: "owner", "hierarchy:via roles/r3",
  // "sharing-rule:sharingRules/x", "share:groups/g1", "view-all:accounts"...
  std::string rule;
  // kOwner / kHierarchy: the owner's user index; kSharingRule: the rule's
  // index in CompiledPolicy::sharing_rules; else -1.
  int index = -1;
  std::string grantee;  // kShare: the share's grantee key
  // "accounts/a1" when the grant is on the parent record (the object is
  // controlled by its account); "" when on the record itself.
  std::string parent;
};

// A restriction rule that applies to the user, and whether the record (or
// its parent account, `parent` set) passes it.
struct TracedRestriction {
  std::string rule;  // "restrictionRules/x"
  bool passed = false;
  std::string parent;
};

// Everything a record decision considered (Evaluator::TraceRecord).
struct RecordTrace {
  std::vector<TracedGrant> grants;
  std::vector<TracedRestriction> restrictions;
  // The "account" the record names when that account does not exist (its
  // access through the parent is then none).
  std::string parent_missing;
  // Set while the parent is evaluated (internal).
  std::string parent;
};

// How RecordFilter should shape its SQL. The default picks per request from
// the sizes of the principal's sets (see policy/README.md).
struct SqlShape {
  enum class Form {
    kAuto,
    // One OR of predicates over the table (good when the user sees much).
    kScan,
    // "id" IN (owned records UNION shared records): driven from the small
    // owner and share sets (good when the user sees little). Used only when
    // no public default or criteria rule applies.
    kDrive,
  };
  Form form = Form::kAuto;
  // kAuto drives from the sets when the owner set has at most this many
  // users (about 1,600 owned records at 100 per user: above that,
  // PostgreSQL joins the driven ids back by hashing the whole table, and
  // walking the sort index is faster; bench/list_bench.cc).
  size_t drive_max_owners = 16;
  // Owner sets of at least this many users are sent as the roles whose
  // users they all include (a subquery on the users table, which holds the
  // user -> role assignment the snapshot was built from) plus the other
  // users, instead of one parameter per user.
  size_t role_join_min_owners = 512;
  // PostgreSQL only. The shares branch of the `scan` form as
  // `"id" = ANY(ARRAY(SELECT "record_id" ...))` instead of
  // `"id" IN (SELECT "record_id" ...)`. Same records; but PostgreSQL can
  // then combine the owner index and the primary key in a BitmapOr, where an
  // IN (subquery) inside an OR becomes a hashed subplan tested on every row
  // (a sequential scan unless the sort index is walked). For
  // store::ListQuery::fetch_then_sort; walking the sort index with it is
  // slower (records/list_plan.h).
  bool share_ids_as_array = false;
};

// What RecordFilter chose, for tests, logs and benchmarks.
struct PlanInfo {
  std::string shape;  // "none", "all", "scan", "drive", "service-scope"...
  size_t owners = 0;  // users in the owner set
  size_t share_keys = 0;
  size_t criteria_rules = 0;
  size_t restriction_rules = 0;
  // Access to the object comes through its parent account (org-wide default
  // "controlled by parent"): `owners` and the rest count the accounts'.
  bool via_parent = false;
  // Purposes the records must have been opted in to (consent filter).
  size_t consent_purposes = 0;
  std::string explanation;
};

// The principal's field permissions on one object type, resolved once per
// request so that masking a response or checking a record's fields costs a
// few loads per field, with no allocation. Same answers as
// Evaluator::CanReadField / CanWriteField. Valid while the Evaluator (and
// its snapshot) that made it lives.
class FieldAccess {
 public:
  FieldAccess() = default;  // nothing readable or writable

  // By index into schema.fields(); false for an index out of range.
  bool CanRead(int field) const {
    return object_read_ && (Bits(field) & kRead) != 0;
  }
  bool CanWrite(int field) const { return (Bits(field) & kEdit) != 0; }
  // By field: one of schema.fields() (by address), else looked up by name.
  bool CanRead(const model::FieldSchema& field) const {
    return CanRead(IndexOf(field));
  }
  bool CanWrite(const model::FieldSchema& field) const {
    return CanWrite(IndexOf(field));
  }

 private:
  friend class Evaluator;
  static constexpr uint8_t kRead = 1;  // PermissionBundle::kFieldRead
  static constexpr uint8_t kEdit = 2;  // PermissionBundle::kFieldEdit

  uint8_t Bits(int field) const {
    if (field < 0 || field >= size_) return 0;
    return user_ == nullptr ? service_[field] : service_[field] & user_[field];
  }
  int IndexOf(const model::FieldSchema& field) const;

  const model::ObjectSchema* schema_ = nullptr;
  int size_ = 0;                     // 0: nothing (unknown object, no grant)
  const uint8_t* service_ = nullptr;  // the service's effective field bits
  const uint8_t* user_ = nullptr;     // the user's, when acting for one
  bool object_read_ = false;          // the object permission "read"
};

class Evaluator {
 public:
  Evaluator(std::shared_ptr<const PolicySnapshot> snapshot, Principal principal);

  const Principal& principal() const { return principal_; }
  // The snapshot every decision of this evaluator reads (may be null: no
  // policy loaded, everything refused). The request path checks login
  // restrictions against the same one (server/pipeline.h).
  const PolicySnapshot* snapshot() const { return snapshot_.get(); }
  // The same snapshot, shared (to bind other principals' Evaluators to it:
  // the access review explains other users on the call's snapshot).
  const std::shared_ptr<const PolicySnapshot>& shared_snapshot() const {
    return snapshot_;
  }

  // Shadow evaluation (policy/shadow.h, admin_service.proto
  // SetShadowPolicy): from now on every compared decision of this evaluator
  // is also made by an evaluator of the same principal bound to `candidate`,
  // and `sink` is told whether the two agree. What this evaluator answers
  // does not change. `sink` must outlive the evaluator; a null candidate or
  // sink detaches. Not thread-safe against concurrent decisions: attach
  // before the evaluator is shared.
  void AttachShadow(std::shared_ptr<const PolicySnapshot> candidate,
                    ShadowSink* sink);
  // The candidate's evaluator, or null (List compares its pages with it).
  const Evaluator* shadow() const { return shadow_.get(); }
  ShadowSink* shadow_sink() const { return shadow_sink_; }

  // May the principal perform `op` on this object type at all?
  Decision CheckObject(const model::ObjectSchema& schema, Operation op) const;
  // CheckObject(...).allowed without building the Decision's strings.
  bool AllowsObject(const model::ObjectSchema& schema, Operation op) const;

  // May the principal perform `op` on this record? Includes CheckObject.
  // Decision::rule names the grant that allowed ("owner",
  // "hierarchy:via roles/r3", "sharing-rule:sharingRules/x",
  // "share:groups/g1", "view-all:accounts", "org-default:PUBLIC_READ",
  // "parent:accounts/a1 -> owner", ...) or the reason it refused.
  Decision CheckRecord(const model::ObjectSchema& schema, Operation op,
                       const RecordFacts& facts) const;
  // The record with no manual shares (and no parent).
  Decision CheckRecord(const model::ObjectSchema& schema, Operation op,
                       const model::Record& record) const;
  // CheckRecord(...).allowed, the same decision without building the rule
  // and reason strings (for the request path, where a refusal to read is
  // NOT_FOUND whatever the reason).
  bool AllowsRecord(const model::ObjectSchema& schema, Operation op,
                    const RecordFacts& facts) const;

  // CheckRecord, the same decision from the same code, which in addition
  // records in `trace` every grant that reaches the record (owner, role
  // hierarchy, org-wide default, each sharing rule, each manual share,
  // view-all / modify-all, through the parent for objects controlled by
  // their account), at any level, and every restriction rule that applies
  // with its outcome. Where CheckRecord stops at the first sufficient grant,
  // this goes on; the returned Decision is CheckRecord's (tests/
  // access_review_test.cc checks it on generated organisations). For
  // explanations (policy/explain.h), not for the request path.
  Decision TraceRecord(const model::ObjectSchema& schema, Operation op,
                       const RecordFacts& facts, RecordTrace* trace) const;

  // Whether CheckRecord on this object needs RecordFacts::parent (the object
  // is controlled by its account) for this principal, or for its shadow.
  bool NeedsParent(const model::ObjectSchema& schema) const;
  // Consent and purposes (policy.proto "Consent and purposes", the rule
  // written once there). The principal's purposes: its service's and,
  // acting for a user, the user's (sorted, unique; empty for most).
  const std::vector<std::string>& purposes() const { return purposes_; }
  // Whether consent limits this principal on `schema` (a consent subject
  // and at least one purpose): CheckRecord then needs
  // RecordFacts::consents and refuses a record with no opted-in entry for
  // one of the purposes (rule "consent:{purpose}"); RecordFilter adds the
  // same condition in SQL.
  bool ConsentApplies(const model::ObjectSchema& schema) const {
    return !purposes_.empty() && schema.consent_subject();
  }
  // ConsentApplies for this principal or its shadow (what to load).
  bool NeedsConsent(const model::ObjectSchema& schema) const;
  // The channels whose fields are masked for this principal on a record
  // with these consent entries: those opted out of for one of its
  // purposes (empty unless ConsentApplies).
  std::vector<std::string> MaskedChannels(
      const model::ObjectSchema& schema,
      const std::vector<ConsentFact>& consents) const;
  // May the principal record consent of `schema`'s records as a data
  // source (crm.v1.DataSourceWrite.consent of one of its service's data
  // sources)? Rule "source:dataSources/{id}" when allowed, else
  // "no-consent-source:services/{name}:{object}". Edit access to the
  // record is the other way to record consent (records/consent.h).
  Decision CheckConsentSource(const model::ObjectSchema& schema) const;

  // Whether CheckRecord needs RecordFacts::shares (and parent_shares): only
  // when acting for a user; a service acting as itself is decided by its
  // object permissions alone.
  bool NeedsShares() const {
    return policy_ != nullptr && principal_.acting_for_user();
  }

  // The records `op` is allowed on, as a parameterised SQL predicate over
  // the object's table (unqualified columns; portable to SQLite and
  // PostgreSQL): empty means every record, "1 = 0" none. Includes
  // CheckObject. Agrees with CheckRecord given the record's stored shares.
  //
  // `user_filter` (optional, checked against `schema`): the filter the
  // caller will AND with the result. Access branches that provably match no
  // record under it (a criteria rule or restriction requiring `field = c`
  // where the filter requires `field = c'`, c != c') are then left out, so
  // the result is only meaningful ANDed with that filter:
  //   result AND filter == (predicate without hint) AND filter.
  model::SqlFragment RecordFilter(
      const model::ObjectSchema& schema, Operation op,
      const SqlShape& shape = {}, PlanInfo* plan = nullptr,
      const query::CheckedFilter* user_filter = nullptr) const;

  // Field permissions. An unreadable field is absent from responses and may
  // not be filtered or sorted on; an unwritable one may not be written.
  bool CanReadField(const model::ObjectSchema& schema,
                    const model::FieldSchema& field) const;
  Decision CheckFieldWrite(const model::ObjectSchema& schema,
                           const model::FieldSchema& field) const;
  // CheckFieldWrite(...).allowed without building the Decision.
  bool CanWriteField(const model::ObjectSchema& schema,
                     const model::FieldSchema& field) const;
  // Every field's permissions on `schema` at once (see FieldAccess).
  FieldAccess Fields(const model::ObjectSchema& schema) const;

  // The source rule (proto/crm/v1/policy.proto "Data sources"): may the
  // principal write `field` of `schema` as a data source, and under which
  // source is the write recorded? Written here once:
  //   - the policy registers no data source: allowed, rule
  //     "source:unregistered" (enforcement is off: the migration path);
  //   - a service acting as itself: allowed if one of its data sources
  //     lists the field (or the object with no fields), rule
  //     "source:dataSources/{id}" (the first such source by name);
  //   - a user acting through a service: as above if the service has data
  //     sources; if it has none, allowed as the implicit source
  //     "interactions" of that service, rule
  //     "source:interactions:services/{name}";
  //   - otherwise refused: "no-source:services/{name}:{object}.{field}"
  //     with a reason naming the service, the field and what to register;
  //     so is an unregistered service or a missing policy (fail closed).
  // The object and field permissions are separate checks (CheckObject,
  // CheckFieldWrite); this one only says whether the write has a source.
  Decision CheckSourceWrite(const model::ObjectSchema& schema,
                            const model::FieldSchema& field) const;
  // CheckSourceWrite(...).allowed without building the Decision.
  bool AllowsSourceWrite(const model::ObjectSchema& schema,
                         const model::FieldSchema& field) const;
  // The source a write of `field` is recorded under, for provenance:
  // "dataSources/{id}", "interactions" or "unregistered"; "" if the write
  // is refused. Not compared by a shadow (AllowsSourceWrite is).
  std::string SourceOf(const model::ObjectSchema& schema,
                       const model::FieldSchema& field) const;

  // System permissions: rights that are not about records (manage_users,
  // manage_policy, view_audit, export, ...; crm.v1.SystemPermission). The
  // rule, written here once (admin_service.proto "Who may call" and
  // auth_service.proto WhoAmI refer to it):
  //   - a service acting as itself holds p through its configuration
  //     (ServiceConfig.system_permissions) or a permission set assigned to
  //     "services/{name}";
  //   - a user (acting through a service) holds p through their profile's
  //     system permissions or a permission set assigned to them or to their
  //     profile, AND the service must hold p too (a service's scope limits
  //     what a user can do through it);
  //   - an unknown or inactive user, or an unregistered service, holds
  //     nothing; nor does anyone without a loaded policy.
  // Decision::rule names the grant that allowed: for a service
  // "system:config:services/admin-cli" or
  // "system:permission-set:permissionSets/cli-policy-admin"; for a user
  // the user's grant, "system:profile:profiles/admins" or
  // "system:permission-set:permissionSets/x" (the reason names the
  // service's as well). A refusal: "no-system:manage_policy" (the
  // principal does not hold it), "service-scope:admin-cli:manage_policy"
  // (the user holds it, the service does not), "unknown-user:{id}",
  // "inactive-user:{id}", "unknown-service:{name}", "no-policy".
  Decision CheckSystem(crm::v1::SystemPermission p) const;
  // For explanations (policy/explain.h): the grant through which the
  // user (acting for one), and the service, hold `p`, named as in
  // CheckSystem's rule without its "system:" prefix ("profile:profiles/z",
  // "permission-set:permissionSets/y", "config:services/x"); "" where the
  // principal does not hold it or is unknown.
  std::string UserSystemGrantOf(crm::v1::SystemPermission p) const;
  std::string ServiceSystemGrantOf(crm::v1::SystemPermission p) const;
  // The object permissions the principal holds on `schema` (a user's
  // intersected with the service's scope; what CheckObject decides from).
  ObjectPermissions EffectiveObjectPermissions(
      const model::ObjectSchema& schema) const {
    return Permissions(ObjectOf(schema));
  }

  // CheckSystem(p).allowed without building the Decision (a mask test).
  bool AllowsSystem(crm::v1::SystemPermission p) const;
  // Every system permission AllowsSystem grants, in enum order (what
  // WhoAmI lists).
  std::vector<crm::v1::SystemPermission> SystemPermissions() const;

 private:
  struct Grant;  // a record access level and the grant that gave it

  // The functions below take `explain`: when false they decide the same
  // way but leave every rule and reason string empty (no allocation).
  // Those taking `trace` (null on the request path) record every grant and
  // restriction they consider in it and then do not stop at the first
  // sufficient grant; their result is the same either way.
  ObjectPermissions Permissions(int object) const;
  int ObjectOf(const model::ObjectSchema& schema) const;
  Decision ObjectDecision(const model::ObjectSchema& schema, Operation op,
                          bool explain) const;
  Decision RecordDecision(const model::ObjectSchema& schema, Operation op,
                          const RecordFacts& facts, bool explain,
                          RecordTrace* trace = nullptr) const;
  // RecordDecision before consent (the grants and restrictions).
  Decision AccessDecision(const model::ObjectSchema& schema, Operation op,
                          const RecordFacts& facts, bool explain,
                          RecordTrace* trace) const;
  // The consent condition of RecordFilter (ConsentApplies), ANDed to `f`.
  model::SqlFragment WithConsentSql(const model::ObjectSchema& schema,
                                    model::SqlFragment f,
                                    PlanInfo* plan) const;
  // A service acting as itself: its record access from its scope.
  Decision ServiceRecordDecision(const model::ObjectSchema& schema, int object,
                                 Operation op, bool explain) const;
  bool ViewAll(int object, Level needed, bool explain, std::string* rule,
               RecordTrace* trace = nullptr) const;
  // Fields(); without `with_read`, CanRead is always false (CanWriteField
  // does not need the object permission).
  FieldAccess FieldsFor(const model::ObjectSchema& schema,
                        bool with_read) const;
  Grant RecordAccess(int object, Level needed, const model::Record& record,
                     const std::vector<ShareFact>& shares, bool explain,
                     RecordTrace* trace = nullptr) const;
  Grant OwnAccess(int object, Level needed, const model::Record& record,
                  const std::vector<ShareFact>& shares, bool explain,
                  RecordTrace* trace = nullptr) const;
  const char* FailedRestriction(int object, const model::Record& record,
                                RecordTrace* trace = nullptr) const;
  // `user_filter`: RecordFilter's hint, or nullptr.
  model::SqlFragment AccessSql(int object, Level needed, const SqlShape& shape,
                               PlanInfo* plan,
                               const query::CheckedFilter* user_filter) const;
  model::SqlFragment OwnAccessSql(
      int object, Level needed, const SqlShape& shape, PlanInfo* plan,
      const query::CheckedFilter* user_filter) const;
  std::vector<int> OwnerSet(int object, Level needed) const;
  // The bits (1 << SystemPermission) the principal holds, per CheckSystem.
  uint32_t SystemMask() const;
  // The grant through which the service (or the user) holds bit `bit`:
  // "config:services/x", "permission-set:permissionSets/y",
  // "profile:profiles/z"; "" if none.
  std::string ServiceSystemGrant(uint32_t bit) const;
  std::string UserSystemGrant(uint32_t bit) const;

  // Shadow evaluation: the decision without comparing, and the comparisons.
  Decision FieldWriteDecision(const model::ObjectSchema& schema,
                              const model::FieldSchema& field,
                              bool allowed) const;
  Decision SystemDecision(crm::v1::SystemPermission p) const;
  // The source rule's answer: a data source index (>= 0) or one of these.
  static constexpr int kNoSource = -1;
  static constexpr int kUnenforced = -2;
  static constexpr int kImplicitInteractions = -3;
  int SourceIndex(const model::ObjectSchema& schema,
                  const model::FieldSchema& field) const;
  Decision SourceDecision(const model::ObjectSchema& schema,
                          const model::FieldSchema& field, int source) const;
  bool SystemAllowed(crm::v1::SystemPermission p) const;
  void CompareObject(const model::ObjectSchema& schema, Operation op,
                     bool live) const;
  void CompareRecord(const model::ObjectSchema& schema, Operation op,
                     const RecordFacts& facts, bool live) const;
  void CompareFields(const model::ObjectSchema& schema,
                     const FieldAccess& live) const;
  void CompareSystem(crm::v1::SystemPermission p, bool live) const;

  std::shared_ptr<const PolicySnapshot> snapshot_;
  std::shared_ptr<const Evaluator> shadow_;  // null: no shadow
  ShadowSink* shadow_sink_ = nullptr;
  const CompiledPolicy* policy_ = nullptr;
  Principal principal_;
  const CompiledService* service_ = nullptr;  // nullptr: unregistered
  const CompiledUser* user_ = nullptr;        // acting-for user, if known
  int user_index_ = -1;
  std::vector<std::string> purposes_;  // see purposes()
};

}  // namespace crm::policy

#endif  // CRM_POLICY_EVALUATOR_H_
