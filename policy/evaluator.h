// The one place where an access decision is made. Every CRM operation asks
// an Evaluator, bound to the current snapshot and the acting principal, at
// each step of the request path (see DESIGN.md):
//   object permission -> record access -> field permissions.
// List applies the same record access inside SQL through RecordFilter, so
// the point decision and the SQL filter must agree (tests check it).
//
// Thread-safety: immutable; cheap to construct per request.
#ifndef CRM_POLICY_EVALUATOR_H_
#define CRM_POLICY_EVALUATOR_H_

#include <memory>

#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "policy/decision.h"
#include "policy/principal.h"
#include "policy/snapshot.h"

namespace crm::policy {

class Evaluator {
 public:
  Evaluator(std::shared_ptr<const PolicySnapshot> snapshot, Principal principal);

  const Principal& principal() const { return principal_; }

  // May the principal perform `op` on this object type at all?
  Decision CheckObject(const model::ObjectSchema& schema, Operation op) const;

  // May the principal perform `op` on this record? Includes CheckObject.
  Decision CheckRecord(const model::ObjectSchema& schema, Operation op,
                       const model::Record& record) const;

  // The records `op` is allowed on, as a SQL predicate over the object's
  // table: empty means every record, "1 = 0" none. Includes CheckObject.
  model::SqlFragment RecordFilter(const model::ObjectSchema& schema,
                                  Operation op) const;

  // Field permissions. An unreadable field is absent from responses and may
  // not be filtered or sorted on; an unwritable one may not be written.
  bool CanReadField(const model::ObjectSchema& schema,
                    const model::FieldSchema& field) const;
  Decision CheckFieldWrite(const model::ObjectSchema& schema,
                           const model::FieldSchema& field) const;

 private:
  std::shared_ptr<const PolicySnapshot> snapshot_;
  Principal principal_;
};

}  // namespace crm::policy

#endif  // CRM_POLICY_EVALUATOR_H_
