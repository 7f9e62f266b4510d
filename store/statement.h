// Running parameterised SQL (model::SqlFragment, '?' placeholders) on a
// Session, without SOCI in the caller. Used by the record store and the
// migrations, and available to other store-level code.
//
// `operation` names what is being done ("reading accounts") for the status
// message; the driver's detail is logged, never returned (see soci_util.h).
// Failures: INTERNAL if the placeholder count does not match the
// parameters (a programming error), otherwise as ToStatus.
//
// Reuse::kCached keeps the prepared statement on the session's pooled
// connection and executes it again, with the new parameter values, the next
// time the same text (and parameter kinds) runs there: no re-parse and
// re-plan on SQLite, one round trip instead of three (PREPARE, EXECUTE,
// DEALLOCATE) on PostgreSQL. Use it only for texts fixed per schema, never
// for DDL or texts built from a request's filter; the lifetime rules are
// StatementCache's (soci_util.h).
#ifndef CRM_STORE_STATEMENT_H_
#define CRM_STORE_STATEMENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/sql.h"
#include "store/database.h"

namespace crm::store {

using Row = std::vector<model::SqlValue>;

// Whether a statement stays prepared on its connection (see above).
enum class Reuse { kOnce, kCached };

// The SQL dialect of the session's database.
Dialect DialectOf(const Session& session);

// Runs a statement that returns no rows; returns the number of rows it
// changed (0 for DDL).
absl::StatusOr<int64_t> Execute(Session& session,
                                const model::SqlFragment& statement,
                                absl::string_view operation,
                                Reuse reuse = Reuse::kOnce);

// Runs a query and returns every row (columns in select order).
absl::StatusOr<std::vector<Row>> Query(Session& session,
                                       const model::SqlFragment& query,
                                       absl::string_view operation,
                                       Reuse reuse = Reuse::kOnce);

// An integer column of a Query row. SQLite reports an expression column's
// type (COUNT, MAX, CASE) from its first value's storage class, which SOCI
// may hand over as text or a double: both are converted. nullopt for NULL
// or a value that is not a number.
std::optional<int64_t> IntOf(const model::SqlValue& value);

// Runs a query returning one integer (e.g. COUNT(*)); 0 when it returns no
// row or NULL.
absl::StatusOr<int64_t> QueryInt(Session& session,
                                 const model::SqlFragment& query,
                                 absl::string_view operation,
                                 Reuse reuse = Reuse::kOnce);

// Multi-row statements ("... WHERE record_id IN (?, ?, ...)"): the bound
// parameters of one statement stay within kMaxParams, well under the
// smallest limit of the backends (SQLite before 3.32: 999; later SQLite
// 32766, PostgreSQL 65535), so a statement never fails for its size. Not
// more: a statement with many parameters is slow to prepare and bind (SQLite
// bound them by name until 2026-12-08, O(n^2): ~10 ms for 1,000 on this
// project's machine; it now binds by position, see BindStyle in
// soci_util.h; PostgreSQL still binds by name).
inline constexpr size_t kMaxParams = 300;

// "?, ?, ?" for n values.
std::string Placeholders(size_t n);

// Calls fn(begin, end) for consecutive slices [begin, end) of `n` items, each
// at most (kMaxParams - fixed_params) / params_per_item items long (at
// least one), stopping at the first error. For a statement that binds
// `fixed_params` parameters plus `params_per_item` per item.
absl::Status ForEachChunk(size_t n, size_t params_per_item,
                          size_t fixed_params,
                          const std::function<absl::Status(size_t, size_t)>& fn);

}  // namespace crm::store

#endif  // CRM_STORE_STATEMENT_H_
