#include "tests/support/test_database.h"

#include <libpq-fe.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace crm::testing {
namespace {

constexpr char kHowToStart[] =
    "start a throwaway cluster with `tests/pg/pg_cluster.sh start "
    "/tmp/pg-$USER` and `export CRM_TEST_PG_DIR=/tmp/pg-$USER` (ctest does "
    "this itself through the 'pg' fixture)";

// Runs one statement on the cluster's maintenance database.
absl::Status RunAdmin(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to the test PostgreSQL cluster (", conninfo,
        "): ", message, "; is it running? ", kHowToStart));
  }
  PGresult* result = PQexec(conn, sql.c_str());
  absl::Status status;
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    status = absl::InternalError(
        absl::StrCat(sql, " failed: ", PQerrorMessage(conn)));
  }
  PQclear(result);
  PQfinish(conn);
  return status;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat(rng() % 1000000000000ULL);
}

}  // namespace

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "Sqlite" : "Postgres";
}

std::vector<Backend> AllBackends() {
  return {Backend::kSqlite, Backend::kPostgres};
}

absl::StatusOr<std::string> TestDatabase::PostgresClusterConnection() {
  const char* dir = getenv("CRM_TEST_PG_DIR");
  if (dir == nullptr || *dir == '\0') {
    return absl::FailedPreconditionError(absl::StrCat(
        "CRM_TEST_PG_DIR is not set, so PostgreSQL tests cannot run: ",
        kHowToStart));
  }
  const std::string path = absl::StrCat(dir, "/conninfo");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string conninfo(absl::StripAsciiWhitespace(text.str()));
  if (!in || conninfo.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", path, " (CRM_TEST_PG_DIR=", dir,
        "); the PostgreSQL test cluster is not running: ", kHowToStart));
  }
  if (!absl::StartsWith(conninfo, "postgresql:")) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " should hold 'postgresql:<libpq keywords>', has '", conninfo,
        "'"));
  }
  return conninfo;
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create(
    Backend backend) {
  std::unique_ptr<TestDatabase> db(new TestDatabase);
  db->backend_ = backend;
  if (backend == Backend::kSqlite) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "crm-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(
          absl::StrCat("mkdtemp(", pattern, ") failed"));
    }
    db->sqlite_dir_ = pattern;
    db->connection_ = absl::StrCat("sqlite:", pattern, "/crm.db");
    return db;
  }
  absl::StatusOr<std::string> cluster = PostgresClusterConnection();
  if (!cluster.ok()) return cluster.status();
  db->admin_conninfo_ =
      std::string(absl::StripPrefix(*cluster, "postgresql:"));
  const std::string name = absl::StrCat("crm_test_", RandomSuffix());
  absl::Status s =
      RunAdmin(db->admin_conninfo_, absl::StrCat("CREATE DATABASE ", name));
  if (!s.ok()) return s;
  db->pg_database_ = name;
  // libpq uses the last value of a repeated keyword.
  db->connection_ = absl::StrCat(*cluster, " dbname=", name);
  return db;
}

TestDatabase::~TestDatabase() {
  if (!sqlite_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(sqlite_dir_, ec);
  }
  if (!pg_database_.empty()) {
    absl::Status s = RunAdmin(
        admin_conninfo_,
        absl::StrCat("DROP DATABASE IF EXISTS ", pg_database_,
                     " WITH (FORCE)"));
    if (!s.ok()) fprintf(stderr, "TestDatabase: %s\n", s.ToString().c_str());
  }
}

}  // namespace crm::testing
