// SQL values and parameterised fragments, shared by the pure modules that
// build SQL (query/, policy/) and the storage layer that runs it (store/).
//
// A fragment's text uses '?' for each bound parameter, in order; the text
// itself never contains user input (identifiers come from descriptors, and
// every value is a parameter). The store rewrites '?' into its driver's
// placeholder syntax.
#ifndef CRM_MODEL_SQL_H_
#define CRM_MODEL_SQL_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

namespace crm::model {

// NULL, integer (also booleans 0/1 and timestamps in microseconds since the
// Unix epoch), floating point, or text (also enum value names).
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// A piece of SQL with its bound parameters.
struct SqlFragment {
  std::string sql;
  std::vector<SqlValue> params;

  bool empty() const { return sql.empty(); }

  // Appends `text` (which may contain '?') and its parameters.
  void Append(absl::string_view text, std::vector<SqlValue> values = {});
  void Append(const SqlFragment& other);
};

// One ORDER BY term. `column` is a validated schema column name.
struct OrderTerm {
  std::string column;
  bool descending = false;
};

// "(a) AND (b)"; an empty side is dropped, both empty gives an empty fragment.
SqlFragment And(const SqlFragment& a, const SqlFragment& b);
SqlFragment Or(const SqlFragment& a, const SqlFragment& b);

// Double-quotes an identifier that has already been validated as
// [a-z_][a-z0-9_]* (schemas guarantee this for every column).
std::string QuoteIdentifier(absl::string_view name);

// Debug rendering such as 'text' / 42 / NULL (for logs and test messages).
std::string DebugString(const SqlValue& value);

}  // namespace crm::model

#endif  // CRM_MODEL_SQL_H_
