#include "store/identity_store.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "store/policy_store.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

class IdentityStoreTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    store_ = std::make_unique<IdentityStore>(db_.get());
    ProfileRow p;
    p.id = "sales";
    p.name = "Sales Rep";
    p.allowed_ip_ranges = "127.0.0.0/8\n::1/128";
    p.allowed_countries = "DE,FR";
    p.login_hours = "mon-fri 08:00-18:00";
    p.login_time_zone = "Europe/Berlin";
    p.system_permissions = "export";
    ASSERT_TRUE(store_->CreateProfile(p).ok());
    UserRow u;
    u.id = "u1";
    u.username = "bob";
    u.display_name = "Bob Example";
    u.profile_id = "sales";
    u.time_zone = "Europe/London";
    u.password_hash = "$argon2id$dummy";
    u.create_time = 10;
    ASSERT_TRUE(store_->CreateUser(u).ok());
  }

  int64_t PolicyVersion() {
    auto v = PolicyStore(db_.get()).PolicyVersion();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  }

  UserRow Bob() {
    auto up = store_->FindUserById("u1");
    EXPECT_TRUE(up.ok() && up->has_value());
    return (up.ok() && up->has_value()) ? (*up)->user : UserRow();
  }

  std::unique_ptr<IdentityStore> store_;
};

TEST_P(IdentityStoreTest, CreatesBumpThePolicyVersion) {
  // Migration 3 starts at 1; the fixture created a profile and a user.
  EXPECT_EQ(PolicyVersion(), 3);
  ProfileRow p;
  p.id = "other";
  p.name = "Sales Rep";  // taken
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateProfile(p)));
  EXPECT_EQ(PolicyVersion(), 3) << "a refused write bumps nothing";
}

TEST_P(IdentityStoreTest, UpdateUserIsConditionalAndBumpsThePolicyVersion) {
  const int64_t before = PolicyVersion();
  UserRow u = Bob();
  u.display_name = "Robert";
  u.active = false;
  u.role_id = "rep";
  u.time_zone = "UTC";
  u.update_time = 99;
  u.password_hash = "must not be written";
  auto ok = store_->UpdateUser(u, 1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(*ok);
  EXPECT_EQ(PolicyVersion(), before + 1);
  UserRow got = Bob();
  EXPECT_EQ(got.display_name, "Robert");
  EXPECT_FALSE(got.active);
  EXPECT_EQ(got.role_id, "rep");
  EXPECT_EQ(got.time_zone, "UTC");
  EXPECT_EQ(got.update_time, 99);
  EXPECT_EQ(got.version, 2);
  EXPECT_EQ(got.password_hash, "$argon2id$dummy");
  EXPECT_EQ(got.create_time, 10);

  u.display_name = "Stale";
  auto stale = store_->UpdateUser(u, 1);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(*stale);
  EXPECT_EQ(Bob().display_name, "Robert");
  EXPECT_EQ(PolicyVersion(), before + 1) << "a stale write bumps nothing";

  u.id = "nobody";
  auto gone = store_->UpdateUser(u, 1);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
}

TEST_P(IdentityStoreTest, SessionFormsRunInTheCallersTransaction) {
  const int64_t before = PolicyVersion();
  PolicyStore policy(db_.get());
  absl::Status s = db_->InTransaction([&](Session& session) -> absl::Status {
    auto v = policy.BumpPolicyVersion(session);
    if (!v.ok()) return v.status();
    UserRow u = Bob();
    u.display_name = "Inside";
    auto ok = store_->UpdateUser(session, u, u.version);
    if (!ok.ok()) return ok.status();
    EXPECT_TRUE(*ok);
    return absl::FailedPreconditionError("roll back");
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(Bob().display_name, "Bob Example") << "rolled back";
  EXPECT_EQ(PolicyVersion(), before);
}

TEST_P(IdentityStoreTest, DeleteUserRemovesTheUserAndTheirSessions) {
  ASSERT_TRUE(
      store_->InsertSession({"h1", "u1", "web-frontend", 1, 1, 1000, false})
          .ok());
  const int64_t before = PolicyVersion();
  auto stale = store_->DeleteUser("u1", 7);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(*stale);
  auto done = store_->DeleteUser("u1", 1);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  EXPECT_EQ(PolicyVersion(), before + 1);
  auto up = store_->FindUserById("u1");
  ASSERT_TRUE(up.ok());
  EXPECT_FALSE(up->has_value());
  auto session = store_->FindSession("h1");
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE(session->has_value()) << "sessions go with their user";
}

TEST_P(IdentityStoreTest, ProfilesUpdateListAndDelete) {
  ProfileRow p;
  p.id = "admins";
  p.name = "Administrators";
  p.system_permissions = "manage_users";
  ASSERT_TRUE(store_->CreateProfile(p).ok());
  auto list = store_->ListProfiles("", 10);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "admins");
  EXPECT_EQ((*list)[1].id, "sales");
  list = store_->ListProfiles("admins", 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);

  p.name = "Sales Rep";  // another profile's name
  auto taken = store_->UpdateProfile(p, 1);
  EXPECT_TRUE(absl::IsAlreadyExists(taken.status())) << taken.status();
  p.name = "Admins";
  p.allowed_countries = "DE";
  p.login_hours = "mon 09:00-10:00";
  auto ok = store_->UpdateProfile(p, 1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(*ok);
  auto got = store_->FindProfileById("admins");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "Admins");
  EXPECT_EQ((*got)->allowed_countries, "DE");
  EXPECT_EQ((*got)->login_hours, "mon 09:00-10:00");
  EXPECT_EQ((*got)->version, 2);
  auto stale = store_->UpdateProfile(p, 1);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);

  // "sales" is bob's profile.
  absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
    auto users = store_->UsersWithProfile(session, "sales", 10);
    if (!users.ok()) return users.status();
    EXPECT_EQ(users->total, 1);
    EXPECT_EQ(users->user_ids, std::vector<std::string>{"u1"});
    users = store_->UsersWithProfile(session, "admins", 10);
    if (!users.ok()) return users.status();
    EXPECT_EQ(users->total, 0);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  auto in_use = store_->DeleteProfile("sales", 1);
  EXPECT_FALSE(in_use.ok()) << "the foreign key refuses it";
  auto deleted = store_->DeleteProfile("admins", 2);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_TRUE(*deleted);
  got = store_->FindProfileById("admins");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
}

TEST_P(IdentityStoreTest, ListUsersInUsernameOrder) {
  for (const char* name : {"carol", "alice", "dave"}) {
    UserRow u;
    u.id = std::string("id-") + name;
    u.username = name;
    u.profile_id = "sales";
    ASSERT_TRUE(store_->CreateUser(u).ok()) << name;
  }
  auto page = store_->ListUsers("", 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].user.username, "alice");
  EXPECT_EQ((*page)[1].user.username, "bob");
  EXPECT_EQ((*page)[1].profile.name, "Sales Rep");
  page = store_->ListUsers("bob", 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].user.username, "carol");
  EXPECT_EQ((*page)[1].user.username, "dave");
}

