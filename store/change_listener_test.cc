// store/change_listener.h on a real PostgreSQL (and SQLite's refusal): a
// notification is delivered at commit and only at commit, a burst wakes a
// waiter once, Interrupt wakes it at once, a policy version bump notifies
// with the new version, and a listener whose connection is killed reports
// UNAVAILABLE (the caller then reopens and re-reads).
#include "store/change_listener.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "store/migrations.h"
#include "store/policy_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class ChangeListenerTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    MigrateOrFail();
  }

  std::unique_ptr<ChangeListener> Listen(const std::string& channel) {
    auto l = ChangeListener::Open(*db_, channel);
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? *std::move(l) : nullptr;
  }

  absl::Status Notify(const std::string& channel, const std::string& payload,
                      bool commit) {
    absl::Status s = db_->InTransaction([&](Session& session) {
      if (absl::Status n = NotifyAtCommit(session, channel, payload); !n.ok()) {
        return n;
      }
      return commit ? absl::OkStatus() : absl::AbortedError("roll back");
    });
    return commit ? s : absl::OkStatus();
  }
};

TEST_P(ChangeListenerTest, SqliteHasNoNotifications) {
  if (GetParam() != testing::Backend::kSqlite) GTEST_SKIP() << "SQLite only";
  auto l = ChangeListener::Open(*db_, kPolicyChannel);
  EXPECT_EQ(l.status().code(), absl::StatusCode::kUnimplemented);
  // Writers notify unconditionally: a no-op here.
  EXPECT_TRUE(Notify(kPolicyChannel, "1", true).ok());
}

TEST_P(ChangeListenerTest, DeliveredAtCommitOnly) {
  if (GetParam() != testing::Backend::kPostgres) GTEST_SKIP() << "PostgreSQL";
  auto listener = Listen("crm_test");
  ASSERT_NE(listener, nullptr);
  auto idle = listener->Wait(absl::Milliseconds(20));
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_FALSE(*idle);

  // A rolled-back transaction notifies nobody.
  ASSERT_TRUE(Notify("crm_test", "rolled-back", false).ok());
  idle = listener->Wait(absl::Milliseconds(50));
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_FALSE(*idle);

  // A committed one wakes the listener (waiting up to a minute: the
  // delivery is what is tested, not its speed).
  ASSERT_TRUE(Notify("crm_test", "first", true).ok());
  auto woke = listener->Wait(absl::Minutes(1));
  ASSERT_TRUE(woke.ok()) << woke.status();
  EXPECT_TRUE(*woke);
  EXPECT_EQ(listener->last_payload(), "first");

  // A burst is consumed by one wake-up (the newest payload kept) once all
  // of it has arrived; another channel is not heard.
  ASSERT_TRUE(Notify("crm_other", "x", true).ok());
  ASSERT_TRUE(Notify("crm_test", "2", true).ok());
  ASSERT_TRUE(Notify("crm_test", "3", true).ok());
  while (listener->last_payload() != "3") {
    woke = listener->Wait(absl::Minutes(1));
    ASSERT_TRUE(woke.ok()) << woke.status();
    ASSERT_TRUE(*woke);
    ASSERT_NE(listener->last_payload(), "x");
  }
  idle = listener->Wait(absl::Milliseconds(50));
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(*idle);
}

TEST_P(ChangeListenerTest, InterruptWakesAWaiter) {
  if (GetParam() != testing::Backend::kPostgres) GTEST_SKIP() << "PostgreSQL";
  auto listener = Listen(kPolicyChannel);
  ASSERT_NE(listener, nullptr);
  absl::StatusOr<bool> woke = true;
  std::thread waiter([&] { woke = listener->Wait(absl::Hours(1)); });
  listener->Interrupt();
  waiter.join();  // would hang for an hour if Interrupt did not wake it
  ASSERT_TRUE(woke.ok()) << woke.status();
  EXPECT_FALSE(*woke);
}

TEST_P(ChangeListenerTest, PolicyVersionBumpNotifiesTheNewVersion) {
  if (GetParam() != testing::Backend::kPostgres) GTEST_SKIP() << "PostgreSQL";
  auto listener = Listen(kPolicyChannel);
  ASSERT_NE(listener, nullptr);
  PolicyStore policy(db_.get());
  int64_t version = 0;
  ASSERT_TRUE(db_->InTransaction([&](Session& session) {
                   auto v = policy.BumpPolicyVersion(session);
                   if (!v.ok()) return v.status();
                   version = *v;
                   return absl::OkStatus();
                 }).ok());
  while (listener->last_payload() != absl::StrCat(version)) {
    auto woke = listener->Wait(absl::Minutes(1));
    ASSERT_TRUE(woke.ok()) << woke.status();
    ASSERT_TRUE(*woke) << "no notification of version " << version;
  }
}

TEST_P(ChangeListenerTest, KilledConnectionIsUnavailable) {
  if (GetParam() != testing::Backend::kPostgres) GTEST_SKIP() << "PostgreSQL";
  auto listener = Listen("crm_killed");
  ASSERT_NE(listener, nullptr);
  // Terminate the listener's backend (the only session LISTENing on it)
  // as an administrator or a database restart would.
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                   auto rows = Query(
                       session,
                       {"SELECT pg_terminate_backend(pid) FROM "
                        "pg_stat_activity WHERE query = 'LISTEN crm_killed'",
                        {}},
                       "terminating the listener");
                   if (!rows.ok()) return rows.status();
                   return rows->size() == 1
                              ? absl::OkStatus()
                              : absl::InternalError("listener not found");
                 }).ok());
  absl::StatusOr<bool> woke = false;
  for (int i = 0; i < 600 && woke.ok(); ++i) {
    woke = listener->Wait(absl::Milliseconds(100));
  }
  EXPECT_EQ(woke.status().code(), absl::StatusCode::kUnavailable)
      << woke.status();
  // A new listener works.
  auto again = Listen("crm_killed");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(Notify("crm_killed", "back", true).ok());
  auto back = again->Wait(absl::Minutes(1));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back);
}

INSTANTIATE_TEST_SUITE_P(Backends, ChangeListenerTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
