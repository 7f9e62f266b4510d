#include "server/list_plan.h"

#include <utility>

#include "store/statement.h"

namespace crm::server {

bool PreferFetchThenSort(const policy::PlanInfo& access,
                         const store::TableEstimate& table, bool filtered,
                         int limit) {
  if (access.shape != "scan" || access.criteria_rules > 0 ||
      access.via_parent || access.owners == 0 || !table.known() ||
      limit <= 0) {
    return false;
  }
  double visible = static_cast<double>(access.owners) * table.rows /
                   table.distinct_owners;
  double matching =
      visible * (filtered ? kAssumedFilterSelectivity : 1.0);
  if (matching < 1) matching = 1;
  double walked = static_cast<double>(limit) * table.rows / matching;
  return kFetchCostPerRow * visible < walked;
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
  if (store::DialectOf(session) == store::Dialect::kPostgres &&
      access->shape == "scan") {
    absl::StatusOr<store::TableEstimate> table =
        records.Estimate(session, schema);
    if (!table.ok()) return table.status();
    fetch = PreferFetchThenSort(*access, *table, !filter.empty(), limit);
  }
  if (fetch) {
    shape.share_ids_as_array = true;
    visible = eval.RecordFilter(schema, policy::Operation::kRead, shape,
                                access, &filter);
  }
  store::ListQuery q;
  q.where = model::And(model::And(visible, query::ToSql(filter)), after);
  q.order = order;
  q.limit = limit;
  q.fetch_then_sort = fetch;
  return q;
}

}  // namespace crm::server
