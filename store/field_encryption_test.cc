#include "store/field_encryption.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/resources.pb.h"
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

constexpr char kPhone[] = "+49 170 5550123";

const ObjectSchema& Contacts() {
  return *model::SchemaRegistry::Default().Find("contacts");
}

Record Contact(const std::string& id, const std::string& last_name,
               const std::string& personal_phone) {
  crm::v1::Contact c;
  c.set_last_name(last_name);
  c.set_personal_phone(personal_phone);
  Record r = model::RecordFromMessage(Contacts(), c);
  r.id = id;
  r.version = 1;
  return r;
}

std::string Text(const model::SqlValue& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s == nullptr ? std::string("<not text>") : *s;
}

class FieldEncryptionTest : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (HasFatalFailure()) return;
    MigrateOrFail();
  }

  // Every row of data_keys as "id|master_key_id|is_current".
  std::vector<std::string> DataKeyRows() {
    std::vector<std::string> out;
    absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
      auto rows = Query(session,
                        {"SELECT id, master_key_id, is_current, wrapped FROM "
                         "data_keys ORDER BY id",
                         {}},
                        "test");
      if (!rows.ok()) return rows.status();
      for (const Row& r : *rows) {
        EXPECT_TRUE(absl::StartsWith(Text(r[3]), "wk:v1:")) << Text(r[3]);
        out.push_back(absl::StrCat(Text(r[0]), "|", Text(r[1]), "|",
                                   IntOf(r[2]).value_or(-1)));
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // The stored (raw) personal_phone of contact `id`.
  std::string RawPhone(const std::string& id) {
    std::string out;
    absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
      auto rows = Query(
          session,
          {"SELECT personal_phone FROM contacts WHERE id = ?", {id}}, "test");
      if (!rows.ok()) return rows.status();
      if (rows->size() == 1) out = Text((*rows)[0][0]);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  void SetRawPhone(const std::string& id, const std::string& value) {
    absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
      return Execute(session,
                     {"UPDATE contacts SET personal_phone = ? WHERE id = ?",
                      {value, id}},
                     "test")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s;
  }
};

TEST_P(FieldEncryptionTest, FirstStartCreatesOneCurrentKeyLaterStartsReadIt) {
  auto master = crypto::MasterKey::Generate();
  ASSERT_TRUE(master.ok());
  auto first = LoadOrCreateKeyring(*db_, *master);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = LoadOrCreateKeyring(*db_, *master);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->current_key_id(), second->current_key_id());
  EXPECT_EQ(DataKeyRows(),
            std::vector<std::string>{absl::StrCat(
                first->current_key_id(), "|", master->id(), "|1")});
  // The keys are the same: what one encrypts the other decrypts.
  auto sealed = first->Encrypt("x", "contacts.personal_phone.1");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*second->Decrypt(*sealed, "contacts.personal_phone.1"), "x");
}

TEST_P(FieldEncryptionTest, AnotherMasterKeyIsRefusedAndCreatesNothing) {
  auto master = crypto::MasterKey::Generate();
  auto other = crypto::MasterKey::Generate();
  ASSERT_TRUE(master.ok() && other.ok());
  ASSERT_TRUE(LoadOrCreateKeyring(*db_, *master).ok());
  const std::vector<std::string> before = DataKeyRows();
  auto refused = LoadOrCreateKeyring(*db_, *other);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), master->id()))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), other->id()))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "encryption.master_key_file"));
  EXPECT_EQ(DataKeyRows(), before);
}

TEST_P(FieldEncryptionTest, ServersStartingAtOnceShareOneFirstKey) {
  auto master = crypto::MasterKey::Generate();
  ASSERT_TRUE(master.ok());
  constexpr int kServers = 4;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kServers; ++i) {
    auto db = Database::Open(test_db_->connection(), 1);
    ASSERT_TRUE(db.ok()) << db.status();
    dbs.push_back(*std::move(db));
  }
  std::vector<std::string> current(kServers);
  std::vector<absl::Status> status(kServers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kServers; ++i) {
    threads.emplace_back([&, i] {
      auto k = LoadOrCreateKeyring(*dbs[i], *master);
      status[i] = k.status();
      if (k.ok()) current[i] = k->current_key_id();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kServers; ++i) {
    ASSERT_TRUE(status[i].ok()) << i << ": " << status[i];
    EXPECT_EQ(current[i], current[0]);
  }
  EXPECT_EQ(DataKeyRows().size(), 1u);
}

TEST_P(FieldEncryptionTest, SensitiveValuesAreStoredEncryptedAndReadBack) {
  RecordStore records(db_.get());
  records.SetEncryption(NewEncryptionOrDie());
  ASSERT_TRUE(records.Insert(Contacts(), Contact("c1", "Ada", kPhone)).ok());
  const std::string raw = RawPhone("c1");
  EXPECT_TRUE(absl::StartsWith(raw, "enc:v1:dk")) << raw;
  EXPECT_FALSE(absl::StrContains(raw, kPhone));
  EXPECT_FALSE(absl::StrContains(raw, "5550123"));

  const int phone = Contacts().FieldIndex("personal_phone");
  const int last_name = Contacts().FieldIndex("last_name");
  auto got = records.Get(Contacts(), "c1");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Text((*got)->values[phone]), kPhone);
  EXPECT_EQ(Text((*got)->values[last_name]), "Ada");  // not encrypted

  // Update: a new ciphertext (new nonce), still readable.
  Record changed = **got;
  changed.values[phone] = std::string("+1 555 0100");
  auto updated =
      records.UpdateIfVersion(Contacts(), "c1", 1, {phone}, changed);
  ASSERT_TRUE(updated.ok() && *updated) << updated.status();
  const std::string raw2 = RawPhone("c1");
  EXPECT_TRUE(absl::StartsWith(raw2, "enc:v1:")) << raw2;
  EXPECT_NE(raw2, raw);
  EXPECT_FALSE(absl::StrContains(raw2, "555 0100"));

  ListQuery q;
  q.limit = 10;
  auto listed = records.List(Contacts(), q);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(Text((*listed)[0].values[phone]), "+1 555 0100");
}

