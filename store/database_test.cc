#include "store/database.h"

#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
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
  // SQLite binds by position: the text is kept, the count is the same.
  count = 0;
  EXPECT_EQ(RewritePlaceholders("a = ? AND \"b?\" = '?' OR c IN (?, ?)",
                                &count, BindStyle::kPositional),
            "a = ? AND \"b?\" = '?' OR c IN (?, ?)");
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

TEST_P(DatabaseTest, SqlErrorIsInternalWithAnErrorId) {
  absl::Status s = db_->WithSession([](Session& session) {
    return Execute(session, {"SELECT nope FROM t", {}}, "reading nope")
        .status();
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(s.message(), "error id ")) << s;
}

TEST_P(DatabaseTest, ConstraintViolationsAreClassified) {
  absl::Status s = db_->WithSession([](Session& session) -> absl::Status {
    for (const char* sql :
         {"CREATE TABLE parent (id BIGINT PRIMARY KEY)",
          "CREATE TABLE child (id BIGINT PRIMARY KEY, parent BIGINT NOT NULL "
          "REFERENCES parent (id))",
          "INSERT INTO parent (id) VALUES (1)"}) {
      if (auto r = Execute(session, {sql, {}}, "setting up"); !r.ok()) {
        return r.status();
      }
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  auto insert = [&](const char* sql) {
    return db_->InTransaction([&](Session& session) {
      return Execute(session, {sql, {}}, "inserting").status();
    });
  };
  EXPECT_EQ(insert("INSERT INTO parent (id) VALUES (1)").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(insert("INSERT INTO child (id, parent) VALUES (1, 99)").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(DatabaseTest, MarkedUnavailableFailsFastThenRecoversByItself) {
  absl::Mutex mu;
  std::vector<bool> seen;
  db_->AddAvailabilityListener([&](bool available) {
    absl::MutexLock lock(&mu);
    seen.push_back(available);
  });
  db_->MarkUnavailable("test");
  // The database is really there, so the prober reconnects at once; until
  // it has, calls fail fast. Either way nothing but UNAVAILABLE or OK.
  absl::Status during = db_->WithSession([](Session&) {
    return absl::OkStatus();
  });
  EXPECT_TRUE(during.ok() ||
              during.code() == absl::StatusCode::kUnavailable)
      << during;
  absl::MutexLock lock(&mu);
  auto recovered = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return !seen.empty() && seen.back();
  };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&recovered),
                                  absl::Seconds(30)))
      << "the prober never reconnected";
  EXPECT_EQ(seen.front(), false);
  EXPECT_TRUE(db_->available());
  EXPECT_EQ(CountRows(), 0);  // every pooled connection works again
}

TEST_P(DatabaseTest, StartupGateAdmitsOnlyStartupScopes) {
  db_->SetAdmitting(false);
  EXPECT_EQ(db_->WithSession([](Session&) { return absl::OkStatus(); }).code(),
            absl::StatusCode::kUnavailable);
  {
    Database::StartupScope scope;
    EXPECT_TRUE(
        db_->WithSession([](Session&) { return absl::OkStatus(); }).ok());
  }
  db_->SetAdmitting(true);
  EXPECT_TRUE(db_->WithSession([](Session&) { return absl::OkStatus(); }).ok());
}

// PostgreSQL only: connections the server ends are re-established.
class PostgresConnectionTest : public BackendTest {};

int64_t BackendPid(Database& db) {
  int64_t pid = -1;
  absl::Status s = db.WithSession([&](Session& session) {
    auto r = QueryInt(session, {"SELECT pg_backend_pid()", {}}, "pid");
    if (r.ok()) pid = *r;
    return r.status();
  });
  EXPECT_TRUE(s.ok()) << s;
  return pid;
}

TEST_P(PostgresConnectionTest, TerminatedIdleConnectionIsReopenedOnLease) {
  auto db = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(db.ok()) << db.status();
  const int64_t pid = BackendPid(**db);
  // Another connection ends this one's backend while it sits in the pool.
  absl::Status kill = db_->WithSession([&](Session& session) {
    return Query(session, {"SELECT pg_terminate_backend(?)", {pid}}, "kill")
        .status();
  });
  ASSERT_TRUE(kill.ok()) << kill;
  // pg_terminate_backend only signals: wait until the backend has exited
  // (and so closed its socket), as after a restart.
  int64_t alive = 1;
  for (int i = 0; i < 3000 && alive != 0; ++i) {
    absl::Status s = db_->WithSession([&](Session& session) {
      auto r = QueryInt(
          session,
          {"SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?", {pid}},
          "checking");
      if (r.ok()) alive = *r;
      return r.status();
    });
    ASSERT_TRUE(s.ok()) << s;
    if (alive != 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(alive, 0) << "the terminated backend did not exit";
  // The lease notices the closed socket and reconnects: the very next call
  // succeeds.
  EXPECT_NE(BackendPid(**db), pid);
  EXPECT_TRUE((*db)->available());
}

TEST_P(PostgresConnectionTest, LostConnectionInTransactionIsRetried) {
  auto db = Database::Open(test_db_->connection(), 1);
  ASSERT_TRUE(db.ok()) << db.status();
  int calls = 0;
  absl::Status s = (*db)->InTransaction([&](Session& session) -> absl::Status {
    ++calls;
    if (calls == 1) {
      // The backend of this very transaction is terminated before COMMIT:
      // nothing was committed, so the transaction runs again.
      auto r = Query(session,
                     {"SELECT pg_terminate_backend(pg_backend_pid())", {}},
                     "terminating myself");
      return r.status();
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 2);
}

TEST_P(PostgresConnectionTest, MultiHostStringReachesTheWritableHost) {
  // "postgresql:host=DIR port=N ..." -> a first host that does not exist.
  std::string conn = test_db_->connection();
  const size_t host = conn.find("host=");
  const size_t host_end = conn.find(' ', host);
  const size_t port = conn.find("port=");
  const size_t port_end = conn.find(' ', port);
  ASSERT_NE(host, std::string::npos);
  ASSERT_NE(port, std::string::npos);
  std::string multi = conn;
  multi.replace(port + 5, port_end - port - 5,
                "1," + conn.substr(port + 5, port_end - port - 5));
  const size_t new_host_end = multi.find(' ', host);
  multi.replace(host + 5, new_host_end - host - 5,
                "/nonexistent-crm-dir," +
                    conn.substr(host + 5, host_end - host - 5));
  multi += " target_session_attrs=read-write";
  auto db = Database::Open(multi, 2);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_GT(BackendPid(**db), 0);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresConnectionTest,
                         ::testing::Values(Backend::kPostgres),
                         BackendParamName);

TEST(Database, WaitForDatabaseOpensUnavailable) {
  OpenOptions options;
  options.wait_for_database = true;
  auto db = Database::Open(
      "postgresql:host=/nonexistent-crm-socket-dir port=1 dbname=crm", 1,
      options);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_FALSE((*db)->available());
  absl::Status s = (*db)->WithSession([](Session&) { return absl::OkStatus(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "database")) << s;
}

TEST(Database, SqliteFileIsCreatedPrivate) {
  auto test_db = testing::TestDatabase::Create(Backend::kSqlite);
  ASSERT_TRUE(test_db.ok()) << test_db.status();
  std::string path = (*test_db)->connection().substr(strlen("sqlite:"));
  path += ".private";
  auto db = Database::Open("sqlite:" + path, 1);
  ASSERT_TRUE(db.ok()) << db.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
