#include "store/database.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <system_error>
#include <thread>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "soci/connection-pool.h"
#include "soci/postgresql/soci-postgresql.h"
#include "soci/sqlite3/soci-sqlite3.h"
#include "store/soci_util.h"

namespace crm::store {
namespace {

constexpr int kLeaseTimeoutMillis = 30000;
constexpr int kMaxTransactionAttempts = 5;

thread_local int startup_scopes = 0;

absl::Status PoolExhausted() {
  return UnavailableDetails(
      absl::UnavailableError(
          "database connection pool exhausted: no connection became free "
          "within 30 s; the server is overloaded or the pool (database "
          "pool_size) is too small"),
      "pool_exhausted");
}

absl::Status DatabaseUnavailable() {
  return UnavailableDetails(
      absl::UnavailableError(
          "the CRM database is unavailable; retry later (the server "
          "reconnects by itself)"),
      "unavailable");
}

absl::Status RunGuarded(const std::function<absl::Status(Session&)>& fn,
                        Session& session) {
  try {
    return fn(session);
  } catch (const std::exception& e) {
    return InternalErrorWithId(
        "a database operation",
        absl::StrCat("exception escaped a database callback: ", e.what()));
  } catch (...) {
    return InternalErrorWithId(
        "a database operation",
        "unknown exception escaped a database callback");
  }
}

absl::Status ConfigureSqlite(soci::session& sql) {
  sql << "PRAGMA busy_timeout = 10000";
  std::string mode;
  sql << "PRAGMA journal_mode = WAL", soci::into(mode);
  if (absl::AsciiStrToLower(mode) != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        "sqlite: could not switch the database to WAL journal mode (got '",
        mode, "'); is it on a file system without shared memory support?"));
  }
  sql << "PRAGMA foreign_keys = ON";
  sql << "PRAGMA synchronous = NORMAL";
  // Deleted and overwritten content is zeroed, not left in free space: an
  // erased person's values (records/privacy.h) must not survive in the
  // file's bytes.
  sql << "PRAGMA secure_delete = ON";
  return absl::OkStatus();
}

// Opens `sql` (closing whatever it held) and configures it. Throws what
// SOCI throws; FAILED_PRECONDITION from ConfigureSqlite is returned.
absl::Status OpenSession(soci::session& sql, Dialect dialect,
                         const soci::backend_factory& factory,
                         const std::string& connect) {
  if (sql.get_backend() != nullptr) sql.close();
  sql.open(factory, connect);
  if (dialect == Dialect::kSqlite) return ConfigureSqlite(sql);
  // What the server sends outside a statement's result (a WARNING, or the
  // FATAL of a backend being terminated) goes to the one JSON log, not to
  // libpq's default of plain text on stderr.
  PGconn* conn =
      static_cast<soci::postgresql_session_backend*>(sql.get_backend())->conn_;
  if (conn != nullptr) {
    PQsetNoticeProcessor(
        conn,
        [](void*, const char* message) {
          LogStoreEvent("store.server_message",
                        {{"message", std::string(absl::StripTrailingAsciiWhitespace(
                                         message))}});
        },
        nullptr);
  }
  // Keep NOTICEs (e.g. "already exists, skipping") out of the log.
  sql << "SET client_min_messages = warning";
  return absl::OkStatus();
}

std::string ExceptionDetail(const std::exception& e) {
  const auto* soci_e = dynamic_cast<const soci::soci_error*>(&e);
  return MaskConnection(soci_e != nullptr ? soci_e->get_error_message()
                                          : std::string(e.what()));
}

// True if an idle PostgreSQL connection was closed by the server (a
// restart, pg_terminate_backend, an idle timeout): the server sends its
// FATAL message and closes the socket, which makes it readable. Costs one
// poll(2) with a zero timeout. SQLite connections are never "dead".
bool IdleConnectionIsDead(soci::session& sql) {
  if (sql.get_backend() == nullptr) return true;
  // (Debian's libsoci does not export the backend's typeinfo: no
  // dynamic_cast; the backend name says what it is.)
  if (sql.get_backend_name() != "postgresql") return false;
  PGconn* conn =
      static_cast<soci::postgresql_session_backend*>(sql.get_backend())->conn_;
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) return true;
  const int fd = PQsocket(conn);
  if (fd < 0) return true;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;  // nothing to read: alive
  // An idle connection has nothing to say unless it is being closed: the
  // server sends its FATAL message first and closes the socket a moment
  // later, so at this instant libpq may still report CONNECTION_OK (this
  // raced in CI). The pool never LISTENs, so anything readable means the
  // connection is ending: reopen it. A reopen is cheap next to a failed call.
  return true;
}

