#include "store/key_rotation.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/resources.pb.h"
#include "gtest/gtest.h"
#include "model/record.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "store/store_test_fixture.h"

namespace crm::store {
namespace {

const model::ObjectSchema& Contacts() {
  return *model::SchemaRegistry::Default().Find("contacts");
}

class KeyRotationTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
    enc_ = NewEncryptionOrDie();
    records_ = std::make_unique<RecordStore>(db_.get());
    records_->SetEncryption(enc_);
  }

  void Insert(const std::string& id, const std::string& phone,
              const std::string& email) {
    crm::v1::Contact c;
    c.set_last_name(id);
    c.set_personal_phone(phone);
    c.set_personal_email(email);
    model::Record r = model::RecordFromMessage(Contacts(), c);
    r.id = id;
    r.version = 1;
    absl::Status s = records_->Insert(Contacts(), r);
    ASSERT_TRUE(s.ok()) << s;
  }

  // id -> {personal_phone, personal_email, personal_email_bidx} as stored.
  std::vector<std::vector<std::string>> Raw() {
    std::vector<std::vector<std::string>> out;
    absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
      auto rows = Query(session,
                        {"SELECT id, personal_phone, personal_email, "
                         "personal_email_bidx FROM contacts ORDER BY id",
                         {}},
                        "test");
      if (!rows.ok()) return rows.status();
      for (const Row& row : *rows) {
        std::vector<std::string> r;
        for (const auto& v : row) r.push_back(std::get<std::string>(v));
        out.push_back(r);
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Every contact reads back with its phone and e-mail.
  void ExpectAllReadable(int n) {
    for (int i = 0; i < n; ++i) {
      const std::string id = absl::StrCat("c", i);
      auto got = records_->Get(Contacts(), id);
      ASSERT_TRUE(got.ok() && got->has_value()) << id << got.status();
      const auto& v = (*got)->values;
      EXPECT_EQ(std::get<std::string>(
                    v[Contacts().FieldIndex("personal_phone")]),
                absl::StrCat("+49 170 000", i))
          << id;
      EXPECT_EQ(std::get<std::string>(
                    v[Contacts().FieldIndex("personal_email")]),
                i % 3 == 0 ? "" : absl::StrCat("p", i, "@example.org"))
          << id;
    }
  }

  std::shared_ptr<FieldEncryption> enc_;
  std::unique_ptr<RecordStore> records_;
};

TEST_P(KeyRotationTest, ReencryptsEverythingInBatchesAndReadsGoOn) {
  constexpr int kContacts = 7;
  for (int i = 0; i < kContacts; ++i) {
    Insert(absl::StrCat("c", i), absl::StrCat("+49 170 000", i),
           i % 3 == 0 ? "" : absl::StrCat("p", i, "@example.org"));
  }
  const std::string old_key = enc_->keyring().current_key_id();
  const auto before = Raw();
  // A value from before encryption (plaintext, no index).
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                  return Execute(session,
                                 {"UPDATE contacts SET personal_email = "
                                  "'p1@example.org', personal_email_bidx = '' "
                                  "WHERE id = 'c1'",
                                  {}},
                                 "test")
                      .status();
                }).ok());

  auto new_key = AddCurrentDataKey(*db_, *enc_);
  ASSERT_TRUE(new_key.ok()) << new_key.status();
  EXPECT_NE(*new_key, old_key);
  EXPECT_EQ(enc_->keyring().current_key_id(), *new_key);
  EXPECT_TRUE(enc_->keyring().HasKey(old_key));
  auto stale = CountStaleValues(*db_, *enc_, model::SchemaRegistry::Default());
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ((*stale)["contacts.personal_phone"], kContacts);
  EXPECT_EQ((*stale)["contacts.personal_email"], 4);  // c1 c2 c4 c5

  int64_t total = 0;
  int batches = 0;
  while (true) {
    auto n = ReencryptBatch(*db_, *enc_, Contacts(), 3);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    EXPECT_LE(*n, 3);
    total += *n;
    ++batches;
    ExpectAllReadable(kContacts);  // mid-rotation: old and new keys mixed
    ASSERT_LT(batches, 10);
  }
  EXPECT_EQ(total, kContacts);
  EXPECT_EQ(batches, 3);
  const std::string prefix = absl::StrCat("enc:v1:", *new_key, ":");
  const auto after = Raw();
  ASSERT_EQ(after.size(), static_cast<size_t>(kContacts));
  for (size_t i = 0; i < after.size(); ++i) {
    SCOPED_TRACE(after[i][0]);
    EXPECT_TRUE(absl::StartsWith(after[i][1], prefix)) << after[i][1];
    if (i % 3 == 0) {
      EXPECT_EQ(after[i][2], "");
    } else {
      EXPECT_TRUE(absl::StartsWith(after[i][2], prefix)) << after[i][2];
      EXPECT_NE(after[i][2], before[i][2]);
    }
    // The index is the same (it does not depend on the data key), and
    // the legacy plaintext value got one.
    EXPECT_EQ(after[i][3], before[i][3]);
  }
  ExpectAllReadable(kContacts);
  stale = CountStaleValues(*db_, *enc_, model::SchemaRegistry::Default());
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ((*stale)["contacts.personal_phone"], 0);
  EXPECT_EQ((*stale)["contacts.personal_email"], 0);
  // A server started now loads both keys, the new one current.
  auto reloaded = LoadOrCreateKeyring(*db_, enc_->master());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(reloaded->current_key_id(), *new_key);
  EXPECT_EQ(reloaded->key_ids().size(), 2u);
}