TEST_P(IdentityStoreTest, SetPasswordHashIsNotPolicyInput) {
  for (const char* hash : {"h1", "h2"}) {
    ASSERT_TRUE(
        store_->InsertSession({hash, "u1", "web-frontend", 1, 1, 1000, false})
            .ok());
  }
  const int64_t before = PolicyVersion();
  auto stale = store_->SetPasswordHash("u1", 5, "$new", true, 20);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_FALSE(*stale);
  EXPECT_FALSE((*store_->FindSession("h1"))->session.revoked);

  auto kept = store_->SetPasswordHash("u1", 1, "$new", false, 20);
  ASSERT_TRUE(kept.ok() && *kept);
  EXPECT_FALSE((*store_->FindSession("h1"))->session.revoked);
  UserRow u = Bob();
  EXPECT_EQ(u.password_hash, "$new");
  EXPECT_EQ(u.version, 2);
  EXPECT_EQ(u.update_time, 20);

  auto revoked = store_->SetPasswordHash("u1", -1, "$newer", true, 30);
  ASSERT_TRUE(revoked.ok() && *revoked);
  EXPECT_TRUE((*store_->FindSession("h1"))->session.revoked);
  EXPECT_TRUE((*store_->FindSession("h2"))->session.revoked);
  EXPECT_EQ(Bob().password_hash, "$newer");
  EXPECT_EQ(PolicyVersion(), before);
  auto nobody = store_->SetPasswordHash("nobody", -1, "$x", true, 30);
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(*nobody);
}

TEST_P(IdentityStoreTest, FindsUserWithProfile) {
  auto found = store_->FindUserByUsername("bob");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  const UserWithProfile& up = **found;
  EXPECT_EQ(up.user.id, "u1");
  EXPECT_EQ(up.user.display_name, "Bob Example");
  EXPECT_TRUE(up.user.active);
  EXPECT_EQ(up.user.time_zone, "Europe/London");
  EXPECT_EQ(up.user.create_time, 10);
  EXPECT_EQ(up.profile.name, "Sales Rep");
  EXPECT_EQ(up.profile.allowed_ip_ranges, "127.0.0.0/8\n::1/128");
  EXPECT_EQ(up.profile.login_time_zone, "Europe/Berlin");
  auto by_id = store_->FindUserById("u1");
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->user.username, "bob");
  auto missing = store_->FindUserByUsername("nobody");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(IdentityStoreTest, DuplicateUsernameIsAlreadyExists) {
  UserRow u;
  u.id = "u2";
  u.username = "bob";
  u.profile_id = "sales";
  absl::Status s = store_->CreateUser(u);
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
}

