// Store-internal glue between model::SqlFragment and SOCI. Only files in
// store/ include this header (it pulls in SOCI).
#ifndef CRM_STORE_SOCI_UTIL_H_
#define CRM_STORE_SOCI_UTIL_H_

#include <cstddef>
#include <exception>
#include <initializer_list>
#include <utility>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "model/sql.h"
#include "soci/soci.h"
#include "store/database.h"

namespace crm::store {

class StatementCache;

// A leased connection. Created only by Database; lives for one callback.
class Session {
 public:
  // `statements` is the connection's statement cache (nullptr: none).
  Session(soci::session& sql, Dialect dialect, bool in_transaction,
          StatementCache* statements = nullptr)
      : sql_(sql),
        dialect_(dialect),
        in_transaction_(in_transaction),
        statements_(statements) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  soci::session& sql() { return sql_; }
  StatementCache* statements() { return statements_; }
  Dialect dialect() const { return dialect_; }
  bool in_transaction() const { return in_transaction_; }

  // Set by ToStatus when a statement hit a transient conflict (the
  // transaction may succeed if retried) or lost its connection.
  void MarkRetryable() { retryable_ = true; }
  bool retryable() const { return retryable_; }
  void MarkBroken() { broken_ = true; }
  bool broken() const { return broken_; }

 private:
  soci::session& sql_;
  const Dialect dialect_;
  const bool in_transaction_;
  StatementCache* const statements_;
  bool retryable_ = false;
  bool broken_ = false;
};

// How a statement's parameters are bound. SQLite takes '?' and binds by
// position; SOCI's PostgreSQL backend needs names (it rewrites ":p0" into
// "$1"). Binding by name on SQLite costs a scan of the statement's names
// per parameter and execution (sqlite3_bind_parameter_index), which is
// quadratic in a multi-row INSERT's parameters.
enum class BindStyle { kNamed, kPositional };

// kNamed: rewrites each '?' outside quotes into ":p0", ":p1", ...;
// kPositional: returns the text unchanged. Either way the number of
// placeholders is returned in *count.
std::string RewritePlaceholders(absl::string_view sql, size_t* count,
                                BindStyle style = BindStyle::kNamed);

// Owns copies of a fragment's values for as long as a statement that binds
// them runs. Never resized after construction, so the references SOCI holds
// stay valid.
class BoundParams {
 public:
  explicit BoundParams(const std::vector<model::SqlValue>& values);
  BoundParams(const BoundParams&) = delete;
  BoundParams& operator=(const BoundParams&) = delete;

  // Adds soci::use(...) for every value in order: named p0, p1, ... or by
  // position (see BindStyle).
  void BindTo(soci::details::prepare_temp_type& prep, BindStyle style);

  // Replaces the values in place (the bound references stay valid), for
  // executing a prepared statement again. `values` must have the same size
  // and the same alternative at every position (see Kinds); returns false,
  // changing nothing, otherwise.
  bool Assign(const std::vector<model::SqlValue>& values);

  // One character per value naming its SqlValue alternative ('0'-'3'): what
  // a statement bound from `values` is specialised for.
  static void AppendKinds(const std::vector<model::SqlValue>& values,
                          std::string* out);

 private:
  struct Slot {
    long long integer = 0;
    double real = 0;
    std::string text;
    soci::indicator indicator = soci::i_ok;
    int kind = 0;  // index of the SqlValue alternative
  };
  static void Fill(const model::SqlValue& value, Slot& slot);

  std::vector<Slot> slots_;
};

// What a cached statement hands back.
enum class ResultShape : char {
  kNone = 'n',     // Execute: rows changed
  kRows = 'r',     // Query: every row, through a soci::row
  kInteger = 'i',  // QueryInt: one integer
};

// A statement prepared once on one connection and executed again with new
// parameter values: SOCI holds references to `params`' slots and to the
// result buffers, so all of them live (at fixed addresses) as long as the
// statement.
struct CachedStatement {
  explicit CachedStatement(const std::vector<model::SqlValue>& values)
      : params(values) {}
  BoundParams params;
  soci::row row;                              // ResultShape::kRows
  long long integer = 0;                      // ResultShape::kInteger
  soci::indicator indicator = soci::i_ok;     // ResultShape::kInteger
  std::optional<soci::statement> statement;   // prepared, bound
};

// The prepared statements of ONE pooled connection, keyed by their SQL text
// (with '?' placeholders), the kinds of their parameters and their result
// shape. Used through statement.h's Reuse::kCached.
//
// Lifetime rules:
//   - One cache per connection of the pool, owned by the Database and used
//     only by the session holding that connection's lease: no locking.
//   - Entries are prepared on first use and kept until: the statement fails
//     (the entry is evicted in case the statement itself is at fault;
//     inside a PostgreSQL transaction, where the failure aborted the
//     transaction so DEALLOCATE could not run, it is retired instead and
//     destroyed when the transaction has ended), the connection is
//     repaired after a failure (Clear before reconnect: the old statements
//     belong to the dead connection), the cache reaches kMaxEntries
//     (Clear: cheap insurance against unbounded texts), or the Database
//     closes (the caches go before the connections).
//   - Only texts fixed per schema are cached (the record store's point
//     reads and writes, the shares of a record); never DDL, never texts
//     that embed a filter or a variable list of columns.
//   - Transactions: a prepared statement belongs to the connection, not to
//     a transaction. SQLite statements are reset after every use (so none
//     keeps a read snapshot open across transactions or leases);
//     PostgreSQL's named prepared statements survive COMMIT and ROLLBACK. An
//     entry is added only once PREPARE succeeded, so a statement whose
//     PREPARE failed in an aborted PostgreSQL transaction is never cached.
//   - Schema changes: SQLite transparently re-prepares a statement after a
//     schema change and PostgreSQL re-plans it; both keep working as long
//     as the result columns keep their types, which holds for the store's
//     explicit column lists (a new field changes the text, hence the key).
//     Migrations run at start-up, before any statement is cached; one that
//     changed a column's type at run time would make PostgreSQL fail the
//     cached statement once ("cached plan must not change result type"),
//     which evicts it.
class StatementCache {
 public:
  static constexpr size_t kMaxEntries = 256;

