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

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace soci {
class backend_factory;
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

// How Database::Open behaves when the database cannot be reached.
struct OpenOptions {
  // false: Open fails with UNAVAILABLE (tools, `crm_server migrate`).
  // true: Open succeeds with the database marked unavailable; every call
  // fails fast with UNAVAILABLE until the background prober connects (a
  // server started before its database).
  bool wait_for_database = false;
  // Bounds of the prober's jittered exponential back-off between connection
  // attempts while the database is unavailable. The server serves again
  // within max_backoff (plus one connection set-up) of the database
  // accepting connections.
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(1);
};

// Surviving database outages (PostgreSQL restarts, failovers, killed
// connections), in one place:
//   - Every error is classified once (soci_util.h Classify/ToStatus): a lost
//     connection is UNAVAILABLE and marks that pooled connection for
//     reconnection; the connection is re-established before its next use
//     (its cached statements are dropped first).
//   - A lease checks its connection before handing it out (PostgreSQL: a
//     non-blocking poll of the socket; a backend that was terminated while
//     the connection sat idle has closed it), so a restart while the pool is
//     idle costs no failed call once the database is back.
//   - When a reconnection fails the database is marked unavailable: calls
//     fail fast with UNAVAILABLE (no connection attempt per call), a single
//     prober thread retries with jittered, bounded back-off for as long as
//     it takes, and availability listeners (the server's health status) are
//     told. When the prober connects, every pooled connection is
//     re-established on its next lease.
//   - InTransaction retries a transaction whose connection was lost before
//     COMMIT was sent (nothing was committed; fn is already required to be
//     re-runnable). A connection lost during COMMIT is UNAVAILABLE and never
//     retried: the outcome is unknown (clients use Create's request_id).
//   - Multi-host libpq strings ("host=a,b target_session_attrs=read-write")
//     reconnect to whichever host is writable, so a failover looks like a
//     restart. A PostgreSQL string without connect_timeout gets
//     connect_timeout=5, so no attempt hangs on an unreachable host.
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
  // UNAVAILABLE when a connection cannot be made (unless
  // options.wait_for_database), FAILED_PRECONDITION when SQLite cannot use
  // WAL. A new SQLite file is created with mode 0600 (it holds password
  // hashes). Messages never contain a password.
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& connection, int pool_size,
      const OpenOptions& options = {});

  // Stops the prober.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const { return dialect_; }
  int pool_size() const { return pool_size_; }
  // The driver's connection string (for store/change_listener.h's own
  // connection). May hold a password: never log it.
  const std::string& driver_connection() const { return soci_connect_; }

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

  // For metrics: connections leased right now, leases that found every
  // connection busy and waited, and database errors of every class since
  // start (store/soci_util.h ToStatus; process-wide).
  struct PoolStats {
    int in_use = 0;
    int64_t waits = 0;
    int64_t errors = 0;
  };
  PoolStats pool_stats() const;

  // False while the database is marked unavailable (see the class comment).
  bool available() const { return available_.load(std::memory_order_acquire); }

  // Called with the new availability on every change (from the thread that
  // noticed it: a caller's, or the prober). Calls are serialized and always
  // carry the state current at the time of the call, so the last call a
  // listener sees is the current state. Listeners must be cheap, must not
  // call back into this Database, and must outlive it (or the Database
  // must be destroyed first). Register before serving.
  void AddAvailabilityListener(std::function<void(bool available)> listener);

  // Admission of calls, for a server that must finish its start-up
  // (migrations, policy) before serving: while closed, WithSession and
  // InTransaction fail with UNAVAILABLE ("not ready"), except on a thread
  // inside a StartupScope. Open by default.
  void SetAdmitting(bool admitting) {
    admitting_.store(admitting, std::memory_order_release);
  }
  class StartupScope {
   public:
    StartupScope();
    ~StartupScope();
    StartupScope(const StartupScope&) = delete;
    StartupScope& operator=(const StartupScope&) = delete;
  };

  // Marks the database unavailable with `reason` (for the log) and starts
  // the prober. Store code calls this when a connection cannot be
  // re-established; exposed for tests.
  void MarkUnavailable(absl::string_view reason);

 private:
  struct PooledConnection;

  Database(Dialect dialect, int pool_size, std::string soci_connect,
           const soci::backend_factory* factory, const OpenOptions& options,
           std::unique_ptr<soci::connection_pool> pool);

  // Leases a connection and makes sure it is connected; *pos is its index.
  absl::Status Acquire(size_t* pos);
  void Release(size_t pos, bool broken);
  // (Re)opens the connection at `pos`; fails with UNAVAILABLE.
  absl::Status Reconnect(size_t pos);
  absl::Status Admit() const;

  // One attempt; sets *retryable when the failure came from a transient
  // database conflict or a connection lost before COMMIT.
  absl::Status TransactionOnce(
      const std::function<absl::Status(Session&)>& fn, bool* retryable);

  void ProbeLoop();
  void NotifyListeners();

  const Dialect dialect_;
  const int pool_size_;
  const std::string soci_connect_;
  const soci::backend_factory* const factory_;
  const OpenOptions options_;
  std::unique_ptr<soci::connection_pool> pool_;
  // One per connection of pool_, same index: touched only by the holder of
  // that connection's lease. Declared after pool_ so that the statements
  // are destroyed before their connections.
  std::vector<std::unique_ptr<PooledConnection>> connections_;

  std::atomic<bool> available_{true};
  std::atomic<bool> admitting_{true};
  // Bumped each time the database is marked unavailable: a connection
  // opened in an older generation is re-established before its next use.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> in_use_{0};
  std::atomic<int64_t> waits_{0};

  absl::Mutex mu_;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string down_reason_ ABSL_GUARDED_BY(mu_);
  absl::Time down_since_ ABSL_GUARDED_BY(mu_);
  std::thread prober_;

  absl::Mutex listeners_mu_;
  std::vector<std::function<void(bool)>> listeners_
      ABSL_GUARDED_BY(listeners_mu_);
};

// `connection` with any password replaced by "***" (for logs and messages).
std::string MaskConnection(absl::string_view connection);

}  // namespace crm::store

#endif  // CRM_STORE_DATABASE_H_
