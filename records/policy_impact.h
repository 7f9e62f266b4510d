// The record side of a policy plan's access impact (PlanPolicy,
// crm/v1/admin_service.proto): given the record filter of one user and
// operation under the live policy and under the planned one (both made by
// policy::Evaluator::RecordFilter, the predicate List applies; computed by
// policy/plan_impact.h), how many records the user would gain and lose,
// counted in SQL in one snapshot of the data, with examples.
//
// Nothing here decides access: the two predicates are the decisions.
//
// Thread-safety: stateless; the database follows database.h.
#ifndef CRM_RECORDS_POLICY_IMPACT_H_
#define CRM_RECORDS_POLICY_IMPACT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "model/sql.h"
#include "records/deps.h"

namespace crm::records {

struct RecordDelta {
  int64_t before = 0;  // records `before` selects
  int64_t after = 0;   // records `after` selects
  int64_t gained = 0;  // selected by `after` and not by `before`
  int64_t lost = 0;    // selected by `before` and not by `after`
  // Resource names ("accounts/a17") of some gained and lost records, in id
  // order, at most max_examples each.
  std::vector<std::string> examples_gained;
  std::vector<std::string> examples_lost;
};

// Counts for one user and operation. An empty predicate selects every
// record. Two statements (the counts) in one read-only snapshot
// (store::RecordStore::CountSubsetsInSnapshot), then at most two for the
// examples (which may see later commits; they illustrate, the counts are
// the figures).
absl::StatusOr<RecordDelta> CountRecordDelta(const Deps& deps,
                                             const model::ObjectSchema& schema,
                                             const model::SqlFragment& before,
                                             const model::SqlFragment& after,
                                             int max_examples);

// The number of records a predicate selects (a sharing rule's source,
// policy::SharingRuleSource).
absl::StatusOr<int64_t> CountSelected(const Deps& deps,
                                      const model::ObjectSchema& schema,
                                      const model::SqlFragment& where);

}  // namespace crm::records

#endif  // CRM_RECORDS_POLICY_IMPACT_H_
