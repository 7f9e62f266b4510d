// Loading a record together with everything a point decision on it needs
// (its manual shares; for objects controlled by their account, the account
// and its shares), and deciding on it, in ONE place for every path that acts
// on a single record (Get/Update/Delete in record_ops.cc, and
// Share/Unshare/ListShares/Transfer in sharing.cc).
//
// The decision itself is the Evaluator's (policy/evaluator.h); this file only
// gathers the facts and turns the decision into a status:
//   - a missing record, or one the principal may not read: NOT_FOUND with
//     the same message (policy::RecordNotFound), so existence never leaks;
//   - a readable record on which `op` is refused: PERMISSION_DENIED with the
//     decision's reason (it is visible, so refusing reveals nothing new).
//
// Thread-safety: stateless functions; the Session follows database.h rules.
#ifndef CRM_RECORDS_RECORD_ACCESS_H_
#define CRM_RECORDS_RECORD_ACCESS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/evaluator.h"
#include "records/deps.h"
#include "store/consent_store.h"
#include "store/database.h"
#include "store/policy_store.h"

namespace crm::records {

struct LoadedRecord {
  model::Record record;
  // Only loaded when the evaluator needs them (Evaluator::NeedsShares: not
  // for a service acting as itself); empty otherwise.
  std::vector<store::ShareRow> shares;
  // Only loaded when the evaluator needs it (Evaluator::NeedsParent): the
  // account named by the record's "account" field, if it exists.
  std::optional<model::Record> parent;
  std::vector<store::ShareRow> parent_shares;
  // Only loaded when the evaluator needs them (Evaluator::NeedsConsent: a
  // principal marked with a purpose, on a consent subject).
  std::vector<store::ConsentRow> consents;

  // The facts for Evaluator::CheckRecord. They point into this object: use
  // them while it lives and is not moved.
  policy::RecordFacts Facts() const;
};

// The record `id` of `schema` with its facts; nullopt if there is no such
// record. Reads on `session` (use the write's transaction for writes).
absl::StatusOr<std::optional<LoadedRecord>> LoadRecord(
    store::Session& session, const Deps& deps, const policy::Evaluator& eval,
    const model::ObjectSchema& schema, const std::string& id);

// LoadRecord for records already read on `session` (in their order), their
// facts read in a few statements for all of them (shares, consent,
// parents and their shares, as the evaluator needs), not per record.
absl::StatusOr<std::vector<LoadedRecord>> LoadFacts(
    store::Session& session, const Deps& deps, const policy::Evaluator& eval,
    const model::ObjectSchema& schema, std::vector<model::Record> records);

// The consent entries as the Evaluator takes them.
std::vector<policy::ConsentFact> ConsentFacts(
    const std::vector<store::ConsentRow>& rows);

// LoadRecord, then: NOT_FOUND unless the record exists and the principal may
// read it; PERMISSION_DENIED unless the principal may perform `op` on it.
absl::StatusOr<LoadedRecord> LoadRecordFor(store::Session& session,
                                           const Deps& deps,
                                           const policy::Evaluator& eval,
                                           const model::ObjectSchema& schema,
                                           const std::string& id,
                                           policy::Operation op);

// The decision on an already loaded record.
policy::Decision CheckLoaded(const policy::Evaluator& eval,
                             const model::ObjectSchema& schema,
                             policy::Operation op, const LoadedRecord& loaded);

}  // namespace crm::records

#endif  // CRM_RECORDS_RECORD_ACCESS_H_
