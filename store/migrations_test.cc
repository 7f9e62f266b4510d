#include "store/migrations.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "store/audit_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class MigrationsTest : public BackendTest {
 protected:
  absl::Status Run(const std::string& sql) {
    return db_->WithSession([&](Session& session) {
      return Execute(session, {sql, {}}, "test statement").status();
    });
  }
};

TEST(Migrations, VersionsAscendFromOne) {
  int want = 1;
  for (const Migration& m : AllMigrations()) {
    EXPECT_EQ(m.version, want++) << m.description;
  }
}

TEST(Migrations, TextColumnsUseByteOrderOnPostgres) {
  const Migration& first = AllMigrations().front();
  auto pg = MigrationStatements(first, Dialect::kPostgres);
  auto lite = MigrationStatements(first, Dialect::kSqlite);
  ASSERT_EQ(pg.size(), lite.size());
  ASSERT_FALSE(pg.empty());
  EXPECT_TRUE(absl::StrContains(pg[0], "id TEXT COLLATE \"C\" PRIMARY KEY"))
      << pg[0];
  EXPECT_FALSE(absl::StrContains(lite[0], "COLLATE")) << lite[0];
  EXPECT_FALSE(absl::StrContains(lite[0], "{text}")) << lite[0];
}

TEST_P(MigrationsTest, EmptyDatabaseHasVersionZero) {
  auto v = CurrentSchemaVersion(*db_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, 0);
}

TEST_P(MigrationsTest, MigrateThenVerifyMatchesTheProtos) {
  MigrateOrFail();
  absl::Status s = VerifySchema(*db_, model::SchemaRegistry::Default());
  EXPECT_TRUE(s.ok()) << s;
  auto v = CurrentSchemaVersion(*db_);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, AllMigrations().back().version);
}

TEST_P(MigrationsTest, MigrateIsIdempotent) {
  MigrateOrFail();
  MigrateOrFail();
  int64_t rows = -1;
  absl::Status s = db_->WithSession([&](Session& session) {
    auto n = QueryInt(session, {"SELECT COUNT(*) FROM schema_migrations", {}},
                      "counting");
    if (n.ok()) rows = *n;
    return n.status();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(rows, static_cast<int64_t>(AllMigrations().size()));
}

TEST_P(MigrationsTest, RefusesANewerSchema) {
  MigrateOrFail();
  ASSERT_TRUE(Run("INSERT INTO schema_migrations (version, description, "
                  "applied_at) VALUES (999, 'from the future', 0)")
                  .ok());
  absl::Status s = Migrate(*db_);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "999")) << s;
}

TEST_P(MigrationsTest, VerifyNamesAMissingColumn) {
  MigrateOrFail();
  ASSERT_TRUE(Run("ALTER TABLE leads DROP COLUMN lead_source").ok());
  absl::Status s = VerifySchema(*db_, model::SchemaRegistry::Default());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "'leads'")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "'lead_source'")) << s;
}

TEST_P(MigrationsTest, VerifyNamesAMistypedColumn) {
  MigrateOrFail();
  ASSERT_TRUE(Run("ALTER TABLE cases DROP COLUMN origin").ok());
  ASSERT_TRUE(Run("ALTER TABLE cases ADD COLUMN origin BIGINT").ok());
  absl::Status s = VerifySchema(*db_, model::SchemaRegistry::Default());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "cases.origin")) << s;
}

TEST_P(MigrationsTest, VerifyFailsOnAnEmptyDatabase) {
  absl::Status s = VerifySchema(*db_, model::SchemaRegistry::Default());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "does not exist")) << s;
}

// Migration 4: record filters join users by role_id (policy/record_filter.cc).
TEST_P(MigrationsTest, UsersAreIndexedByRole) {
  MigrateOrFail();
  const std::string sql =
      GetParam() == testing::Backend::kPostgres
          ? "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'users' AND "
            "indexname = 'users_role_id_idx' AND indexdef LIKE '%(role_id)'"
          : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
            "tbl_name = 'users' AND name = 'users_role_id_idx' AND "
            "sql LIKE '%(role_id)'";
  absl::StatusOr<int64_t> n = -1;
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                   n = QueryInt(session, {sql, {}}, "test query");
                   return n.status();
                 }).ok())
      << n.status();
  EXPECT_EQ(*n, 1);
}