// libpq waits for ever on an unreachable host unless told otherwise.
std::string WithConnectTimeout(std::string connect) {
  if (absl::StartsWith(connect, "postgresql://") ||
      absl::StartsWith(connect, "postgres://")) {
    if (!absl::StrContains(connect, "connect_timeout")) {
      absl::StrAppend(&connect,
                      absl::StrContains(connect, "?") ? "&" : "?",
                      "connect_timeout=5");
    }
    return connect;
  }
  if (!absl::StrContains(connect, "connect_timeout")) {
    absl::StrAppend(&connect, " connect_timeout=5");
  }
  return connect;
}

// SQLite creates the file with the process umask: create it 0600 first
// (it holds password hashes and every record). An existing file keeps its
// mode (an operator may have chosen another).
absl::Status CreatePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                        S_IRUSR | S_IWUSR);
  if (fd >= 0) {
    ::close(fd);
    return absl::OkStatus();
  }
  if (errno == EEXIST) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "sqlite: cannot create database file '", path,
      "': ", std::generic_category().message(errno)));
}

}  // namespace

struct Database::PooledConnection {
  StatementCache statements;
  // Must be (re)opened before its next use: never opened, lost, or opened
  // before the last outage (generation).
  bool needs_open = true;
  uint64_t generation = 0;
};

Database::StartupScope::StartupScope() { ++startup_scopes; }
Database::StartupScope::~StartupScope() { --startup_scopes; }

absl::string_view DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kSqlite:
      return "sqlite";
    case Dialect::kPostgres:
      return "postgres";
  }
  return "unknown";
}

std::string MaskConnection(absl::string_view connection) {
  std::string out(connection);
  // Keyword form: password=secret, password = 'sec ret'.
  size_t pos = 0;
  while (true) {
    pos = absl::AsciiStrToLower(out).find("password", pos);
    if (pos == std::string::npos) break;
    size_t i = pos + 8;
    pos = i;
    while (i < out.size() && out[i] == ' ') ++i;
    if (i >= out.size() || out[i] != '=') continue;
    ++i;
    while (i < out.size() && out[i] == ' ') ++i;
    size_t end = i;
    if (end < out.size() && out[end] == '\'') {
      ++end;
      while (end < out.size() && out[end] != '\'') {
        if (out[end] == '\\') ++end;
        ++end;
      }
      if (end < out.size()) ++end;
    } else {
      while (end < out.size() && out[end] != ' ' && out[end] != '&') ++end;
    }
    end = std::min(end, out.size());
    out.replace(i, end - i, "***");
    pos = i + 3;
  }
  // URI form: scheme://user:secret@host.
  const size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const size_t at = out.find('@', scheme + 3);
    const size_t colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  return out;
}

Database::Database(Dialect dialect, int pool_size, std::string soci_connect,
                   const soci::backend_factory* factory,
                   const OpenOptions& options,
                   std::unique_ptr<soci::connection_pool> pool)
    : dialect_(dialect),
      pool_size_(pool_size),
      soci_connect_(std::move(soci_connect)),
      factory_(factory),
      options_(options),
      pool_(std::move(pool)) {
  connections_.reserve(pool_size);
  for (int i = 0; i < pool_size; ++i) {
    connections_.push_back(std::make_unique<PooledConnection>());
  }
}

Database::~Database() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (prober_.joinable()) prober_.join();
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& connection, int pool_size, const OpenOptions& options) {
  if (pool_size < 1 || pool_size > 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database pool size must be between 1 and 1000, got ", pool_size));
  }
  const size_t colon = connection.find(':');
  const std::string scheme =
      colon == std::string::npos ? "" : connection.substr(0, colon);
  std::string rest = colon == std::string::npos ? connection
                                                : connection.substr(colon + 1);
  Dialect dialect;
  std::string soci_connect;
  const soci::backend_factory* factory = nullptr;
  if (scheme == "sqlite") {
    dialect = Dialect::kSqlite;
    factory = soci::factory_sqlite3();
    if (rest.empty()) {
      return absl::InvalidArgumentError(
          "database connection 'sqlite:' needs a file path, e.g. "
          "sqlite:/var/lib/crm/crm.db");
    }
    std::filesystem::path parent = std::filesystem::path(rest).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("sqlite: cannot create directory '", parent.string(),
                       "': ", ec.message()));
    }
    if (absl::Status s = CreatePrivateFile(rest); !s.ok()) return s;
    soci_connect = absl::StrCat("db=\"", rest, "\"");
  } else if (scheme == "postgresql") {
    dialect = Dialect::kPostgres;
    factory = soci::factory_postgresql();
    // A URI keeps its scheme ("postgresql://..."); keywords are passed as is.
    soci_connect =
        WithConnectTimeout(absl::StartsWith(rest, "//") ? connection : rest);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "database connection '", MaskConnection(connection),
        "' has an unknown scheme; use sqlite:PATH or "
        "postgresql:<libpq keywords> (e.g. postgresql:host=/run/postgresql "
        "dbname=crm user=crm)"));
  }

  auto pool = std::make_unique<soci::connection_pool>(pool_size);
  std::unique_ptr<Database> db(new Database(dialect, pool_size, soci_connect,
                                            factory, options,
                                            std::move(pool)));
  // Open the first connection now: a wrong path or password is reported at
  // start-up. The others open on first use.
  absl::Status first = db->Reconnect(0);
  if (!first.ok()) {
    if (first.code() != absl::StatusCode::kUnavailable ||
        !options.wait_for_database) {
      return absl::Status(first.code(),
                          absl::StrCat("cannot open database '",
                                       MaskConnection(connection),
                                       "': ", first.message()));
    }
    db->MarkUnavailable(first.message());
  }
  return db;
}

