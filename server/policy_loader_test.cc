// Propagation of a policy change between two servers on one PostgreSQL
// database (server/policy_loader.h): each "server" is its own Database
// pool, PolicyHolder and PolicyLoader, refreshing every HOUR, so the only
// way the second one can see the first one's change in time is the
// notification (LISTEN/NOTIFY). On SQLite (no notifications) the same
// loaders only see it by polling: RefreshOnce.
#include "server/policy_loader.h"

#include <memory>

#include "absl/time/clock.h"
#include "crm/internal/server_config.pb.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "policy/policy_holder.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/policy_store.h"
#include "store/statement.h"
#include "tests/support/test_database.h"

namespace crm::server {
namespace {

// One server's policy machinery on its own pool of `connection`.
struct Replica {
  explicit Replica(const std::string& connection) {
    auto opened = store::Database::Open(connection, 2);
    EXPECT_TRUE(opened.ok()) << opened.status();
    db = *std::move(opened);
    holder = std::make_unique<policy::PolicyHolder>(nullptr);
    loader = std::make_unique<PolicyLoader>(
        db.get(), &config, &model::SchemaRegistry::Default(), holder.get());
    absl::Status s = loader->Reload();
    EXPECT_TRUE(s.ok()) << s;
  }
  ~Replica() { loader->Stop(); }

  // A policy change as a policy write makes it: a new version, committed.
  int64_t Bump() {
    int64_t version = -1;
    absl::Status s = db->InTransaction([&](store::Session& session) {
      auto v = store::PolicyStore(db.get()).BumpPolicyVersion(session);
      if (!v.ok()) return v.status();
      version = *v;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return version;
  }

  crm::internal::ServerConfig config;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<policy::PolicyHolder> holder;
  std::unique_ptr<PolicyLoader> loader;
};

// Waits (up to a minute: a condition, not a timing) until `r` has
// installed `version`.
bool Reaches(const Replica& r, int64_t version) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (absl::Now() < deadline) {
    if (r.loader->version() >= version &&
        r.holder->Current()->version() >= version) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  return false;
}

class PolicyPropagationTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  void SetUp() override {
    auto db = testing::TestDatabase::Create(GetParam());
    ASSERT_TRUE(db.ok()) << db.status();
    test_db_ = *std::move(db);
    auto migrate = store::Database::Open(test_db_->connection(), 1);
    ASSERT_TRUE(migrate.ok()) << migrate.status();
    ASSERT_TRUE(store::Migrate(**migrate).ok());
  }
  std::unique_ptr<testing::TestDatabase> test_db_;
};

TEST_P(PolicyPropagationTest, AChangeReachesTheOtherServer) {
  Replica a(test_db_->connection());
  Replica b(test_db_->connection());
  b.loader->StartRefresh(absl::Hours(1));
  a.loader->StartRefresh(absl::Hours(1));
  if (GetParam() == testing::Backend::kSqlite) {
    // No notifications: B learns of A's change when it polls.
    const int64_t v = a.Bump();
    EXPECT_LT(b.loader->version(), v);
    auto reloaded = b.loader->RefreshOnce();
    ASSERT_TRUE(reloaded.ok()) << reloaded.status();
    EXPECT_TRUE(*reloaded);
    EXPECT_EQ(b.loader->version(), v);
    return;
  }
  // PostgreSQL: B's next poll is an hour away; the notification wakes it.
  for (int i = 0; i < 5; ++i) {
    const int64_t v = a.Bump();
    EXPECT_TRUE(Reaches(b, v)) << "B is still at " << b.loader->version()
                               << ", A committed " << v;
  }
  // And the other way round.
  const int64_t v = b.Bump();
  EXPECT_TRUE(Reaches(a, v));
}

// A database restart kills the listening connection; the loader reopens it
// (and re-reads the state) without a server restart.
TEST_P(PolicyPropagationTest, ListenerSurvivesItsConnectionBeingKilled) {
  if (GetParam() != testing::Backend::kPostgres) GTEST_SKIP() << "PostgreSQL";
  Replica a(test_db_->connection());
  Replica b(test_db_->connection());
  b.loader->StartRefresh(absl::Hours(1));
  ASSERT_TRUE(Reaches(b, a.Bump()));
  // What a database restart does to B's listening connection.
  ASSERT_TRUE(a.db->WithSession([&](store::Session& session) {
                   auto rows = store::Query(
                       session,
                       {"SELECT pg_terminate_backend(pid) FROM "
                        "pg_stat_activity WHERE query = 'LISTEN crm_policy'",
                        {}},
                       "terminating the listeners");
                   return rows.status();
                 }).ok());
  // B reopens at once (its poll is an hour away) and hears the next ones.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Reaches(b, a.Bump()));
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyPropagationTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         [](const auto& info) {
                           return testing::BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::server
