// The audit trail's writer and storage on both backends: group commit from
// many threads gives one gap-free chain that verifies; several writers
// (several servers on one database) still make one chain; write events
// commit or roll back with their transaction; checkpoints and retention
// keep the remainder verifiable; a caller whose event cannot be written is
// refused (REFUSE) or withdrawn at its deadline (WAIT), never answered with
// its event lost. With a spool: calls are answered before the commit, every
// event arrives, and what a killed process left is replayed once.
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/call_scope.h"
#include "audit/chain.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "store/audit_log.h"
#include "store/audit_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

crm::v1::AuditEvent Event(const std::string& action, int i) {
  crm::v1::AuditEvent e;
  e.set_action(action);
  e.set_resource(absl::StrCat("accounts/a", i));
  e.set_outcome(crm::v1::ALLOWED);
  return e;
}

// Events of different shapes, so that a reused message that held one shape
// is refilled with another: every third one bare, the others with changes
// (values or not), attributes, a country, a refusal.
crm::v1::AuditEvent Varied(int i) {
  crm::v1::AuditEvent e = Event(i % 2 == 0 ? "records.update" : "login", i);
  *e.mutable_time() = audit::TimeFromMicros(1700000000000000 + i * 1000003);
  if (i % 3 == 0) return e;
  e.set_request_id(absl::StrCat("req-", i));
  e.set_actor_user(absl::StrCat("users/u", i % 7));
  e.set_actor_service("services/web");
  e.set_client_address(absl::StrCat("ipv4:10.0.0.", i % 250, ":4242"));
  if (i % 2 == 0) {
    e.set_country("DE");
    auto* c = e.add_changes();
    c->set_field("industry");
    c->set_before("\"Retail\"");
    c->set_after(absl::StrCat("\"Banking ", i, "\""));
    c->set_values_recorded(true);
    if (i % 4 == 0) e.add_changes()->set_field("phone");
  } else {
    e.set_outcome(crm::v1::DENIED);
    e.set_reason("profile 'Office' allows 10.0.0.0/8");
    (*e.mutable_attributes())["username"] = absl::StrCat("user", i);
    if (i % 5 == 1) (*e.mutable_attributes())["mfa"] = "none";
  }
  return e;
}

class AuditLogTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    MigrateOrFail();
  }

  std::unique_ptr<AuditLog> NewLog(AuditLogOptions options = {},
                                   Database* db = nullptr,
                                   std::unique_ptr<AuditSpool> spool = nullptr) {
    return std::make_unique<AuditLog>(db != nullptr ? db : db_.get(), signer_,
                                      options, [] { return absl::Now(); },
                                      std::move(spool));
  }

  // A fresh spool directory (removed with the test).
  std::string SpoolDir() {
    std::string pattern = ::testing::TempDir() + "/audit-spool-XXXXXX";
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    spool_dirs_.push_back(pattern);
    return pattern;
  }
  std::unique_ptr<AuditSpool> OpenSpool(const std::string& dir) {
    auto spool = AuditSpool::Open(dir);
    EXPECT_TRUE(spool.ok()) << spool.status();
    return spool.ok() ? *std::move(spool) : nullptr;
  }
  void TearDown() override {
    for (const auto& d : spool_dirs_) std::filesystem::remove_all(d);
    BackendTest::TearDown();
  }

  // The actions of the stored events, in chain order.
  std::vector<std::string> Actions() {
    std::vector<std::string> out;
    EXPECT_TRUE(db_->WithSession([&](Session& session) -> absl::Status {
                     auto events = ReadAuditEvents(session, 0, 100000);
                     if (!events.ok()) return events.status();
                     for (const auto& e : *events) out.push_back(e.action());
                     return absl::OkStatus();
                   }).ok());
    return out;
  }
  std::vector<std::string> spool_dirs_;

  // Verifies everything stored, as VerifyAuditLog does.
  crm::v1::AuditVerification VerifyAll() {
    auto result = VerifyStoredAudit(*db_, {signer_.public_key()}, 50);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : crm::v1::AuditVerification();
  }

  int64_t Count() {
    int64_t n = -1;
    EXPECT_TRUE(db_->WithSession([&](Session& session) -> absl::Status {
                     auto c = QueryInt(session,
                                       {"SELECT COUNT(*) FROM audit_events", {}},
                                       "counting");
                     if (!c.ok()) return c.status();
                     n = *c;
                     return absl::OkStatus();
                   }).ok());
    return n;
  }

  // Appends Varied(1..n) to `db` in transactions of 40 with a signed
  // checkpoint after each.
  void AppendVaried(Database& db, int n) {
    for (int first = 1; first <= n; first += 40) {
      ASSERT_TRUE(db.InTransaction([&](Session& session) -> absl::Status {
                       std::vector<crm::v1::AuditEvent> events;
                       for (int i = first; i < first + 40 && i <= n; ++i) {
                         events.push_back(Varied(i));
                       }
                       absl::Status s = AppendAuditEvents(session, &events);
                       if (!s.ok()) return s;
                       crm::v1::AuditCheckpoint c;
                       c.set_sequence(events.back().sequence());
                       c.set_hash(events.back().hash());
                       *c.mutable_time() = events.back().time();
                       c.set_key_id(signer_.public_key().key_id());
                       c.set_signature(
                           signer_.Sign(audit::CheckpointMessage(c)));
                       return InsertAuditCheckpoint(session, c);
                     }).ok());
    }
  }

  void Tamper(Database& db, const std::string& sql) {
    absl::Status s = db.WithSession([&](Session& session) {
      return Execute(session, {sql, {}}, "tampering").status();
    });
    ASSERT_TRUE(s.ok()) << s << "\n" << sql;
  }

  audit::Signer signer_ = audit::Signer::Generate();
};

