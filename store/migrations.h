// Schema migrations: numbered, written by hand (the SQL is the contract for
// the column mapping in model/object_schema.h), applied in order, each in
// its own transaction, and recorded in
//   schema_migrations(version BIGINT PRIMARY KEY, description TEXT,
//                     applied_at BIGINT)   -- applied_at: Unix microseconds
//
// Adding a field to resources.proto needs a new migration adding its column;
// VerifySchema (run by the server at start-up and by store_test on both
// backends) fails until it exists.
#ifndef CRM_STORE_MIGRATIONS_H_
#define CRM_STORE_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "store/database.h"

namespace crm::store {

// One schema step. The statements run are sql_common followed by the text
// for the database's dialect; statements are separated by ';' (the SQL must
// not contain ';' inside literals). In all three texts "{text}" stands for
// the text column type: TEXT COLLATE "C" on PostgreSQL (byte order, the same
// as SQLite's BINARY collation, which the in-memory policy evaluator
// assumes) and TEXT on SQLite.
struct Migration {
  int version;
  std::string description;
  std::string sql_common;
  std::string sql_postgres;
  std::string sql_sqlite;
};

// Every migration this binary knows, in ascending version order (1, 2, ...).
const std::vector<Migration>& AllMigrations();

// The statements `migration` runs on `dialect`, placeholders expanded.
std::vector<std::string> MigrationStatements(const Migration& migration,
                                             Dialect dialect);

// Brings the database to the newest known version. Safe to run
// concurrently from several processes: on PostgreSQL each step first takes
// a transaction-scoped advisory lock; on SQLite BEGIN IMMEDIATE serialises
// writers. Idempotent. Fails with FAILED_PRECONDITION if the database has a
// version newer than this binary knows (an older binary must not write to
// a newer schema).
absl::Status Migrate(Database& db);

// Brings the database to `version` (no further), as Migrate does. For tests
// of a migration that moves data: fill a database at the version before it,
// then Migrate.
absl::Status MigrateTo(Database& db, int version);

// The highest applied version; 0 for an empty database. Creates the
// (empty) schema_migrations table if it is missing.
absl::StatusOr<int> CurrentSchemaVersion(Database& db);

// Checks that every resource in `registry` has its table with an "id" and
// "version" column and one column per stored field, of the mapped type (and,
// on PostgreSQL, text columns with collation "C"). Fails with
// FAILED_PRECONDITION naming the first missing or mistyped column.
absl::Status VerifySchema(Database& db, const model::SchemaRegistry& registry);

}  // namespace crm::store

#endif  // CRM_STORE_MIGRATIONS_H_
