// Test-only (auth/*_test.cc): a migrated database on the backend given as
// the test parameter, an IdentityStore over it, a FakeClock, and a profile
// "p" with user "bob" (password "bob-pw").
#ifndef CRM_AUTH_AUTH_TEST_FIXTURE_H_
#define CRM_AUTH_AUTH_TEST_FIXTURE_H_

#include <memory>

#include "absl/time/civil_time.h"
#include "auth/auth_settings.h"
#include "auth/authenticator.h"
#include "auth/clock.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/identity_store.h"
#include "store/migrations.h"
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

  Authenticator MakeAuthenticator(const CountryResolver* geo = nullptr) {
    return Authenticator(store_.get(), &clock_, settings_, geo);
  }
  SessionManager MakeSessions(const CountryResolver* geo = nullptr) {
    return SessionManager(store_.get(), &clock_, settings_, geo);
  }

  static IpAddress Loopback() { return *IpAddress::Parse("127.0.0.1"); }

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
