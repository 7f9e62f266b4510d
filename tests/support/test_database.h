// Fresh, empty databases for tests, on both backends.
//
// SQLite: a new file in a new temporary directory. PostgreSQL: a new
// database (crm_test_<random>) in the throwaway cluster whose connection
// info is in $CRM_TEST_PG_DIR/conninfo (ctest's "pg" fixture starts it; by
// hand: tests/pg/pg_cluster.sh start /tmp/pg-me && export
// CRM_TEST_PG_DIR=/tmp/pg-me). Without a cluster Create(kPostgres) fails:
// PostgreSQL tests must fail, not skip.
//
// Thread-safety: a TestDatabase is one object per test; Create is
// thread-safe.
#ifndef CRM_TESTS_SUPPORT_TEST_DATABASE_H_
#define CRM_TESTS_SUPPORT_TEST_DATABASE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::testing {

enum class Backend { kSqlite, kPostgres };

// "Sqlite" / "Postgres" (usable as a gtest parameter name).
std::string BackendName(Backend backend);
std::vector<Backend> AllBackends();

class TestDatabase {
 public:
  // FAILED_PRECONDITION (with instructions) if the PostgreSQL cluster is not
  // configured, UNAVAILABLE if it cannot be reached.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create(Backend backend);

  // Drops the database / deletes the directory (best effort).
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  Backend backend() const { return backend_; }
  // A connection string for store::Database::Open: "sqlite:/tmp/.../crm.db"
  // or "postgresql:host=... port=... user=postgres dbname=crm_test_...".
  const std::string& connection() const { return connection_; }

  // The PostgreSQL cluster's connection string (libpq keywords with the
  // "postgresql:" prefix) from $CRM_TEST_PG_DIR/conninfo.
  static absl::StatusOr<std::string> PostgresClusterConnection();

 private:
  TestDatabase() = default;

  Backend backend_ = Backend::kSqlite;
  std::string connection_;
  std::string sqlite_dir_;     // SQLite only
  std::string admin_conninfo_;  // PostgreSQL only: libpq keywords
  std::string pg_database_;     // PostgreSQL only
};

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_TEST_DATABASE_H_