TEST_P(IdentityStoreTest, LoginFailuresReadUpdateClearAndPrune) {
  auto none = store_->FindLoginFailure("u1", "127.0.0.9");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->user_id, "u1");
  EXPECT_EQ(none->source, "127.0.0.9");
  EXPECT_EQ(none->failures, 0);
  EXPECT_EQ(none->expire_time, 0);

  const int64_t version = Bob().version;
  for (int i = 1; i <= 2; ++i) {
    auto row =
        store_->UpdateLoginFailure("u1", "127.0.0.9", [&](LoginFailureRow& r) {
          r.failures += 1;
          r.last_failure = 100 + i;
          r.locked_until = i == 2 ? 500 : 0;
          r.last_success = 50;
          r.expire_time = 600;
        });
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(row->failures, i) << "each update sees the one before";
  }
  ASSERT_TRUE(store_
                  ->UpdateLoginFailure("u1", "10.0.0.1",
                                       [](LoginFailureRow& r) {
                                         r.locked_until = 300;
                                         r.expire_time = 300;
                                       })
                  .ok());
  auto row = store_->FindLoginFailure("u1", "127.0.0.9");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->failures, 2);
  EXPECT_EQ(row->last_failure, 102);
  EXPECT_EQ(row->locked_until, 500);
  UserRow bob = Bob();
  EXPECT_EQ(bob.locked_until, 500) << "the latest lock of any source";
  EXPECT_EQ(bob.version, version) << "lock state is not the user's version";

  auto tat = store_->UpdateLoginRate(LoginRateScope::kUser, "u1",
                                     [](int64_t t) { return t + 700; });
  ASSERT_TRUE(tat.ok()) << tat.status();
  EXPECT_EQ(*tat, 700);
  tat = store_->UpdateLoginRate(LoginRateScope::kUser, "u1",
                                [](int64_t t) { return t + 700; });
  ASSERT_TRUE(tat.ok());
  EXPECT_EQ(*tat, 1400);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kUser, "u1"), 1400);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kSource, "u1"), 0)
      << "scopes are apart";
  ASSERT_TRUE(store_
                  ->UpdateLoginRate(LoginRateScope::kSource, "127.0.0.9",
                                    [](int64_t) { return 200; })
                  .ok());

  auto cleared = store_->ClearLoginFailures("u1");
  ASSERT_TRUE(cleared.ok() && *cleared) << cleared.status();
  row = store_->FindLoginFailure("u1", "127.0.0.9");
  EXPECT_EQ(row->failures, 0);
  EXPECT_EQ(row->locked_until, 0);
  EXPECT_EQ(row->last_success, 50) << "familiarity survives an unlock";
  EXPECT_EQ(Bob().locked_until, 0);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kUser, "u1"), 0);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kSource, "127.0.0.9"), 200)
      << "a source's budget is not the user's";
  auto nobody = store_->ClearLoginFailures("nobody");
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(*nobody);

  // Rows expire at expire_time (failures) or their time (budgets).
  auto pruned = store_->DeleteExpiredLoginState(400);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2) << "10.0.0.1 (300) and the source budget (200)";
  EXPECT_EQ(store_->FindLoginFailure("u1", "127.0.0.9")->expire_time, 600);
  EXPECT_EQ(store_->FindLoginFailure("u1", "10.0.0.1")->expire_time, 0);
}

