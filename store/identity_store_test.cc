#include "store/identity_store.h"

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

TEST_P(IdentityStoreTest, LockStateUpdatesAreConditionalOnVersion) {
  auto ok = store_->UpdateLockState("u1", 1, 3, 0, 5);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(*ok);
  auto stale = store_->UpdateLockState("u1", 1, 4, 99, 6);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale) << "a stale version must not overwrite";
  auto up = store_->FindUserById("u1");
  ASSERT_TRUE(up.ok() && up->has_value());
  EXPECT_EQ((*up)->user.failed_logins, 3);
  EXPECT_EQ((*up)->user.version, 2);
  auto unlocked = store_->UnlockUser("u1", 7);
  ASSERT_TRUE(unlocked.ok() && *unlocked);
  up = store_->FindUserById("u1");
  EXPECT_EQ((*up)->user.failed_logins, 0);
  EXPECT_EQ((*up)->user.locked_until, 0);
  auto nobody = store_->UnlockUser("nobody", 7);
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(*nobody);
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
