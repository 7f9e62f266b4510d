#include "records/list_plan.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "store/statement.h"

namespace crm::records {

double EstimatedVisibleRows(const policy::PlanInfo& access,
                            const store::TableEstimate& table) {
  if (access.shape != "scan" || access.criteria_rules > 0 ||
      access.via_parent || access.owners == 0 || !table.known()) {
    return -1;
  }
  return static_cast<double>(access.owners) * table.rows /
         table.distinct_owners;
}

bool PreferFetchThenSort(const policy::PlanInfo& access,
                         const store::TableEstimate& table, bool filtered,
                         int limit) {
  double visible = EstimatedVisibleRows(access, table);
  if (visible < 0 || limit <= 0) return false;
  double matching =
      std::max(1.0, visible * (filtered ? kAssumedFilterSelectivity : 1.0));
  double walked = static_cast<double>(limit) * table.rows / matching;
  return kFetchCostPerRow * visible < walked;
}

int64_t FetchMaxRows(double visible_rows) {
  return static_cast<int64_t>(2 * std::max(0.0, visible_rows)) + 1000;
}

absl::StatusOr<store::ListQuery> PlanList(
    store::Session& session, store::RecordStore& records,
    const policy::Evaluator& eval, const model::ObjectSchema& schema,
    const query::CheckedFilter& filter,
    const std::vector<model::OrderTerm>& order, const model::SqlFragment& after,
    int limit, policy::PlanInfo* access) {
  policy::PlanInfo local;
  if (access == nullptr) access = &local;
  policy::SqlShape shape;
  // The filter is a hint: branches it contradicts are left out, so the
  // result is only meaningful ANDed with it (as below).
  model::SqlFragment visible = eval.RecordFilter(
      schema, policy::Operation::kRead, shape, access, &filter);
  bool fetch = false;
  store::TableEstimate estimate;
  if (store::DialectOf(session) == store::Dialect::kPostgres &&
      access->shape == "scan") {
    absl::StatusOr<store::TableEstimate> table =
        records.Estimate(session, schema);
    if (!table.ok()) return table.status();
    estimate = *table;
    fetch = PreferFetchThenSort(*access, estimate, !filter.empty(), limit);
  }
  const model::SqlFragment filter_sql = query::ToSql(filter);
  store::ListQuery q;
  q.where = model::And(model::And(visible, filter_sql), after);
  q.order = order;
  q.limit = limit;
  if (fetch) {
    shape.share_ids_as_array = true;
    policy::PlanInfo same;
    model::SqlFragment as_array = eval.RecordFilter(
        schema, policy::Operation::kRead, shape, &same, &filter);
    q.fetch = store::ListQuery::FetchThenSort{
        model::And(model::And(as_array, filter_sql), after),
        FetchMaxRows(EstimatedVisibleRows(*access, estimate))};
  }
  return q;
}

}  // namespace crm::records