// Two "replicas" (two Databases on one database) counting failures of one
// (user, source) at once: every failure counts.
TEST_P(IdentityStoreTest, ConcurrentFailureCountsAllApply) {
  auto other_db = Database::Open(test_db_->connection(), 4);
  ASSERT_TRUE(other_db.ok()) << other_db.status();
  IdentityStore other(other_db->get());
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    IdentityStore* store = t % 2 == 0 ? store_.get() : &other;
    threads.emplace_back([store, &errors] {
      for (int i = 0; i < kEach; ++i) {
        auto row = store->UpdateLoginFailure(
            "u1", "127.0.0.9", [](LoginFailureRow& r) { r.failures += 1; });
        auto tat = store->UpdateLoginRate(LoginRateScope::kSource, "127.0.0.9",
                                          [](int64_t t) { return t + 1; });
        if (!row.ok() || !tat.ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(store_->FindLoginFailure("u1", "127.0.0.9")->failures,
            kThreads * kEach);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kSource, "127.0.0.9"),
            kThreads * kEach);
}

TEST_P(IdentityStoreTest, DeactivationEndsSessionsForGood) {
  ASSERT_TRUE(
      store_->InsertSession({"h1", "u1", "web-frontend", 1, 1, 1000, false})
          .ok());
  UserRow u = Bob();
  EXPECT_EQ(u.session_epoch, 0);
  EXPECT_EQ((*store_->FindSession("h1"))->session.user_epoch, 0);
  u.display_name = "Renamed";
  u.update_time = 20;
  ASSERT_TRUE(*store_->UpdateUser(u, u.version));
  EXPECT_EQ(Bob().session_epoch, 0) << "an active user's update ends nothing";
  EXPECT_FALSE((*store_->FindSession("h1"))->session.revoked);

  u = Bob();
  u.active = false;
  u.update_time = 30;
  ASSERT_TRUE(*store_->UpdateUser(u, u.version));
  EXPECT_EQ(Bob().session_epoch, 1);
  EXPECT_TRUE((*store_->FindSession("h1"))->session.revoked);

  u = Bob();
  u.active = true;
  u.update_time = 40;
  ASSERT_TRUE(*store_->UpdateUser(u, u.version));
  auto after = store_->FindSession("h1");
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_TRUE((*after)->session.revoked) << "reactivation revives nothing";
  EXPECT_EQ((*after)->user.user.session_epoch, 1);
  EXPECT_NE((*after)->session.user_epoch, (*after)->user.user.session_epoch);

  // RevokeUserSessions ends sessions the same way.
  ASSERT_TRUE(
      store_->InsertSession({"h2", "u1", "web-frontend", 1, 1, 1000, false, 1})
          .ok());
  auto n = store_->RevokeUserSessions("u1", 50);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(Bob().session_epoch, 2);
}

TEST_P(IdentityStoreTest, DeleteUserTakesTheirLoginStateAlong) {
  ASSERT_TRUE(store_
                  ->UpdateLoginFailure("u1", "127.0.0.9",
                                       [](LoginFailureRow& r) {
                                         r.failures = 3;
                                         r.locked_until = 900;
                                         r.expire_time = 900;
                                       })
                  .ok());
  ASSERT_TRUE(store_
                  ->UpdateLoginRate(LoginRateScope::kUser, "u1",
                                    [](int64_t) { return 900; })
                  .ok());
  ASSERT_TRUE(*store_->DeleteUser("u1", Bob().version));
  UserRow again;
  again.id = "u1";
  again.username = "bob2";
  again.profile_id = "sales";
  ASSERT_TRUE(store_->CreateUser(again).ok());
  EXPECT_EQ(store_->FindLoginFailure("u1", "127.0.0.9")->failures, 0)
      << "a new user with the same id starts clean";
  EXPECT_EQ(Bob().locked_until, 0);
  EXPECT_EQ(*store_->FindLoginRate(LoginRateScope::kUser, "u1"), 0);
}

TEST_P(IdentityStoreTest, SessionsRoundTripTouchAndRevoke) {
  for (const char* hash : {"h1", "h2", "h3"}) {
    SessionRow s{hash, "u1", "web-frontend", 100, 100, 1000, false};
    ASSERT_TRUE(store_->InsertSession(s).ok()) << hash;
  }
  auto found = store_->FindSession("h1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->session.service, "web-frontend");
  EXPECT_EQ((*found)->session.expire_time, 1000);
  EXPECT_EQ((*found)->user.user.username, "bob");
  EXPECT_EQ((*found)->user.profile.name, "Sales Rep");

  ASSERT_TRUE(store_->TouchSession("h1", 200, 150).ok());
  ASSERT_TRUE(store_->TouchSession("h1", 300, 150).ok());  // too recent
  found = store_->FindSession("h1");
  EXPECT_EQ((*found)->session.last_seen, 200);

  auto revoked = store_->RevokeSession("h1");
  ASSERT_TRUE(revoked.ok() && *revoked);
  revoked = store_->RevokeSession("h1");
  ASSERT_TRUE(revoked.ok());
  EXPECT_FALSE(*revoked) << "already revoked";
  auto n = store_->RevokeUserSessions("u1", 500);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  found = store_->FindSession("h3");
  EXPECT_TRUE((*found)->session.revoked);
  auto none = store_->FindSession("nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, IdentityStoreTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
