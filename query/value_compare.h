// Ordering of SQL values as the database orders them, for the in-memory
// evaluators (Matches, AfterKey).
#ifndef CRM_QUERY_VALUE_COMPARE_H_
#define CRM_QUERY_VALUE_COMPARE_H_

#include <optional>

#include "model/sql.h"

namespace crm::query {

// -1, 0 or 1 as a < b, a == b, a > b:
//   two integers     as 64-bit integers
//   integer/double   as doubles
//   two strings      bytewise (unsigned), like COLLATE "C" / BINARY
// nullopt (SQL unknown) if either is NULL or one is a string and the other a
// number.
std::optional<int> CompareSqlValues(const model::SqlValue& a,
                                    const model::SqlValue& b);

}  // namespace crm::query

#endif  // CRM_QUERY_VALUE_COMPARE_H_
