// The audit trail's writer and storage on both backends: group commit from
// many threads gives one gap-free chain that verifies; several writers
// (several servers on one database) still make one chain; write events
// commit or roll back with their transaction; checkpoints and retention
// keep the remainder verifiable; a caller whose event cannot be written is
// refused (REFUSE) or withdrawn at its deadline (WAIT), never answered with
// its event lost.
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/call_scope.h"
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

class AuditLogTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    MigrateOrFail();
  }

  std::unique_ptr<AuditLog> NewLog(AuditLogOptions options = {},
                                   Database* db = nullptr) {
    return std::make_unique<AuditLog>(db != nullptr ? db : db_.get(), signer_,
                                      options, [] { return absl::Now(); });
  }

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

INSTANTIATE_TEST_SUITE_P(Backends, AuditLogTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