absl::Status Database::Reconnect(size_t pos) {
  PooledConnection& conn = *connections_[pos];
  conn.statements.Clear();  // they belong to the old connection
  conn.needs_open = true;
  conn.generation = generation_.load(std::memory_order_acquire);
  soci::session& sql = pool_->at(pos);
  try {
    if (absl::Status s = OpenSession(sql, dialect_, *factory_, soci_connect_);
        !s.ok()) {
      return s;
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(ExceptionDetail(e));
  }
  conn.needs_open = false;
  return absl::OkStatus();
}

absl::Status Database::Admit() const {
  if (!admitting_.load(std::memory_order_acquire) && startup_scopes == 0) {
    return UnavailableDetails(
        absl::UnavailableError(
            "the server is not ready: it is waiting for its database or still "
            "starting; retry later"),
        "starting");
  }
  if (!available()) return DatabaseUnavailable();
  return absl::OkStatus();
}

absl::Status Database::Acquire(size_t* pos) {
  if (absl::Status s = Admit(); !s.ok()) return s;
  if (!pool_->try_lease(*pos, 0)) {
    waits_.fetch_add(1, std::memory_order_relaxed);
    if (!pool_->try_lease(*pos, kLeaseTimeoutMillis)) return PoolExhausted();
  }
  in_use_.fetch_add(1, std::memory_order_relaxed);
  PooledConnection& conn = *connections_[*pos];
  if (!conn.needs_open &&
      conn.generation == generation_.load(std::memory_order_acquire) &&
      !IdleConnectionIsDead(pool_->at(*pos))) {
    return absl::OkStatus();
  }
  absl::Status s = Reconnect(*pos);
  if (s.ok()) return s;
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  pool_->give_back(*pos);
  if (s.code() != absl::StatusCode::kUnavailable) return s;
  MarkUnavailable(s.message());
  return DatabaseUnavailable();
}

void Database::Release(size_t pos, bool broken) {
  if (broken) {
    PooledConnection& conn = *connections_[pos];
    conn.statements.Clear();
    conn.needs_open = true;
    // Tell a lost connection from a lost database now, so that the next
    // calls fail fast instead of each trying to connect.
    absl::Status s = Reconnect(pos);
    if (!s.ok()) {
      LogStoreError(absl::StrCat("reconnect failed: ", s.message()));
      if (s.code() == absl::StatusCode::kUnavailable) {
        MarkUnavailable(s.message());
      }
    }
  }
  in_use_.fetch_sub(1, std::memory_order_relaxed);
  pool_->give_back(pos);
}

Database::PoolStats Database::pool_stats() const {
  return {in_use_.load(std::memory_order_relaxed),
          waits_.load(std::memory_order_relaxed), DatabaseErrorCount()};
}

void Database::MarkUnavailable(absl::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    if (down_ || stopping_) return;
    down_ = true;
    down_reason_ = std::string(reason);
    down_since_ = absl::Now();
    generation_.fetch_add(1, std::memory_order_acq_rel);
    available_.store(false, std::memory_order_release);
    if (!prober_.joinable()) prober_ = std::thread([this] { ProbeLoop(); });
  }
  LogStoreEvent("database.unavailable",
                {{"reason", std::string(reason)},
                 {"action", "failing calls with UNAVAILABLE; reconnecting"}});
  NotifyListeners();
}