TEST_P(KeyRotationTest, AValueThatDoesNotDecryptStopsTheBatch) {
  Insert("c0", "+49 170 0000", "");
  Insert("c1", "+49 170 0001", "");
  ASSERT_TRUE(db_->WithSession([&](Session& session) {
                  return Execute(session,
                                 {"UPDATE contacts SET personal_phone = (SELECT "
                                  "personal_phone FROM contacts WHERE id = "
                                  "'c0') WHERE id = 'c1'",
                                  {}},
                                 "test")
                      .status();
                }).ok());
  ASSERT_TRUE(AddCurrentDataKey(*db_, *enc_).ok());
  auto n = ReencryptBatch(*db_, *enc_, Contacts(), 10);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInternal) << n.status();
  EXPECT_FALSE(absl::StrContains(n.status().message(), "0000"));
}

// Two servers on one database, as two FieldEncryptions with their own
// record stores: after a rotation on A, B reads what A wrote under the new
// key (reloading its keyring once), re-encrypts it if asked, and picks up
// the new key for writing on RefreshIfRotated.
TEST_P(KeyRotationTest, AnotherServerReloadsItsKeyringForANewKey) {
  auto keyring_b = LoadOrCreateKeyring(*db_, enc_->master());
  ASSERT_TRUE(keyring_b.ok()) << keyring_b.status();
  auto enc_b = std::make_shared<FieldEncryption>(enc_->master(), *keyring_b);
  RecordStore records_b(db_.get());
  records_b.SetEncryption(enc_b);
  const std::string old_key = enc_b->keyring().current_key_id();

  auto new_key = AddCurrentDataKey(*db_, *enc_);
  ASSERT_TRUE(new_key.ok()) << new_key.status();
  Insert("c0", "+49 170 0000", "p0@example.org");  // by A, under the new key
  EXPECT_EQ(enc_b->keyring().current_key_id(), old_key);
  EXPECT_EQ(enc_b->reloads(), 0);
  auto got = records_b.Get(Contacts(), "c0");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ(std::get<std::string>(
                (*got)->values[Contacts().FieldIndex("personal_phone")]),
            "+49 170 0000");
  EXPECT_EQ(enc_b->reloads(), 1);  // one reload for both fields
  EXPECT_EQ(enc_b->keyring().current_key_id(), *new_key);
  // Already held: no more reloads.
  ASSERT_TRUE(records_b.Get(Contacts(), "c0").ok());
  EXPECT_EQ(enc_b->reloads(), 1);
  // Nothing changed since: RefreshIfRotated reads the current id only.
  auto refreshed = enc_b->RefreshIfRotated(*db_);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_FALSE(*refreshed);
  EXPECT_EQ(enc_b->reloads(), 1);

  // A rotates again: B picks the key up for writing on its refresh round.
  auto newer_key = AddCurrentDataKey(*db_, *enc_);
  ASSERT_TRUE(newer_key.ok()) << newer_key.status();
  refreshed = enc_b->RefreshIfRotated(*db_);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  EXPECT_TRUE(*refreshed);
  EXPECT_EQ(enc_b->keyring().current_key_id(), *newer_key);

  // B re-encrypts under the newest key what A wrote.
  auto n = ReencryptBatch(*db_, *enc_b, Contacts(), 10);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  const auto raw = Raw();
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(raw[0][1], absl::StrCat("enc:v1:", *newer_key,
                                                       ":")))
      << raw[0][1];
  ASSERT_TRUE(records_->Get(Contacts(), "c0").ok());
}