  StatementCache() = default;
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // nullptr if `key` is not cached.
  CachedStatement* Find(const std::string& key);
  // Adds a prepared statement (clearing the cache first if it is full).
  CachedStatement* Insert(std::string key,
                          std::unique_ptr<CachedStatement> statement);
  void Evict(const std::string& key) { entries_.erase(key); }
  // Takes `key` out of the cache but keeps the statement alive until
  // DropRetired: for a statement that failed inside a PostgreSQL
  // transaction, which can neither be deallocated there (the transaction is
  // aborted) nor be executed again (SOCI's PostgreSQL backend frees a
  // parameter buffer only after a successful execution, so re-executing a
  // failed statement leaks the previous one).
  void Retire(const std::string& key);
  // Destroys the retired statements (DEALLOCATE); called once the
  // transaction has ended.
  void DropRetired() { retired_.clear(); }
  void Clear() {
    entries_.clear();
    retired_.clear();
  }
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, std::unique_ptr<CachedStatement>> entries_;
  std::vector<std::unique_ptr<CachedStatement>> retired_;
};

// Column `i` of `row` as a SqlValue, whatever type the backend reported
// (SQLite maps declared types loosely). NULL gives std::monostate. Fails for
// BLOB/date columns and unsigned values beyond int64.
absl::StatusOr<model::SqlValue> RowValue(const soci::row& row, size_t i);

// Classification of a database exception: the one place that decides what
// a database error means (ToStatus maps each class to one status code).
enum class ErrorClass {
  kUnavailable,   // connection lost / cannot connect / session not connected
  kRetryable,     // busy, locked, serialization failure, deadlock
  kUniqueViolation,
  kConstraint,    // any other integrity constraint (foreign key, not null,
                  // check)
  kOther,
};
// `session`, when given, is consulted too: an error on a connection that
// libpq reports as no longer connected is kUnavailable whatever its text
// (e.g. SOCI's "Session is not connected" after a failed reconnect).
ErrorClass Classify(const std::exception& e, Session* session = nullptr);

// Converts an exception thrown while `operation` ran (e.g. "reading
// accounts") into a status:
//   kUnavailable      UNAVAILABLE (marks the session broken: the connection
//                     is re-established before its next use), with
//                     UnavailableDetails(..., "connection_lost")
//   kRetryable        ABORTED (marks the session retryable: InTransaction
//                     retries it), with ErrorInfo CONCURRENT_MODIFICATION
//                     {operation}
//   kUniqueViolation  ALREADY_EXISTS
//   kConstraint       FAILED_PRECONDITION
//   kOther            INTERNAL with an error id that is in the log line
// The message names the operation only; the driver's detail and `sql`
// (placeholders, never values) go to the server log.
absl::Status ToStatus(Session* session, absl::string_view operation,
                      absl::string_view sql, const std::exception& e);

// Database errors ToStatus has classified since the process started (every
// class), for metrics.
int64_t DatabaseErrorCount();

// How long a client should wait before retrying after UNAVAILABLE from the
// store (RetryInfo): the prober notices a database coming back within about
// a second.
inline constexpr absl::Duration kDatabaseRetryDelay = absl::Seconds(1);

// `status` (UNAVAILABLE) with ErrorInfo DATABASE_UNAVAILABLE {cause} and
// RetryInfo kDatabaseRetryDelay (proto/crm/v1/errors.proto). `cause`:
// "unavailable", "connection_lost", "pool_exhausted", "starting".
absl::Status UnavailableDetails(absl::Status status, absl::string_view cause);

// INTERNAL "internal error while OPERATION (error id E)" and one log line
// with the same id and `detail`, so an operator can find what a client saw.
absl::Status InternalErrorWithId(absl::string_view operation,
                                 absl::string_view detail);

// One line of the server's structured log (base/log.h), level error, event
// "store.error".
void LogStoreError(absl::string_view message);
// One line of the server's structured log, level warning.
void LogStoreEvent(absl::string_view event,
                   std::initializer_list<std::pair<absl::string_view, std::string>>
                       fields);

}  // namespace crm::store

#endif  // CRM_STORE_SOCI_UTIL_H_
