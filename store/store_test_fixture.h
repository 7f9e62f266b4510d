// Test-only (included by store/*_test.cc): a fresh migrated database on the
// backend given as the test parameter.
#ifndef CRM_STORE_STORE_TEST_FIXTURE_H_
#define CRM_STORE_STORE_TEST_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "crypto/master_key.h"
#include "store/database.h"
#include "store/field_encryption.h"
#include "store/migrations.h"
#include "tests/support/test_database.h"

namespace crm::store {

class BackendTest : public ::testing::TestWithParam<testing::Backend> {
 protected:
  static constexpr int kPoolSize = 8;

  void SetUp() override {
    auto test_db = testing::TestDatabase::Create(GetParam());
    ASSERT_TRUE(test_db.ok()) << test_db.status();
    test_db_ = *std::move(test_db);
    auto db = Database::Open(test_db_->connection(), kPoolSize);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  void MigrateOrFail() {
    absl::Status s = Migrate(*db_);
    ASSERT_TRUE(s.ok()) << s;
  }

  // A new master key and the keyring stored under it (migrated database),
  // for a RecordStore's SetEncryption.
  std::shared_ptr<FieldEncryption> NewEncryptionOrDie() {
    auto master = crypto::MasterKey::Generate();
    EXPECT_TRUE(master.ok()) << master.status();
    if (!master.ok()) abort();
    auto keyring = LoadOrCreateKeyring(*db_, *master);
    EXPECT_TRUE(keyring.ok()) << keyring.status();
    if (!keyring.ok()) abort();
    return std::make_shared<FieldEncryption>(*master, *keyring);
  }

  // Declared first: destroyed after the Database that uses it.
  std::unique_ptr<testing::TestDatabase> test_db_;
  std::unique_ptr<Database> db_;
};

inline std::string BackendParamName(
    const ::testing::TestParamInfo<testing::Backend>& info) {
  return testing::BackendName(info.param);
}

}  // namespace crm::store

#endif  // CRM_STORE_STORE_TEST_FIXTURE_H_
