// Keyset pagination: the predicate for "rows strictly after the last row of
// the previous page".
//
// The List order is ORDER BY <terms...>, "id" <direction of the last term>
// (ascending when there are no terms). The store must sort exactly so, or
// pages skip or repeat rows. Sort key values are the column representation
// of model/object_schema.h and are never NULL (every column is NOT NULL).
#ifndef CRM_QUERY_KEYSET_H_
#define CRM_QUERY_KEYSET_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "model/sql.h"

namespace crm::query {

// The direction of the id tie-break for `order`.
bool IdDescending(const std::vector<model::OrderTerm>& order);

// The ORDER BY clause body, e.g. "update_time" DESC, "id" DESC.
std::string OrderBySql(const std::vector<model::OrderTerm>& order,
                       absl::string_view table_alias = "");

// The expanded predicate
//   ("a" > ?) OR ("a" = ? AND "b" > ?) OR ("a" = ? AND "b" = ? AND "id" > ?)
// with < for descending terms. last_values must hold one value per order
// term; if it does not (a server bug, since page tokens are signed and bound
// to the order), the predicate is (1 = 0), which selects nothing.
model::SqlFragment KeysetAfter(const std::vector<model::OrderTerm>& order,
                               const std::vector<model::SqlValue>& last_values,
                               const std::string& last_id,
                               absl::string_view table_alias = "");

// In memory: true if the row (its sort key values in `order` order, and its
// id) comes strictly after the last row, i.e. KeysetAfter would select it.
// False on a size mismatch or incomparable values.
bool AfterKey(const std::vector<model::OrderTerm>& order,
              const std::vector<model::SqlValue>& last_values,
              const std::string& last_id,
              const std::vector<model::SqlValue>& row_values,
              const std::string& row_id);

}  // namespace crm::query

#endif  // CRM_QUERY_KEYSET_H_