TEST_P(AuditLogTest, GroupCommitFromManyThreadsMakesOneChain) {
  auto log = NewLog();
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      audit::CallInfo info;
      info.request_id = absl::StrCat("r", t);
      info.actor_service = "services/web";
      audit::ScopedCall scope(&info);
      for (int i = 0; i < kEach; ++i) {
        auto e = Event("records.read", t * kEach + i);
        audit::FillFromCall(&e);
        if (!log->Record(e, absl::Now() + absl::Seconds(30)).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Count(), kThreads * kEach);
  ASSERT_TRUE(log->Checkpoint().ok());
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), kThreads * kEach);
  EXPECT_EQ(result.checkpoints_verified(), 1);
}

TEST_P(AuditLogTest, WriteEventsCommitAndRollBackWithTheirTransaction) {
  auto log = NewLog();
  ASSERT_TRUE(db_->InTransaction([&](Session& session) {
                  return log->AppendInTransaction(
                      session, {Event("records.create", 1)});
                }).ok());
  absl::Status failed = db_->InTransaction([&](Session& session) {
    absl::Status s =
        log->AppendInTransaction(session, {Event("records.create", 2)});
    if (!s.ok()) return s;
    return absl::AbortedError("the write itself failed");
  });
  EXPECT_TRUE(absl::IsAborted(failed));
  ASSERT_TRUE(db_->InTransaction([&](Session& session) {
                  return log->AppendInTransaction(
                      session, {Event("records.create", 3)});
                }).ok());
  EXPECT_EQ(Count(), 2);
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), 2) << "no gap where the rollback was";
}

TEST_P(AuditLogTest, SeveralWritersOnOneDatabaseMakeOneChain) {
  // Two servers: two pools, two logs, writing at once.
  auto other_db = Database::Open(test_db_->connection(), 4);
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  auto a = NewLog();
  auto b = NewLog({}, other_db->get());
  std::thread ta([&] {
    for (int i = 0; i < 60; ++i) {
      ASSERT_TRUE(a->Record(Event("a", i), absl::Now() + absl::Seconds(30)).ok());
    }
  });
  std::thread tb([&] {
    for (int i = 0; i < 60; ++i) {
      ASSERT_TRUE((*other_db)->InTransaction([&](Session& session) {
                      return b->AppendInTransaction(session, {Event("b", i)});
                    }).ok());
    }
  });
  ta.join();
  tb.join();
  EXPECT_EQ(Count(), 120);
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  b.reset();
}

