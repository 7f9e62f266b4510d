// The List order_by parameter: "field [asc|desc], ...".
//
// Up to 4 comma-separated terms; each names a stored field of the schema
// that `can_sort` allows, optionally followed by "asc" or "desc" (lowercase
// or uppercase). A field may appear once. The record id always breaks ties
// (see keyset.h); it is not part of the returned terms.
//
// Failures are INVALID_ARGUMENT "order_by: ...". A field that does not
// exist or that can_sort refuses gives the same message, so a hidden
// field's existence does not leak.
#ifndef CRM_QUERY_ORDER_BY_H_
#define CRM_QUERY_ORDER_BY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/object_schema.h"
#include "model/sql.h"
#include "query/field_access.h"

namespace crm::query {

inline constexpr size_t kMaxOrderByTerms = 4;

// A field encrypted at rest (sensitive) that the caller may read is refused:
// INVALID_ARGUMENT "order_by: contacts.personal_phone is encrypted at rest
// and cannot be filtered or sorted on".
// Empty or all-whitespace text gives the default {create_time asc}. If the
// caller may not sort on create_time (can_sort refuses it) the default is
// {} (order by id only): page tokens carry the sort key values of the last
// row, so a field the caller cannot read is never used as a key.
absl::StatusOr<std::vector<model::OrderTerm>> ParseOrderBy(
    absl::string_view text, const model::ObjectSchema& schema,
    const FieldAccess& can_sort);

// Canonical text such as "update_time desc,display_name asc" ("" for no
// terms), for binding page tokens to the query.
std::string NormalizeOrderBy(const std::vector<model::OrderTerm>& terms);

}  // namespace crm::query

#endif  // CRM_QUERY_ORDER_BY_H_
