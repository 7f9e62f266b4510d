#include "store/database.h"

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
#include "soci/connection-pool.h"
#include "soci/postgresql/soci-postgresql.h"
#include "soci/sqlite3/soci-sqlite3.h"
#include "store/soci_util.h"

namespace crm::store {
namespace {

constexpr int kLeaseTimeoutMillis = 30000;
constexpr int kMaxTransactionAttempts = 5;

// Returns the connection back to the pool on scope exit.
class Lease {
 public:
  explicit Lease(soci::connection_pool& pool) : pool_(pool) {
    leased_ = pool_.try_lease(pos_, kLeaseTimeoutMillis);
  }
  ~Lease() {
    if (leased_) pool_.give_back(pos_);
  }
  bool ok() const { return leased_; }
  soci::session& session() { return pool_.at(pos_); }
  size_t position() const { return pos_; }

 private:
  soci::connection_pool& pool_;
  size_t pos_ = 0;
  bool leased_ = false;
};

absl::Status PoolExhausted() {
  return absl::UnavailableError(
      "database connection pool exhausted: no connection became free within "
      "30 s; the server is overloaded or the pool (database pool_size) is too "
      "small");
}

// A PostgreSQL connection that failed is re-established before it goes back
// to the pool, so one outage does not poison the pool for ever.
// Its cached statements belong to the old connection and go first.
void RepairIfBroken(Session& session) {
  if (!session.broken()) return;
  if (session.statements() != nullptr) session.statements()->Clear();
  try {
    session.sql().reconnect();
  } catch (const std::exception& e) {
    LogStoreError(absl::StrCat("reconnect failed: ",
                               MaskConnection(e.what())));
  }
}

absl::Status RunGuarded(const std::function<absl::Status(Session&)>& fn,
                        Session& session) {
  try {
    return fn(session);
  } catch (const std::exception& e) {
    LogStoreError(absl::StrCat("exception escaped a database callback: ",
                               e.what()));
  } catch (...) {
    LogStoreError("unknown exception escaped a database callback");
  }
  return absl::InternalError(
      "internal error in a database operation (details in the server log)");
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
  return absl::OkStatus();
}

}  // namespace

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

Database::Database(Dialect dialect, int pool_size,
                   std::unique_ptr<soci::connection_pool> pool)
    : dialect_(dialect), pool_size_(pool_size), pool_(std::move(pool)) {
  statements_.reserve(pool_size);
  for (int i = 0; i < pool_size; ++i) {
    statements_.push_back(std::make_unique<StatementCache>());
  }
}

Database::~Database() = default;

absl::StatusOr<std::unique_ptr<Database>> Database::Open(
    const std::string& connection, int pool_size) {
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
  if (scheme == "sqlite") {
    dialect = Dialect::kSqlite;
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
    soci_connect = absl::StrCat("db=\"", rest, "\"");
  } else if (scheme == "postgresql") {
    dialect = Dialect::kPostgres;
    // A URI keeps its scheme ("postgresql://..."); keywords are passed as is.
    soci_connect = absl::StartsWith(rest, "//") ? connection : rest;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "database connection '", MaskConnection(connection),
        "' has an unknown scheme; use sqlite:PATH or "
        "postgresql:<libpq keywords> (e.g. postgresql:host=/run/postgresql "
        "dbname=crm user=crm)"));
  }

  auto pool = std::make_unique<soci::connection_pool>(pool_size);
  for (int i = 0; i < pool_size; ++i) {
    soci::session& sql = pool->at(i);
    try {
      if (dialect == Dialect::kSqlite) {
        sql.open(*soci::factory_sqlite3(), soci_connect);
        absl::Status s = ConfigureSqlite(sql);
        if (!s.ok()) return s;
      } else {
        sql.open(*soci::factory_postgresql(), soci_connect);
        // Keep NOTICEs (e.g. "already exists, skipping") out of stderr.
        sql << "SET client_min_messages = warning";
      }
    } catch (const std::exception& e) {
      const auto* soci_e = dynamic_cast<const soci::soci_error*>(&e);
      std::string detail = soci_e != nullptr ? soci_e->get_error_message()
                                             : std::string(e.what());
      return absl::UnavailableError(absl::StrCat(
          "cannot open database '", MaskConnection(connection), "': ",
          MaskConnection(detail)));
    }
  }
  return std::unique_ptr<Database>(
      new Database(dialect, pool_size, std::move(pool)));
}

absl::Status Database::WithSession(
    const std::function<absl::Status(Session&)>& fn) {
  Lease lease(*pool_);
  if (!lease.ok()) return PoolExhausted();
  Session session(lease.session(), dialect_, /*in_transaction=*/false,
                  statements_[lease.position()].get());
  absl::Status status = RunGuarded(fn, session);
  RepairIfBroken(session);
  return status;
}

absl::Status Database::TransactionOnce(
    const std::function<absl::Status(Session&)>& fn, bool* retryable) {
  *retryable = false;
  Lease lease(*pool_);
  if (!lease.ok()) return PoolExhausted();
  Session session(lease.session(), dialect_, /*in_transaction=*/true,
                  statements_[lease.position()].get());
  const char* begin =
      dialect_ == Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN";
  try {
    session.sql() << begin;
  } catch (const std::exception& e) {
    absl::Status s = ToStatus(&session, "starting a transaction", begin, e);
    *retryable = session.retryable();
    RepairIfBroken(session);
    return s;
  }
  absl::Status status = RunGuarded(fn, session);
  if (status.ok()) {
    try {
      session.sql() << "COMMIT";
      if (session.statements() != nullptr) session.statements()->DropRetired();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      status = ToStatus(&session, "committing a transaction", "COMMIT", e);
    }
  }
  try {
    session.sql() << "ROLLBACK";
  } catch (const std::exception& e) {
    // The connection is in an unknown state; rebuild it.
    LogStoreError(absl::StrCat("rollback failed: ", e.what()));
    session.MarkBroken();
  }
  // (A broken connection's statements go in RepairIfBroken.)
  if (!session.broken() && session.statements() != nullptr) {
    session.statements()->DropRetired();
  }
  *retryable = session.retryable();
  RepairIfBroken(session);
  return status;
}

absl::Status Database::InTransaction(
    const std::function<absl::Status(Session&)>& fn) {
  absl::BitGen bitgen;
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    absl::Status status = TransactionOnce(fn, &retryable);
    if (status.ok() || !retryable || attempt >= kMaxTransactionAttempts) {
      return status;
    }
    const int max_millis = 5 << attempt;  // 10, 20, 40, 80 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(
        absl::Uniform(bitgen, max_millis / 2, max_millis + 1)));
  }
}

}  // namespace crm::store