TEST_P(AuditLogTest, RetentionKeepsTheRestVerifiable) {
  auto log = NewLog();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(log->Record(Event("x", i), absl::Now() + absl::Seconds(30)).ok());
  }
  ASSERT_TRUE(log->Checkpoint().ok());
  for (int i = 10; i < 15; ++i) {
    ASSERT_TRUE(log->Record(Event("x", i), absl::Now() + absl::Seconds(30)).ok());
  }
  auto removed = log->Prune(absl::Now() + absl::Hours(1));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 10) << "up to the newest checkpoint only";
  EXPECT_EQ(Count(), 5);
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), 5);
  // Nothing older than the cutoff: nothing removed.
  auto again = log->Prune(absl::Now() - absl::Hours(1));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

TEST_P(AuditLogTest, AnOutageFailsServedCallsFastAndKeepsRefusalsQueued) {
  auto log = NewLog();
  db_->MarkUnavailable("test");
  const absl::Time start = absl::Now();
  absl::Status s = log->Record(Event("read", 1), absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << "fails fast";
  // A refusal's event is queued and written once the database is back.
  ASSERT_TRUE(log->Enqueue(Event("refused", 2), absl::Now() + absl::Seconds(5)).ok());
  // The prober reconnects (the database never really went away).
  while (!db_->available()) absl::SleepFor(absl::Milliseconds(20));
  while (Count() != 1) absl::SleepFor(absl::Milliseconds(20));
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
}

TEST_P(AuditLogTest, WithASpoolCallsAreAnsweredBeforeTheCommitAndAllArrive) {
  const std::string dir = SpoolDir();
  auto log = NewLog({}, nullptr, OpenSpool(dir));
  log->ReplaySpool();
  // Hold the chain head: nothing can be committed, yet calls are answered.
  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    ASSERT_TRUE(db_->InTransaction([&](Session& session) -> absl::Status {
                    absl::Status s =
                        log->AppendInTransaction(session, {Event("held", 0)});
                    holding = true;
                    while (!release) absl::SleepFor(absl::Milliseconds(5));
                    return s;
                  }).ok());
  });
  while (!holding) absl::SleepFor(absl::Milliseconds(5));
  std::vector<std::thread> callers;
  std::atomic<int> answered{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        absl::Status s = (i % 5 == 0)
                             ? log->Enqueue(Event("refused", t * 100 + i),
                                            absl::Now() + absl::Seconds(30))
                             : log->Record(Event("read", t * 100 + i),
                                           absl::Now() + absl::Seconds(30));
        EXPECT_TRUE(s.ok()) << s;
        ++answered;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(answered.load(), 200) << "answered while the head was held";
  EXPECT_EQ(Count(), 0) << "nothing was committed yet";
  release = true;
  holder.join();
  while (Count() != 201) absl::SleepFor(absl::Milliseconds(20));
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  log.reset();
  // Everything is in the database: nothing is left for the next start, and
  // the progress rows of removed files are gone.
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename() != "LOCK") left.push_back(e.path().string());
  }
  EXPECT_TRUE(left.empty()) << left.front();
}

TEST_P(AuditLogTest, WhatAKilledProcessLeftInTheSpoolIsReplayedOnce) {
  const std::string dir = SpoolDir();
  {
    // A process appended five events and was killed after committing the
    // first three (the commit moved the progress; the file stayed).
    auto spool = OpenSpool(dir);
    std::vector<SpoolPosition> at;
    for (int i = 1; i <= 5; ++i) {
      at.push_back(*spool->Append(Event(absl::StrCat("e", i), i)));
    }
    ASSERT_TRUE(db_->InTransaction([&](Session& session) -> absl::Status {
                     std::vector<crm::v1::AuditEvent> first;
                     for (int i = 1; i <= 3; ++i) {
                       first.push_back(Event(absl::StrCat("e", i), i));
                     }
                     absl::Status s = AppendAuditEvents(session, &first);
                     if (!s.ok()) return s;
                     return SetSpoolProgress(session, at[2].file, at[2].end);
                   }).ok());
  }
  auto log = NewLog({}, nullptr, OpenSpool(dir));
  ASSERT_TRUE(log->Record(Event("new", 6), absl::Now() + absl::Seconds(30)).ok());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(Count(), 3) << "spooled events wait for ReplaySpool (migrations)";
  log->ReplaySpool();
  while (Count() != 6) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(Actions(), (std::vector<std::string>{"e1", "e2", "e3", "e4", "e5",
                                                 "new"}))
      << "e1-e3 once, then the rest in the spool's order";
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
  log.reset();
  int64_t rows = -1;
  ASSERT_TRUE(db_->WithSession([&](Session& session) -> absl::Status {
                   auto n = QueryInt(
                       session,
                       {"SELECT COUNT(*) FROM audit_spool_progress", {}},
                       "counting");
                   if (!n.ok()) return n.status();
                   rows = *n;
                   return absl::OkStatus();
                 }).ok());
  EXPECT_EQ(rows, 1) << "the replayed file's row is gone; the last file's "
                        "row stays until a later batch removes it";
}

