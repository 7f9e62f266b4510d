// A pool of database connections (SQLite or PostgreSQL) and the two ways of
// using one: a single autocommit session, or a transaction with retries.
//
// This header needs no SOCI headers: `Session` is opaque to other modules.
// They pass it to the store's functions (record_store.h, statement.h) and
// never look inside.
//
// Thread-safety: Database is thread-safe. A Session belongs to the one
// callback it was handed to and must not escape it or be shared between
// threads.
//
// Each pooled connection keeps the statements the store prepares with
// Reuse::kCached (store/statement.h) for the next lease of that connection;
// the rules are StatementCache's (store/soci_util.h).
#ifndef CRM_STORE_DATABASE_H_
#define CRM_STORE_DATABASE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace soci {
class connection_pool;
}  // namespace soci

namespace crm::store {

enum class Dialect { kSqlite, kPostgres };

// "sqlite" / "postgres", for messages and test names.
absl::string_view DialectName(Dialect dialect);

// A leased connection, possibly inside a transaction. Defined in
// store/soci_util.h (store-internal).
class Session;
// The prepared statements kept on one connection (store/soci_util.h).
class StatementCache;

class Database {
 public:
  // Opens `pool_size` (>= 1) connections. `connection` is one of
  //   sqlite:PATH                    the embedded default; PATH's parent
  //                                  directory is created if missing. Every
  //                                  connection runs in WAL mode with
  //                                  busy_timeout=10000, foreign_keys=ON,
  //                                  synchronous=NORMAL.
  //   postgresql:<libpq keywords>    e.g. "postgresql:host=/tmp/pg port=5999
  //                                  dbname=crm user=postgres", or a libpq URI
  //                                  "postgresql://user@host/db".
  // Fails with INVALID_ARGUMENT for an unknown scheme or bad pool size and
  // UNAVAILABLE when a connection cannot be made. Messages never contain a
  // password.
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& connection, int pool_size);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const { return dialect_; }
  int pool_size() const { return pool_size_; }

  // Runs `fn` with a leased connection in autocommit mode (no BEGIN): each
  // statement commits on its own. For reads and single-statement writes.
  // Waits up to 30 s for a free connection (UNAVAILABLE after that); do not
  // call WithSession/InTransaction from inside `fn` (it would need a second
  // connection and can deadlock a small pool). Returns fn's status; an
  // exception escaping `fn` becomes INTERNAL.
  absl::Status WithSession(const std::function<absl::Status(Session&)>& fn);

  // Runs `fn` inside one transaction: BEGIN (SQLite: BEGIN IMMEDIATE, so
  // writers queue on busy_timeout instead of failing a lock upgrade;
  // PostgreSQL: BEGIN at READ COMMITTED, which is enough because every write
  // is a conditional UPDATE on the version), then COMMIT if fn returns OK,
  // ROLLBACK otherwise (or if fn throws).
  //
  // Retries (up to 5 attempts, with jittered back-off) only when the
  // database itself reported a transient conflict - SQLITE_BUSY/LOCKED,
  // PostgreSQL serialization failure or deadlock - during BEGIN, a statement
  // of fn, or COMMIT. A status fn returns for its own reasons (e.g. a stale
  // version, NOT_FOUND) is never retried. `fn` may therefore run more than
  // once: it must not have side effects outside the session.
  //
  // After a statement fails inside the transaction, return its error: on
  // PostgreSQL the transaction accepts no further statements.
  absl::Status InTransaction(const std::function<absl::Status(Session&)>& fn);

 private:
  Database(Dialect dialect, int pool_size,
           std::unique_ptr<soci::connection_pool> pool);

  // One attempt; sets *retryable when the failure came from a transient
  // database conflict.
  absl::Status TransactionOnce(
      const std::function<absl::Status(Session&)>& fn, bool* retryable);

  const Dialect dialect_;
  const int pool_size_;
  std::unique_ptr<soci::connection_pool> pool_;
  // One per connection of pool_, same index; declared after pool_ so that
  // the statements are destroyed before their connections.
  std::vector<std::unique_ptr<StatementCache>> statements_;
};

// `connection` with any password replaced by "***" (for logs and messages).
std::string MaskConnection(absl::string_view connection);

}  // namespace crm::store

#endif  // CRM_STORE_DATABASE_H_