// A re-encryption on a server whose keyring predates another server's
// rotation: the value under the unknown key reloads the keyring, and is
// written under the newest key (never back under an older one).
TEST_P(KeyRotationTest, ReencryptionOnAServerBehindReloadsItsKeyring) {
  auto keyring_b = LoadOrCreateKeyring(*db_, enc_->master());
  ASSERT_TRUE(keyring_b.ok()) << keyring_b.status();
  auto enc_b = std::make_shared<FieldEncryption>(enc_->master(), *keyring_b);
  auto new_key = AddCurrentDataKey(*db_, *enc_);  // on A
  ASSERT_TRUE(new_key.ok()) << new_key.status();
  Insert("c0", "+49 170 0000", "");  // by A, under the new key
  ASSERT_NE(enc_b->keyring().current_key_id(), *new_key);
  auto n = ReencryptBatch(*db_, *enc_b, Contacts(), 10);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(enc_b->reloads(), 1);
  EXPECT_EQ(enc_b->keyring().current_key_id(), *new_key);
  EXPECT_TRUE(absl::StartsWith(Raw()[0][1],
                               absl::StrCat("enc:v1:", *new_key, ":")))
      << Raw()[0][1];
  n = ReencryptBatch(*db_, *enc_b, Contacts(), 10);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  ExpectAllReadable(1);
}

// A value naming a key id that is in no keyring and not in data_keys
// (forged) costs one reload, then is refused without reading data_keys;
// distinct forged ids are rate-limited.
TEST_P(KeyRotationTest, ForgedKeyIdsDoNotReloadOnEveryRead) {
  absl::Time now = absl::FromUnixSeconds(1000000);
  auto keyring_b = LoadOrCreateKeyring(*db_, enc_->master());
  ASSERT_TRUE(keyring_b.ok()) << keyring_b.status();
  auto enc_b = std::make_shared<FieldEncryption>(enc_->master(), *keyring_b,
                                                 [&now] { return now; });
  RecordStore records_b(db_.get());
  records_b.SetEncryption(enc_b);
  Insert("c0", "+49 170 0000", "");
  const std::string real = Raw()[0][1];
  const std::string current = enc_b->keyring().current_key_id();
  auto forge = [&](const std::string& id) {
    std::string forged = real;
    forged.replace(forged.find(current), current.size(), id);
    ASSERT_TRUE(db_->WithSession([&](Session& session) {
                    return Execute(session,
                                   {"UPDATE contacts SET personal_phone = ? "
                                    "WHERE id = 'c0'",
                                    {forged}},
                                   "test")
                        .status();
                  }).ok());
  };
  forge("dkforged00001");
  for (int i = 0; i < 20; ++i) {
    auto got = records_b.Get(Contacts(), "c0");
    ASSERT_EQ(got.status().code(), absl::StatusCode::kInternal)
        << got.status();
    EXPECT_FALSE(absl::StrContains(got.status().message(), "0000"));
  }
  EXPECT_EQ(enc_b->reloads(), 1);
  // New forged ids: a burst, then one reload per second.
  for (int i = 0; i < 20; ++i) {
    forge(absl::StrCat("dkforged1", 1000 + i));
    EXPECT_FALSE(records_b.Get(Contacts(), "c0").ok());
  }
  EXPECT_EQ(enc_b->reloads(), FieldEncryption::kReloadBurst);
  now += absl::Seconds(1);
  forge("dkforged2");
  EXPECT_FALSE(records_b.Get(Contacts(), "c0").ok());
  forge("dkforged3");
  EXPECT_FALSE(records_b.Get(Contacts(), "c0").ok());
  EXPECT_EQ(enc_b->reloads(), FieldEncryption::kReloadBurst + 1);
  // The real value still reads.
  forge(current);
  EXPECT_TRUE(records_b.Get(Contacts(), "c0").ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyRotationTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
