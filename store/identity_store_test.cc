#include "store/identity_store.h"

#include "gtest/gtest.h"
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

  std::unique_ptr<IdentityStore> store_;
};

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
