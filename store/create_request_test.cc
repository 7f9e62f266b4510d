// RecordStore's create requests (AIP-155 request ids, migration 6) on both
// backends: a claim commits and rolls back with the record's insert, an
// expired id is claimed again, concurrent claims of one key leave one
// winner, and pruning deletes only expired rows, at most once per interval.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

using model::ObjectSchema;
using model::Record;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

class CreateRequestTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    store_ = std::make_unique<RecordStore>(db_.get());
  }

  const ObjectSchema &Accounts() {
    return *model::SchemaRegistry::Default().Find("accounts");
  }

  // An account with every field at its default.
  Record Account(const std::string &id) {
    Record r;
    r.id = id;
    r.version = 1;
    for (const model::FieldSchema &f : Accounts().fields()) {
      r.values.push_back(f.kind == model::FieldKind::kString ||
                                 f.kind == model::FieldKind::kEnum
                             ? model::SqlValue(std::string())
                         : f.kind == model::FieldKind::kDouble
                             ? model::SqlValue(0.0)
                             : model::SqlValue(int64_t{0}));
    }
    return r;
  }

  static CreateRequestKey Key(const std::string &request_id = "req-1") {
    return {"admin-cli", "", "accounts", request_id};
  }
  static CreateRequestRow Row(const std::string &record_id, absl::Time at = kT0,
                              const std::string &hash = "h1") {
    return {hash, record_id, absl::ToUnixMicros(at)};
  }

  // Claims `key` and inserts the record in one transaction.
  absl::StatusOr<CreateRequestClaim> ClaimAndInsert(
      const CreateRequestKey &key, const CreateRequestRow &row) {
    CreateRequestClaim claim;
    absl::Status s = db_->InTransaction([&](Session &session) {
      auto c = store_->ClaimCreateRequest(session, key, row);
      if (!c.ok()) return c.status();
      claim = *c;
      if (!c->claimed) return absl::OkStatus();
      return store_->Insert(session, Accounts(), Account(row.record_id));
    });
    if (!s.ok()) return s;
    return claim;
  }

  int64_t Count(const std::string &table) {
    int64_t n = -1;
    absl::Status s = db_->WithSession([&](Session &session) {
      auto r = QueryInt(
          session, {absl::StrCat("SELECT COUNT(*) FROM ", table), {}}, "test");
      if (r.ok()) n = *r;
      return r.status();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  std::unique_ptr<RecordStore> store_;
};

TEST_P(CreateRequestTest, SecondClaimSeesTheFirst) {
  auto first = ClaimAndInsert(Key(), Row("r1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->claimed);
  auto second = ClaimAndInsert(Key(), Row("r2", kT0 + absl::Hours(23), "h2"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->claimed);
  EXPECT_EQ(second->existing.record_id, "r1");
  EXPECT_EQ(second->existing.request_hash, "h1");
  EXPECT_EQ(second->existing.create_time, absl::ToUnixMicros(kT0));
  EXPECT_EQ(Count("accounts"), 1);
  EXPECT_EQ(Count("create_requests"), 1);
}

TEST_P(CreateRequestTest, EveryPartOfTheKeyScopesTheId) {
  ASSERT_TRUE(ClaimAndInsert(Key(), Row("r0")).ok());
  const std::vector<CreateRequestKey> others = {
      {"web-frontend", "", "accounts", "req-1"},
      {"web-frontend", "alice", "accounts", "req-1"},
      {"web-frontend", "bob", "accounts", "req-1"},
      {"admin-cli", "", "contacts", "req-1"},
      {"admin-cli", "", "accounts", "req-2"},
  };
  for (size_t i = 0; i < others.size(); ++i) {
    auto c = ClaimAndInsert(others[i], Row(absl::StrCat("r", i + 1)));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(c->claimed) << i;
  }
  EXPECT_EQ(Count("create_requests"), 1 + static_cast<int64_t>(others.size()));
}

// The id row and the record commit together: a failed insert rolls the
// claim back, so a retry can create the record.
TEST_P(CreateRequestTest, AFailedInsertLeavesNoIdRow) {
  ASSERT_TRUE(store_->Insert(Accounts(), Account("taken")).ok());
  auto failed = ClaimAndInsert(Key(), Row("taken"));
  EXPECT_TRUE(absl::IsAlreadyExists(failed.status())) << failed.status();
  EXPECT_EQ(Count("create_requests"), 0);
  // A failure of the caller's own after the claim rolls it back too.
  absl::Status s = db_->InTransaction([&](Session &session) {
    auto c = store_->ClaimCreateRequest(session, Key(), Row("r1"));
    if (!c.ok()) return c.status();
    EXPECT_TRUE(c->claimed);
    return absl::NotFoundError("a referenced record is missing");
  });
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(Count("create_requests"), 0);

  auto retried = ClaimAndInsert(Key(), Row("r1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->claimed);
  EXPECT_EQ(Count("create_requests"), 1);
  EXPECT_EQ(Count("accounts"), 2);
}

TEST_P(CreateRequestTest, AnExpiredIdIsClaimedAgain) {
  ASSERT_TRUE(ClaimAndInsert(Key(), Row("r1")).ok());
  const absl::Time edge = kT0 + RecordStore::kCreateRequestRetention;
  auto at_edge = ClaimAndInsert(Key(), Row("r2", edge, "h2"));
  ASSERT_TRUE(at_edge.ok()) << at_edge.status();
  EXPECT_FALSE(at_edge->claimed) << "still remembered at exactly 24 h";
  auto later =
      ClaimAndInsert(Key(), Row("r3", edge + absl::Microseconds(1), "h3"));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_TRUE(later->claimed);
  auto replay = ClaimAndInsert(Key(), Row("r4", edge + absl::Hours(1)));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_FALSE(replay->claimed);
  EXPECT_EQ(replay->existing.record_id, "r3");
  EXPECT_EQ(replay->existing.request_hash, "h3");
  EXPECT_EQ(Count("create_requests"), 1);
}

TEST_P(CreateRequestTest, ConcurrentClaimsLeaveOneWinner) {
  constexpr int kThreads = kPoolSize;
  std::atomic<int> ready{0};
  std::vector<absl::StatusOr<CreateRequestClaim>> results(
      kThreads, absl::InternalError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      results[i] = ClaimAndInsert(Key(), Row(absl::StrCat("r", i)));
    });
  }
  for (std::thread &t : threads) t.join();
  int winners = 0;
  std::string winner;
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    if (results[i]->claimed) {
      ++winners;
      winner = absl::StrCat("r", i);
    }
  }
  ASSERT_EQ(winners, 1);
  for (int i = 0; i < kThreads; ++i) {
    if (!results[i]->claimed) {
      EXPECT_EQ(results[i]->existing.record_id, winner) << i;
    }
  }
  EXPECT_EQ(Count("accounts"), 1);
  EXPECT_EQ(Count("create_requests"), 1);
  auto got = store_->Get(Accounts(), winner);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_value());
}

TEST_P(CreateRequestTest, PruneDeletesOnlyExpiredRows) {
  ASSERT_TRUE(ClaimAndInsert(Key("old"), Row("r1", kT0)).ok());
  ASSERT_TRUE(ClaimAndInsert(Key("new"), Row("r2", kT0 + absl::Hours(2))).ok());
  const absl::Time now =
      kT0 + RecordStore::kCreateRequestRetention + absl::Hours(1);
  auto pruned = store_->PruneCreateRequests(now);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(Count("create_requests"), 1);
  // Pruning touches no record.
  EXPECT_EQ(Count("accounts"), 2);
  auto again = ClaimAndInsert(Key("new"), Row("r3", now));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->claimed);
}

TEST_P(CreateRequestTest, PruneIfDueRunsAtMostOncePerInterval) {
  static_assert(RecordStore::kCreateRequestPruneInterval > absl::Seconds(30));
  ASSERT_TRUE(ClaimAndInsert(Key("a"), Row("r1", kT0)).ok());
  ASSERT_TRUE(
      ClaimAndInsert(Key("b"), Row("r2", kT0 + absl::Seconds(10))).ok());
  // "a" has expired at t, "b" 30 s later.
  const absl::Time t =
      kT0 + RecordStore::kCreateRequestRetention + absl::Seconds(1);
  auto first = store_->PruneCreateRequestsIfDue(t);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 1);
  auto skipped = store_->PruneCreateRequestsIfDue(t + absl::Seconds(30));
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(*skipped, 0) << "pruned again within the interval";
  EXPECT_EQ(Count("create_requests"), 1);
  auto due = store_->PruneCreateRequestsIfDue(
      t + RecordStore::kCreateRequestPruneInterval);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_EQ(*due, 1);
  EXPECT_EQ(Count("create_requests"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, CreateRequestTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