void Database::ProbeLoop() {
  absl::BitGen bitgen;
  absl::Duration backoff = options_.initial_backoff;
  int attempts = 0;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return down_ || stopping_;
      };
      mu_.Await(absl::Condition(&wake));
      if (stopping_) return;
    }
    // Full jitter in [backoff/2, backoff]: replicas that lost the same
    // database do not reconnect in lock step.
    const absl::Duration wait =
        backoff * absl::Uniform(bitgen, 0.5, 1.0);
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait)) return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
    ++attempts;
    std::string error;
    try {
      soci::session probe;
      absl::Status s = OpenSession(probe, dialect_, *factory_, soci_connect_);
      if (s.ok()) {
        int one = 0;
        probe << "SELECT 1", soci::into(one);
      } else {
        error = std::string(s.message());
      }
    } catch (const std::exception& e) {
      error = ExceptionDetail(e);
    }
    if (!error.empty()) {
      // Log the first failure and then every 30th (about every 30 s at the
      // 1 s back-off cap): enough for the operator, not a flood.
      if (attempts == 1 || attempts % 30 == 0) {
        LogStoreEvent("database.reconnect_failed",
                      {{"attempts", absl::StrCat(attempts)}, {"error", error}});
      }
      continue;
    }
    absl::Duration outage;
    {
      absl::MutexLock lock(&mu_);
      down_ = false;
      outage = absl::Now() - down_since_;
      available_.store(true, std::memory_order_release);
    }
    LogStoreEvent("database.available",
                  {{"attempts", absl::StrCat(attempts)},
                   {"outage", absl::FormatDuration(outage)}});
    backoff = options_.initial_backoff;
    attempts = 0;
    NotifyListeners();
  }
}

void Database::AddAvailabilityListener(std::function<void(bool)> listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.push_back(std::move(listener));
}

void Database::NotifyListeners() {
  absl::MutexLock lock(&listeners_mu_);
  const bool now = available();
  for (const auto& listener : listeners_) listener(now);
}

absl::Status Database::WithSession(
    const std::function<absl::Status(Session&)>& fn) {
  size_t pos = 0;
  if (absl::Status s = Acquire(&pos); !s.ok()) return s;
  Session session(pool_->at(pos), dialect_, /*in_transaction=*/false,
                  &connections_[pos]->statements);
  absl::Status status = RunGuarded(fn, session);
  Release(pos, session.broken());
  return status;
}

absl::Status Database::TransactionOnce(
    const std::function<absl::Status(Session&)>& fn, bool* retryable) {
  *retryable = false;
  size_t pos = 0;
  if (absl::Status s = Acquire(&pos); !s.ok()) return s;
  Session session(pool_->at(pos), dialect_, /*in_transaction=*/true,
                  &connections_[pos]->statements);
  const char* begin =
      dialect_ == Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN";
  absl::Status status;
  try {
    session.sql() << begin;
  } catch (const std::exception& e) {
    status = ToStatus(&session, "starting a transaction", begin, e);
  }
  if (status.ok()) {
    status = RunGuarded(fn, session);
    if (status.ok()) {
      try {
        session.sql() << "COMMIT";
        session.statements()->DropRetired();
        Release(pos, /*broken=*/false);
        return absl::OkStatus();
      } catch (const std::exception& e) {
        status = ToStatus(&session, "committing a transaction", "COMMIT", e);
        // Lost during COMMIT: the outcome is unknown, so never retried.
        if (session.broken()) {
          Release(pos, /*broken=*/true);
          return status;
        }
      }
    }
    if (!session.broken()) {
      try {
        session.sql() << "ROLLBACK";
      } catch (const std::exception& e) {
        // The connection is in an unknown state; rebuild it.
        LogStoreError(absl::StrCat("rollback failed: ", ExceptionDetail(e)));
        session.MarkBroken();
      }
    }
  }
  // (A broken connection's statements go when it is reconnected.)
  if (!session.broken()) session.statements()->DropRetired();
  // A connection lost before COMMIT committed nothing: run fn again on a
  // fresh connection if the database is still there.
  *retryable = session.retryable() || session.broken();
  Release(pos, session.broken());
  if (*retryable && !available()) *retryable = false;
  return status;
}

absl::Status Database::InTransaction(
    const std::function<absl::Status(Session&)>& fn) {
  absl::BitGen bitgen;
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    absl::Status status = TransactionOnce(fn, &retryable);
    if (status.ok() || !retryable || attempt >= kMaxTransactionAttempts) {
      if (status.code() == absl::StatusCode::kAborted &&
          attempt >= kMaxTransactionAttempts) {
        // Reworded, with its details (CONCURRENT_MODIFICATION) kept.
        return base::WithMessage(
            status, absl::StrCat(status.message(), " (gave up after ",
                                 attempt, " attempts)"));
      }
      return status;
    }
    const int max_millis = 5 << attempt;  // 10, 20, 40, 80 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(
        absl::Uniform(bitgen, max_millis / 2, max_millis + 1)));
  }
}

}  // namespace crm::store
