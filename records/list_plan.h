// The statement of one List page: the principal's record access
// (policy::Evaluator::RecordFilter, given the request's filter as a hint)
// AND the filter AND the page token's keyset predicate, ordered and limited;
// and, on PostgreSQL, the choice between two plans for it. Used by
// records::List (record_ops.h) and by bench/list_bench.cc, so the benchmark
// measures the statement the server runs.
//
// The two plans return the same rows in the same order; only their cost
// differs:
//   - walk (the default): the database is free to walk the sort index
//     (update_time, id) backwards and drop every row the WHERE rejects until
//     the page is full. Cheap when the principal sees much of the table;
//     for one who sees a few thousand rows of a million and filters them
//     further, it drops tens of thousands of rows per page.
//   - fetch then sort (store::ListQuery::fetch, with the shares as an array
//     so PostgreSQL can OR the owner index and the primary key in one
//     bitmap): every visible matching row is read once and sorted. Cost
//     grows with what the principal sees, so it is only chosen when that
//     is estimated small, and bounded (FetchMaxRows) in case it is not.
// PreferFetchThenSort makes the choice from the access predicate's shape
// (policy::PlanInfo) and the table's statistics (store::TableEstimate);
// bench/README.md has the measurements behind its constants.
//
// Thread-safety: stateless functions; the Session follows database.h rules.
#ifndef CRM_RECORDS_LIST_PLAN_H_
#define CRM_RECORDS_LIST_PLAN_H_

#include <vector>

#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "model/sql.h"
#include "policy/evaluator.h"
#include "query/checked_filter.h"
#include "store/record_store.h"

namespace crm::records {

// Whether reading every visible row and sorting is expected to be cheaper
// than walking the sort index for a page of `limit` rows. Only for the
// `scan` form over owners and manual shares (criteria rules could match any
// share of the table, and nothing indexes them), not through a parent
// object, and only with a known estimate. The model, per page:
//   visible  V = owners * rows / distinct_owners (shares left out: they are
//              ~50 per user against ~100 rows per owner)
//   matching M = V * s, s = 1 without a filter, kAssumedFilterSelectivity
//              with one (the server has no statistics of the filter)
//   walk:  visits limit * rows / M rows of the sort index and the heap
//   fetch: visits V rows, each kFetchCostPerRow times a walked row (bitmap
//          heap fetch, materialization, sort)
bool PreferFetchThenSort(const policy::PlanInfo& access,
                         const store::TableEstimate& table, bool filtered,
                         int limit);
inline constexpr double kAssumedFilterSelectivity = 0.2;
inline constexpr double kFetchCostPerRow = 3.0;

// V above, or -1 where PreferFetchThenSort never fetches.
double EstimatedVisibleRows(const policy::PlanInfo& access,
                            const store::TableEstimate& table);

// The most rows a fetch may read (store::ListQuery::FetchThenSort::max_rows)
// before the walk answers instead: twice the estimate plus a margin. The
// estimate assumes every owner has the table's average number of records;
// when the principal's owners hold far more (an integration user owning
// half the table), the fetch stops there and costs at most that.
int64_t FetchMaxRows(double visible_rows);

// The query of one List page. `after`: the page token's keyset predicate,
// or empty for the first page. `access` (optional) receives what
// RecordFilter chose. Reads the table estimate through `records` (cached
// there) on PostgreSQL.
absl::StatusOr<store::ListQuery> PlanList(
    store::Session& session, store::RecordStore& records,
    const policy::Evaluator& eval, const model::ObjectSchema& schema,
    const query::CheckedFilter& filter,
    const std::vector<model::OrderTerm>& order, const model::SqlFragment& after,
    int limit, policy::PlanInfo* access = nullptr);

}  // namespace crm::records

#endif  // CRM_RECORDS_LIST_PLAN_H_
