// The one place where an access decision is made. Every CRM operation asks
// an Evaluator, bound to the current snapshot and the acting principal, at
// each step of the request path (see DESIGN.md):
//   object permission -> record access -> field permissions.
// List applies the same record access inside SQL through RecordFilter, so
// the point decision and the SQL filter agree (tests/policy_differential_test
// checks it on generated organisations). The rules are those of
// proto/crm/v1/policy.proto; policy/README.md explains the SQL shapes.
//
// Thread-safety: immutable; cheap to construct per request (one hash lookup).
#ifndef CRM_POLICY_EVALUATOR_H_
#define CRM_POLICY_EVALUATOR_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "crm/v1/policy.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "policy/decision.h"
#include "policy/principal.h"
#include "policy/snapshot.h"

namespace crm::policy {

// One manual share of a record (a row of record_shares).
struct ShareFact {
  std::string grantee;  // grantee key, see grantee.h
  crm::v1::AccessLevel level = crm::v1::READ;
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
  // users.
  size_t drive_max_owners = 64;
};

// What RecordFilter chose, for tests, logs and benchmarks.
struct PlanInfo {
  std::string shape;  // "none", "all", "scan", "drive", "service-scope"...
  size_t owners = 0;  // users in the owner set
  size_t share_keys = 0;
  size_t criteria_rules = 0;
  size_t restriction_rules = 0;
  std::string explanation;
};

class Evaluator {
 public:
  Evaluator(std::shared_ptr<const PolicySnapshot> snapshot, Principal principal);

  const Principal& principal() const { return principal_; }

  // May the principal perform `op` on this object type at all?
  Decision CheckObject(const model::ObjectSchema& schema, Operation op) const;

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

  // Whether CheckRecord on this object needs RecordFacts::parent (the object
  // is controlled by its account) for this principal.
  bool NeedsParent(const model::ObjectSchema& schema) const;

  // The records `op` is allowed on, as a parameterised SQL predicate over
  // the object's table (unqualified columns; portable to SQLite and
  // PostgreSQL): empty means every record, "1 = 0" none. Includes
  // CheckObject. Agrees with CheckRecord given the record's stored shares.
  model::SqlFragment RecordFilter(const model::ObjectSchema& schema,
                                  Operation op, const SqlShape& shape = {},
                                  PlanInfo* plan = nullptr) const;

  // Field permissions. An unreadable field is absent from responses and may
  // not be filtered or sorted on; an unwritable one may not be written.
  bool CanReadField(const model::ObjectSchema& schema,
                    const model::FieldSchema& field) const;
  Decision CheckFieldWrite(const model::ObjectSchema& schema,
                           const model::FieldSchema& field) const;
  // CheckFieldWrite(...).allowed without building the Decision.
  bool CanWriteField(const model::ObjectSchema& schema,
                     const model::FieldSchema& field) const;

 private:
  struct Grant;  // a record access level and the grant that gave it

  ObjectPermissions Permissions(int object) const;
  int ObjectOf(const model::ObjectSchema& schema) const;
  bool ViewAll(int object, Level needed, std::string* rule) const;
  Grant RecordAccess(int object, Level needed, const model::Record& record,
                     const std::vector<ShareFact>& shares) const;
  Grant OwnAccess(int object, Level needed, const model::Record& record,
                  const std::vector<ShareFact>& shares) const;
  const char* FailedRestriction(int object, const model::Record& record) const;
  // PermissionBundle::kFieldRead | kFieldEdit for the principal.
  uint8_t FieldBits(int object, int field) const;
  model::SqlFragment AccessSql(int object, Level needed, const SqlShape& shape,
                               PlanInfo* plan) const;
  model::SqlFragment OwnAccessSql(int object, Level needed,
                                  const SqlShape& shape, PlanInfo* plan) const;
  std::vector<int> OwnerSet(int object, Level needed) const;

  std::shared_ptr<const PolicySnapshot> snapshot_;
  const CompiledPolicy* policy_ = nullptr;
  Principal principal_;
  const CompiledService* service_ = nullptr;  // nullptr: unregistered
  const CompiledUser* user_ = nullptr;        // acting-for user, if known
  int user_index_ = -1;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_EVALUATOR_H_
