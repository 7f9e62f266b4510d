#include "store/database.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "store/soci_util.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

using testing::Backend;

TEST(Database, RejectsUnknownScheme) {
  auto db = Database::Open("mysql:host=x password=hunter2", 1);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(db.status().message(), "unknown scheme"))
      << db.status();
  EXPECT_FALSE(absl::StrContains(db.status().message(), "hunter2"))
      << db.status();
}

TEST(Database, RejectsBadPoolSizeAndEmptyPath) {
  EXPECT_EQ(Database::Open("sqlite:/tmp/x.db", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Database::Open("sqlite:", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Database, UnreachablePostgresIsUnavailableWithoutPassword) {
  auto db = Database::Open(
      "postgresql:host=/nonexistent-crm-socket-dir port=1 dbname=crm "
      "user=crm password=s3cr3t connect_timeout=2",
      1);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
  EXPECT_TRUE(absl::StrContains(db.status().message(), "cannot open database"))
      << db.status();
  EXPECT_FALSE(absl::StrContains(db.status().message(), "s3cr3t"))
      << db.status();
}

TEST(Database, SqliteCreatesParentDirectory) {
  auto test_db = testing::TestDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(test_db.ok()) << test_db.status();
  std::string connection = (*test_db)->connection();
  connection.insert(connection.rfind('/'), "/a/b");
  auto db = Database::Open(connection, 2);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->dialect(), Dialect::kSqlite);
}

TEST(Database, SqliteConnectionsAreConfigured) {
  auto test_db = testing::TestDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(test_db.ok()) << test_db.status();
  auto db = Database::Open((*test_db)->connection(), 3);
  ASSERT_TRUE(db.ok()) << db.status();
  // Lease every pooled connection at once by nesting is not allowed, so check
  // a few sequential leases (the pool hands out each connection in turn).
  for (int i = 0; i < 3; ++i) {
    absl::Status s = (*db)->WithSession([](Session& session) -> absl::Status {
      auto rows = Query(session, {"PRAGMA journal_mode", {}}, "pragma");
      if (!rows.ok()) return rows.status();
      EXPECT_EQ(*rows, (std::vector<Row>{{std::string("wal")}}));
      EXPECT_EQ(QueryInt(session, {"PRAGMA busy_timeout", {}}, "pragma")
                    .value_or(0),
                10000);
      EXPECT_EQ(QueryInt(session, {"PRAGMA foreign_keys", {}}, "pragma")
                    .value_or(0),
                1);
      EXPECT_EQ(QueryInt(session, {"PRAGMA synchronous", {}}, "pragma")
                    .value_or(0),
                1);  // NORMAL
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  }
  EXPECT_TRUE(std::filesystem::exists(
      (*test_db)->connection().substr(std::string("sqlite:").size())));
}

TEST(MaskConnection, HidesPasswords) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"postgresql:host=h password=abc user=u",
       "postgresql:host=h password=*** user=u"},
      {"postgresql:host=h PASSWORD = 'a b\\'c' user=u",
       "postgresql:host=h PASSWORD = *** user=u"},
      {"postgresql://crm:topsecret@db.local/crm",
       "postgresql://crm:***@db.local/crm"},
      {"postgresql://db.local/crm?password=x&sslmode=require",
       "postgresql://db.local/crm?password=***&sslmode=require"},
      {"sqlite:/var/lib/crm.db", "sqlite:/var/lib/crm.db"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MaskConnection(c.in), c.want) << "input: " << c.in;
  }
}

TEST(RewritePlaceholders, NumbersQuestionMarksOutsideQuotes) {
  size_t count = 0;
  EXPECT_EQ(RewritePlaceholders("a = ? AND \"b?\" = '?' OR c IN (?, ?)",
                                &count),
            "a = :p0 AND \"b?\" = '?' OR c IN (:p1, :p2)");
  EXPECT_EQ(count, 3u);
}

class DatabaseTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    absl::Status s = db_->WithSession([](Session& session) {
      return Execute(session, {"CREATE TABLE t (k BIGINT, v TEXT)", {}},
                     "creating t")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  int64_t CountRows() {
    int64_t n = -1;
    absl::Status s = db_->WithSession([&](Session& session) {
      auto r = QueryInt(session, {"SELECT COUNT(*) FROM t", {}}, "counting");
      if (r.ok()) n = *r;
      return r.status();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  absl::Status InsertRow(Session& session, int64_t k) {
    return Execute(session, {"INSERT INTO t (k, v) VALUES (?, ?)", {k, "x"}},
                   "inserting")
        .status();
  }
};

TEST_P(DatabaseTest, CommitsWhenCallbackSucceeds) {
  absl::Status s =
      db_->InTransaction([&](Session& session) { return InsertRow(session, 1); });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(CountRows(), 1);
}

TEST_P(DatabaseTest, RollsBackAndDoesNotRetryCallbackErrors) {
  int calls = 0;
  absl::Status s = db_->InTransaction([&](Session& session) {
    ++calls;
    absl::Status i = InsertRow(session, 1);
    if (!i.ok()) return i;
    return absl::AbortedError("stale version");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "stale version");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(CountRows(), 0);
}

TEST_P(DatabaseTest, ExceptionInCallbackRollsBackAsInternal) {
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    absl::Status i = InsertRow(session, 1);
    if (!i.ok()) return i;
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(CountRows(), 0);
}

TEST_P(DatabaseTest, SqlErrorIsInternalWithoutValues) {
  absl::Status s = db_->WithSession([](Session& session) {
    return Execute(session,
                   {"INSERT INTO no_such_table (k) VALUES (?)", {"secret-v"}},
                   "inserting into nowhere")
        .status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(s.message(), "inserting into nowhere")) << s;
  EXPECT_FALSE(absl::StrContains(s.message(), "secret-v")) << s;
}

TEST_P(DatabaseTest, PlaceholderCountMismatchIsInternal) {
  absl::Status s = db_->WithSession([](Session& session) {
    return Execute(session, {"INSERT INTO t (k) VALUES (?)", {}}, "inserting")
        .status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
}

TEST_P(DatabaseTest, QueryReturnsTypedValuesAndNull) {
  absl::Status s = db_->WithSession([](Session& session) -> absl::Status {
    auto r = Execute(session,
                     {"INSERT INTO t (k, v) VALUES (?, ?), (?, ?)",
                      {int64_t{9007199254740993}, "ünï", int64_t{-1},
                       std::monostate{}}},
                     "inserting");
    if (!r.ok()) return r.status();
    EXPECT_EQ(*r, 2);
    auto rows = Query(session, {"SELECT k, v FROM t ORDER BY k", {}}, "reading");
    if (!rows.ok()) return rows.status();
    EXPECT_EQ(rows->size(), 2u);
    if (rows->size() != 2) return absl::OkStatus();
    EXPECT_EQ((*rows)[0], (Row{int64_t{-1}, std::monostate{}}));
    EXPECT_EQ((*rows)[1], (Row{int64_t{9007199254740993}, std::string("ünï")}));
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// Two transactions update rows r1 and r2 in opposite orders. On PostgreSQL
// they deadlock and the victim (40P01) must be retried transparently; on
// SQLite BEGIN IMMEDIATE serialises them. Either way both commit.
TEST_P(DatabaseTest, RetriesTransientConflicts) {
  absl::Status s = db_->WithSession([](Session& session) {
    return Execute(session,
                   {"INSERT INTO t (k, v) VALUES (0, 'r1'), (0, 'r2')", {}},
                   "seeding")
        .status();
  });
  ASSERT_TRUE(s.ok()) << s;
  std::atomic<int> arrived{0};
  std::atomic<int> calls{0};
  auto increment = [](Session& session, const char* row) {
    return Execute(session, {"UPDATE t SET k = k + 1 WHERE v = ?", {row}},
                   "incrementing")
        .status();
  };
  auto run = [&](const char* first, const char* second) {
    bool waited = false;
    return db_->InTransaction([&](Session& session) {
      ++calls;
      absl::Status u = increment(session, first);
      if (!u.ok()) return u;
      if (!waited) {  // meet the other transaction once, for up to 2 s
        waited = true;
        ++arrived;
        for (int i = 0; i < 200 && arrived.load() < 2; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
      return increment(session, second);
    });
  };
  absl::Status a, b;
  std::thread other([&] { a = run("r1", "r2"); });
  b = run("r2", "r1");
  other.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  if (GetParam() == Backend::kPostgres) {
    EXPECT_EQ(calls.load(), 3) << "the deadlock victim should run twice";
  }
  absl::Status check = db_->WithSession([](Session& session) -> absl::Status {
    auto rows = Query(session, {"SELECT k FROM t ORDER BY v", {}}, "reading");
    if (!rows.ok()) return rows.status();
    EXPECT_EQ(*rows, (std::vector<Row>{{int64_t{2}}, {int64_t{2}}}));
    return absl::OkStatus();
  });
  EXPECT_TRUE(check.ok()) << check;
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