TEST_P(AuditLogTest, RefuseModeRefusesWhenTheQueueIsFull) {
  AuditLogOptions options;
  options.when_behind = AuditLogOptions::WhenBehind::kRefuse;
  options.max_pending = 1;
  auto log = NewLog(options);
  // Hold the head so nothing is written; fill the queue.
  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    ASSERT_TRUE(db_->InTransaction([&](Session& session) -> absl::Status {
                    absl::Status s =
                        log->AppendInTransaction(session, {Event("held", 0)});
                    holding = true;
                    while (!release) absl::SleepFor(absl::Milliseconds(5));
                    return s;
                  }).ok());
  });
  while (!holding) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(log->Enqueue(Event("a", 1), absl::Now() + absl::Seconds(5)).ok());
  while (log->in_flight() != 1) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(log->Enqueue(Event("b", 2), absl::Now() + absl::Seconds(5)).ok());
  absl::Status s = log->Record(Event("c", 3), absl::Now() + absl::Seconds(5));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("behind"), absl::string_view::npos) << s;
  release = true;
  holder.join();
  while (Count() != 3) absl::SleepFor(absl::Milliseconds(20));
}

TEST_P(AuditLogTest, WaitModeWithdrawsAnEventWhoseCallGaveUp) {
  auto log = NewLog();
  // Hold the chain head so the writer cannot take anything further: a
  // transaction appending stays open while the caller's deadline passes.
  std::atomic<bool> holding{false}, release{false};
  std::thread holder([&] {
    ASSERT_TRUE(db_->InTransaction([&](Session& session) -> absl::Status {
                    absl::Status s = log->AppendInTransaction(
                        session, {Event("held", 0)});
                    holding = true;
                    while (!release) absl::SleepFor(absl::Milliseconds(5));
                    return s;
                  }).ok());
  });
  while (!holding) absl::SleepFor(absl::Milliseconds(5));
  // The writer takes the first event and blocks on the head; the second
  // waits in the queue and is withdrawn at its deadline.
  std::thread first([&] {
    EXPECT_TRUE(log->Record(Event("first", 1), absl::Now() + absl::Milliseconds(200)).ok())
        << "taken events are waited for, whatever the deadline";
  });
  while (log->in_flight() != 1) absl::SleepFor(absl::Milliseconds(5));
  absl::Status second =
      log->Record(Event("second", 2), absl::Now() + absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsUnavailable(second)) << second;
  release = true;
  holder.join();
  first.join();
  EXPECT_EQ(Count(), 2) << "held + first; second was withdrawn";
  auto result = VerifyAll();
  EXPECT_TRUE(result.ok()) << result.problem();
}