TEST_P(FieldEncryptionTest, EmptyStaysEmptyAndOldPlaintextIsReadAsItIs) {
  RecordStore records(db_.get());
  records.SetEncryption(NewEncryptionOrDie());
  ASSERT_TRUE(records.Insert(Contacts(), Contact("c1", "Ada", "")).ok());
  EXPECT_EQ(RawPhone("c1"), "");
  // A value written before the field was encrypted (no "enc:" prefix).
  SetRawPhone("c1", "+44 20 7946 0000");
  auto got = records.Get(Contacts(), "c1");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ(Text((*got)->values[Contacts().FieldIndex("personal_phone")]),
            "+44 20 7946 0000");
}

TEST_P(FieldEncryptionTest, ACiphertextMovedToAnotherRecordDoesNotRead) {
  RecordStore records(db_.get());
  records.SetEncryption(NewEncryptionOrDie());
  ASSERT_TRUE(records.Insert(Contacts(), Contact("c1", "Ada", kPhone)).ok());
  ASSERT_TRUE(
      records.Insert(Contacts(), Contact("c2", "Bob", "+1 555 0199")).ok());
  SetRawPhone("c2", RawPhone("c1"));
  auto got = records.Get(Contacts(), "c2");
  ASSERT_EQ(got.status().code(), absl::StatusCode::kInternal) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "error id"))
      << got.status();
  EXPECT_FALSE(absl::StrContains(got.status().message(), kPhone));
  ListQuery q;
  q.limit = 10;
  auto listed = records.List(Contacts(), q);
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kInternal);
  // A tampered value: the same.
  std::string raw = RawPhone("c1");
  raw.back() = raw.back() == 'A' ? 'B' : 'A';
  SetRawPhone("c1", raw);
  EXPECT_EQ(records.Get(Contacts(), "c1").status().code(),
            absl::StatusCode::kInternal);
}

TEST_P(FieldEncryptionTest, WithoutAKeyringSensitiveValuesAreRefused) {
  RecordStore records(db_.get());
  absl::Status s = records.Insert(Contacts(), Contact("c1", "Ada", kPhone));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(RawPhone("c1"), "");  // nothing written
  // Empty values need no key.
  EXPECT_TRUE(records.Insert(Contacts(), Contact("c2", "Bob", "")).ok());
  // An encrypted value is not returned without the keyring.
  RecordStore with_key(db_.get());
  with_key.SetEncryption(NewEncryptionOrDie());
  ASSERT_TRUE(with_key.Insert(Contacts(), Contact("c3", "Cy", kPhone)).ok());
  EXPECT_EQ(records.Get(Contacts(), "c3").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(FieldEncryptionTest, BlindIndexIsWrittenWithTheValueNormalised) {
  auto enc = NewEncryptionOrDie();
  RecordStore records(db_.get());
  records.SetEncryption(enc);
  const model::FieldSchema& email = *Contacts().FindField("personal_email");
  ASSERT_TRUE(email.sensitive && email.blind_index);
  Record r = Contact("c1", "Ada", "");
  const int at = Contacts().FieldIndex("personal_email");
  r.values[at] = std::string("  Ada@Example.ORG ");
  ASSERT_TRUE(records.Insert(Contacts(), r).ok());
  Record empty = Contact("c2", "Bob", "");
  ASSERT_TRUE(records.Insert(Contacts(), empty).ok());

  auto raw = [&](const std::string& id) {
    std::vector<std::string> out;
    absl::Status s = db_->WithSession([&](Session& session) -> absl::Status {
      auto rows = Query(session,
                        {"SELECT personal_email, personal_email_bidx FROM "
                         "contacts WHERE id = ?",
                         {id}},
                        "test");
      if (!rows.ok()) return rows.status();
      for (const auto& v : (*rows)[0]) out.push_back(Text(v));
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  };
  auto expected = enc->BlindIndex(Contacts(), email, "ada@example.org");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(expected->size(), 32u);
  std::vector<std::string> c1 = raw("c1");
  EXPECT_TRUE(absl::StartsWith(c1[0], "enc:v1:")) << c1[0];
  EXPECT_FALSE(absl::StrContains(c1[0], "xample"));
  EXPECT_EQ(c1[1], *expected);
  EXPECT_EQ(raw("c2"), (std::vector<std::string>{"", ""}));

  // The value reads back exactly as written (not normalised).
  auto got = records.Get(Contacts(), "c1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(Text((*got)->values[at]), "  Ada@Example.ORG ");

  // Updating the field updates its index; clearing it clears the index.
  Record changed = **got;
  changed.values[at] = std::string("grace@example.org");
  ASSERT_TRUE(*records.UpdateIfVersion(Contacts(), "c1", 1, {at}, changed));
  EXPECT_EQ(raw("c1")[1],
            *enc->BlindIndex(Contacts(), email, "grace@example.org"));
  changed.values[at] = std::string();
  ASSERT_TRUE(*records.UpdateIfVersion(Contacts(), "c1", 2, {at}, changed));
  EXPECT_EQ(raw("c1"), (std::vector<std::string>{"", ""}));
}

INSTANTIATE_TEST_SUITE_P(Backends, FieldEncryptionTest,
                         ::testing::ValuesIn(testing::AllBackends()),
                         BackendParamName);

}  // namespace
}  // namespace crm::store
