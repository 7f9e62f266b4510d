#include "query/keyset.h"

#include "absl/strings/str_cat.h"
#include "query/value_compare.h"

namespace crm::query {
namespace {

std::string Column(absl::string_view column, absl::string_view alias) {
  if (alias.empty()) return model::QuoteIdentifier(column);
  return absl::StrCat(model::QuoteIdentifier(alias), ".",
                      model::QuoteIdentifier(column));
}

}  // namespace

bool IdDescending(const std::vector<model::OrderTerm>& order) {
  return !order.empty() && order.back().descending;
}

std::string OrderBySql(const std::vector<model::OrderTerm>& order,
                       absl::string_view table_alias) {
  std::string out;
  for (const model::OrderTerm& term : order) {
    absl::StrAppend(&out, Column(term.column, table_alias),
                    term.descending ? " DESC" : " ASC", ", ");
  }
  absl::StrAppend(&out, Column("id", table_alias),
                  IdDescending(order) ? " DESC" : " ASC");
  return out;
}

model::SqlFragment KeysetAfter(const std::vector<model::OrderTerm>& order,
                               const std::vector<model::SqlValue>& last_values,
                               const std::string& last_id,
                               absl::string_view table_alias) {
  model::SqlFragment out;
  if (last_values.size() != order.size()) {
    out.Append("(1 = 0)");
    return out;
  }
  // Term k (0..n) is: the first k keys equal, key k strictly after; key n
  // is the id.
  for (size_t k = 0; k <= order.size(); ++k) {
    if (k > 0) out.Append(" OR ");
    out.Append("(");
    for (size_t i = 0; i < k; ++i) {
      out.Append(
          absl::StrCat(Column(order[i].column, table_alias), " = ? AND "),
          {last_values[i]});
    }
    if (k < order.size()) {
      out.Append(absl::StrCat(Column(order[k].column, table_alias),
                              order[k].descending ? " < ?" : " > ?"),
                 {last_values[k]});
    } else {
      out.Append(absl::StrCat(Column("id", table_alias),
                              IdDescending(order) ? " < ?" : " > ?"),
                 {last_id});
    }
    out.Append(")");
  }
  return out;
}

bool AfterKey(const std::vector<model::OrderTerm>& order,
              const std::vector<model::SqlValue>& last_values,
              const std::string& last_id,
              const std::vector<model::SqlValue>& row_values,
              const std::string& row_id) {
  if (last_values.size() != order.size() || row_values.size() != order.size()) {
    return false;
  }
  for (size_t i = 0; i < order.size(); ++i) {
    std::optional<int> c = CompareSqlValues(row_values[i], last_values[i]);
    if (!c) return false;
    if (*c != 0) return order[i].descending ? *c < 0 : *c > 0;
  }
  const int c = row_id.compare(last_id);
  return IdDescending(order) ? c < 0 : c > 0;
}

}  // namespace crm::query