// One actor's recent events are read through (actor_user, time) on SQLite,
// which keeps no statistics: only that window, not the actor's history.
TEST_P(MigrationsTest, AnActorsRecentAuditEventsUseTheActorTimeIndex) {
  MigrateOrFail();
  if (GetParam() == testing::Backend::kPostgres) {
    // PostgreSQL plans by statistics; check the index exists.
    absl::StatusOr<int64_t> n = -1;
    ASSERT_TRUE(db_->WithSession([&](Session& session) {
                     n = QueryInt(session,
                                  {"SELECT COUNT(*) FROM pg_indexes WHERE "
                                   "indexname = 'audit_events_actor_time_idx'",
                                   {}},
                                  "test query");
                     return n.status();
                   }).ok());
    EXPECT_EQ(*n, 1);
    return;
  }
  absl::StatusOr<std::vector<Row>> plan;
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                   plan = Query(session,
                                {"EXPLAIN QUERY PLAN SELECT sequence FROM "
                                 "audit_events WHERE (actor_user = ?) AND "
                                 "(time >= ?) ORDER BY sequence DESC LIMIT 101",
                                 {std::string("users/u1"), int64_t{5}}},
                                "test query");
                   return plan.status();
                 }).ok())
      << plan.status();
  std::string text;
  for (const Row& row : *plan) {
    for (const auto& v : row) text += model::DebugString(v) + " ";
  }
  EXPECT_NE(text.find("audit_events_actor_time_idx"), std::string::npos)
      << text;
}

// Migration 17 rebuilds SQLite's audit_events around its rowid: the events
// written before it are all there afterwards, in order, and still verify;
// new ones continue the chain.
TEST_P(MigrationsTest, AuditEventsKeepTheirChainWhenRekeyed) {
  ASSERT_TRUE(MigrateTo(*db_, 16).ok());
  auto append = [&](int n) {
    return db_->InTransaction([&](Session& session) {
      std::vector<crm::v1::AuditEvent> events(n);
      for (int i = 0; i < n; ++i) {
        events[i].set_action("records.read");
        events[i].set_actor_user(absl::StrCat("users/u", i));
        events[i].set_resource(absl::StrCat("accounts/a", i));
        events[i].set_outcome(crm::v1::ALLOWED);
        (*events[i].mutable_attributes())["fields"] = "name,industry";
        events[i].mutable_time()->set_seconds(1700000000 + i);
      }
      return AppendAuditEvents(session, &events);
    });
  };
  ASSERT_TRUE(append(37).ok());
  ASSERT_TRUE(Migrate(*db_).ok());
  ASSERT_TRUE(append(5).ok());
  auto verified = VerifyStoredAudit(*db_, {});
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok()) << verified->DebugString();
  EXPECT_EQ(verified->events_verified(), 42) << verified->DebugString();
  if (GetParam() != testing::Backend::kSqlite) return;
  // The sequence is the rowid: no separate key b-tree.
  absl::StatusOr<int64_t> mismatched = -1, key_indexes = -1;
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                   mismatched = QueryInt(
                       session,
                       {"SELECT COUNT(*) FROM audit_events WHERE rowid <> "
                        "sequence",
                        {}},
                       "test query");
                   key_indexes = QueryInt(
                       session,
                       {"SELECT COUNT(*) FROM pragma_index_list("
                        "'audit_events') WHERE origin = 'pk'",
                        {}},
                       "test query");
                   return mismatched.status();
                 }).ok());
  EXPECT_EQ(*mismatched, 0);
  EXPECT_EQ(*key_indexes, 0);
}

TEST_P(MigrationsTest, ConcurrentMigrationsAgree) {
  // Two "replicas" on the same database migrating at once.
  auto other = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status a, b;
  std::thread t([&] { a = Migrate(**other); });
  b = Migrate(*db_);
  t.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  EXPECT_TRUE(VerifySchema(*db_, model::SchemaRegistry::Default()).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