// ReadAuditEventsInto refills the messages it is given: each chunk read into
// one reused vector equals the same events read fresh, whatever the
// messages held before (changes, attributes and strings of another shape).
TEST_P(AuditLogTest, ReadingIntoAReusedVectorGivesTheSameEvents) {
  AppendVaried(*db_, 50);
  std::vector<crm::v1::AuditEvent> fresh;
  ASSERT_TRUE(db_->WithSession([&](Session& session) -> absl::Status {
                   auto all = ReadAuditEvents(session, 0, 1000);
                   if (!all.ok()) return all.status();
                   fresh = *std::move(all);
                   return absl::OkStatus();
                 }).ok());
  ASSERT_EQ(fresh.size(), 50u);
  for (int i = 1; i <= 50; ++i) {
    crm::v1::AuditEvent want = Varied(i);
    want.set_sequence(i);
    want.set_previous_hash(fresh[i - 1].previous_hash());
    want.set_hash(fresh[i - 1].hash());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        fresh[i - 1], want))
        << "event " << i << " read back as\n" << fresh[i - 1].DebugString()
        << "written as\n" << want.DebugString();
  }
  // Chunks of 4 and of 3: every slot is refilled with another shape, and
  // the last, shorter chunk drops the slots it does not use.
  for (int chunk : {4, 3}) {
    std::vector<crm::v1::AuditEvent> reused;
    int64_t after = 0;
    for (;;) {
      absl::Status s = db_->WithSession([&](Session& session) {
        return ReadAuditEventsInto(session, after, chunk, &reused);
      });
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_LE(reused.size(), static_cast<size_t>(chunk));
      for (const crm::v1::AuditEvent& e : reused) {
        ASSERT_EQ(e.sequence(), ++after);
        EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
            e, fresh[after - 1]))
            << "chunks of " << chunk << ", event " << after << ":\n"
            << e.DebugString() << "instead of\n"
            << fresh[after - 1].DebugString();
      }
      if (reused.size() < static_cast<size_t>(chunk)) break;
    }
    EXPECT_EQ(after, 50);
  }
}

// VerifyStoredAudit reads chunk n+1 while chunk n is hashed, into two
// reused buffers: tampering anywhere, at a chunk's edge too, is still
// reported at the first event that does not verify, and why.
TEST_P(AuditLogTest, VerificationAcrossChunksNamesTheFirstTamperedEvent) {
  struct Case {
    std::string name;
    std::vector<std::string> sql;
    int64_t first_bad;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"an edit mid-chunk",
       {"UPDATE audit_events SET reason = 'owner' WHERE sequence = 77"},
       77,
       "edited"},
      {"an edit of the first event of a chunk, and a later one",
       {"UPDATE audit_events SET attributes = '' WHERE sequence = 101",
        "UPDATE audit_events SET actor_user = 'users/x' WHERE sequence = 130"},
       101,
       "edited"},
      {"a change removed",
       {"UPDATE audit_events SET changes = '' WHERE sequence = 52"},
       52,
       "edited"},
      {"attributes added to an event that had none",
       {"UPDATE audit_events SET attributes = '{\"attributes\":{\"username\":"
        "\"root\"}}' WHERE sequence = 51"},
       51,
       "edited"},
      {"the last event of a chunk deleted",
       {"DELETE FROM audit_events WHERE sequence = 100"},
       100,
       "missing"},
      {"two events swapped across a chunk's edge",
       {"UPDATE audit_events SET sequence = -1 WHERE sequence = 50",
        "UPDATE audit_events SET sequence = 50 WHERE sequence = 51",
        "UPDATE audit_events SET sequence = 51 WHERE sequence = -1"},
       50,
       "edited"},
      {"the tail removed",
       {"DELETE FROM audit_events WHERE sequence > 150"},
       151,
       "truncated"},
  };
  AppendVaried(*db_, 160);
  auto clean = VerifyAll();  // chunks of 50
  ASSERT_TRUE(clean.ok()) << clean.problem();
  ASSERT_EQ(clean.events_verified(), 160);
  ASSERT_EQ(clean.checkpoints_verified(), 4);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Each case on a fresh chain in a database of its own.
    auto test_db = testing::TestDatabase::Create(GetParam());
    ASSERT_TRUE(test_db.ok()) << test_db.status();
    auto db = Database::Open((*test_db)->connection(), 2);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE(Migrate(**db).ok());
    AppendVaried(**db, 160);
    for (const std::string& sql : c.sql) Tamper(**db, sql);
    auto result = VerifyStoredAudit(**db, {signer_.public_key()}, 50);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->ok());
    EXPECT_EQ(result->first_bad_sequence(), c.first_bad) << result->problem();
    EXPECT_TRUE(absl::StrContains(result->problem(), c.problem))
        << result->problem();
    db->reset();  // before its database is dropped
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditLogTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
