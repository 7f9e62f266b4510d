// Test-only (auth/*_test.cc): a migrated database on the backend given as
// the test parameter, an IdentityStore over it, a FakeClock, and a profile
// "p" with user "bob" (password "bob-pw"). MakeAuthenticator and
// MakeSessions call the real classes with the policy compiled from the
// database at each call, as a server does after every write.
#ifndef CRM_AUTH_AUTH_TEST_FIXTURE_H_
#define CRM_AUTH_AUTH_TEST_FIXTURE_H_

#include <memory>

#include "absl/time/civil_time.h"
#include "auth/auth_settings.h"
#include "auth/authenticator.h"
#include "auth/clock.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "policy/snapshot.h"
#include "store/database.h"
#include "store/identity_store.h"
#include "store/migrations.h"
#include "store/policy_store.h"
#include "tests/support/test_database.h"

namespace crm::auth {

class IdentityBackendTest
    : public ::testing::TestWithParam<crm::testing::Backend> {
 public:
  void SetUp() override {
    auto test_db = crm::testing::TestDatabase::Create(GetParam());
    ASSERT_TRUE(test_db.ok()) << test_db.status();
    test_db_ = *std::move(test_db);
    auto db = store::Database::Open(test_db_->connection(), 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(store::Migrate(*db_).ok());
    store_ = std::make_unique<store::IdentityStore>(db_.get());
    settings_.hash_params = {1, 64, 1};
    settings_.lockout = {3, absl::Minutes(10)};
    settings_.session_idle = absl::Minutes(10);
    settings_.session_absolute = absl::Hours(1);
    store::ProfileRow p;
    p.id = "p";
    p.name = "Plain";
    p.system_permissions = "export";
    ASSERT_TRUE(store_->CreateProfile(p).ok());
    NewUser bob{"bob", "Bob", "Bob B", "bob-pw", "p", "Europe/London", true};
    ASSERT_TRUE(CreateUserWithPassword(*store_, bob, settings_.hash_params,
                                       clock_.Now())
                    .ok());
  }

  // The stored policy, compiled now (test failure and null if it fails).
  std::shared_ptr<const policy::PolicySnapshot> Policy() const {
    auto state = store::PolicyStore(db_.get()).LoadState();
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok()) return nullptr;
    auto snapshot = policy::PolicySnapshot::Build(
        *state, policy::PolicySnapshot::Services(),
        model::SchemaRegistry::Default());
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? *snapshot : nullptr;
  }

  // An Authenticator whose Login uses Policy().
  class BoundAuthenticator {
   public:
    BoundAuthenticator(const IdentityBackendTest* test,
                       store::IdentityStore* store, Clock* clock,
                       const AuthSettings& settings,
                       const login::CountryResolver* geo)
        : test_(test), a_(store, clock, settings, geo) {}
    absl::StatusOr<LoginResult> Login(absl::string_view username,
                                      absl::string_view password,
                                      absl::string_view service,
                                      const login::IpAddress& address) const {
      return a_.Login(username, password, service, address,
                      test_->Policy().get());
    }
    absl::Status Unlock(absl::string_view user_id) const {
      return a_.Unlock(user_id);
    }

   private:
    const IdentityBackendTest* test_;
    Authenticator a_;
  };

  // A SessionManager whose Validate uses Policy().
  class BoundSessions {
   public:
    BoundSessions(const IdentityBackendTest* test, SessionManager s)
        : test_(test), s_(std::move(s)) {}
    absl::StatusOr<AuthenticatedUser> Validate(
        absl::string_view token, absl::string_view service,
        const login::IpAddress& address) const {
      return s_.Validate(token, service, address, test_->Policy().get());
    }
    absl::Status Logout(absl::string_view token_hash) const {
      return s_.Logout(token_hash);
    }
    absl::StatusOr<int64_t> RevokeUserSessions(
        absl::string_view user_id) const {
      return s_.RevokeUserSessions(user_id);
    }

   private:
    const IdentityBackendTest* test_;
    SessionManager s_;
  };

  BoundAuthenticator MakeAuthenticator(
      const login::CountryResolver* geo = nullptr) {
    return BoundAuthenticator(this, store_.get(), &clock_, settings_, geo);
  }
  BoundSessions MakeSessions(const login::CountryResolver* geo = nullptr) {
    return BoundSessions(this,
                         SessionManager(store_.get(), &clock_, settings_, geo));
  }

  static login::IpAddress Loopback() {
    return *login::IpAddress::Parse("127.0.0.1");
  }

  FakeClock clock_{absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0),
                                   absl::UTCTimeZone())};
  AuthSettings settings_;
  std::unique_ptr<crm::testing::TestDatabase> test_db_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::IdentityStore> store_;
};

inline std::string BackendParamName(
    const ::testing::TestParamInfo<crm::testing::Backend>& info) {
  return crm::testing::BackendName(info.param);
}

}  // namespace crm::auth

#endif  // CRM_AUTH_AUTH_TEST_FIXTURE_H_
