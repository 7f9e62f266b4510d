// Encryption at rest of sensitive fields (issue 13) through the real server
// over mTLS, on SQLite and PostgreSQL, with the demo organisation (whose
// policy lets admin-cli read and write contacts.personal_phone):
//   - a contact's personal_phone round-trips through the API while its
//     column holds only "enc:v1:..." values;
//   - a ciphertext copied into another record's column is not shown: the
//     Get is INTERNAL with an error id;
//   - filtering and sorting on the field are refused, naming it;
//   - a dump of the database (the SQLite files' bytes, pg_dump's output)
//     holds none of the phone numbers, but does hold the contacts' other
//     values (so the search is shown to find what is there);
//   - start-up is refused with no master key file, a missing one, one
//     readable by others, or another master key than the stored data keys
//     were wrapped under.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crypto/master_key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/demo_data.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

class EncryptionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    absl::Status demo = server::LoadDemoOrganisation(server_->server().core());
    ASSERT_TRUE(demo.ok()) << demo;
    ASSERT_TRUE(server_->server().ReloadPolicy().ok());
    admin_ = server_->Client("admin-cli");
  }

  crm::v1::Contact CreateContact(const std::string& last_name,
                                 const std::string& phone,
                                 const std::string& email = "") {
    crm::v1::CreateContactRequest req;
    req.mutable_contact()->set_last_name(last_name);
    req.mutable_contact()->set_personal_phone(phone);
    req.mutable_contact()->set_personal_email(email);
    crm::v1::Contact out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->contacts().CreateContact(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  grpc::Status GetContact(const std::string& name, crm::v1::Contact* out) {
    crm::v1::GetContactRequest req;
    req.set_name(name);
    auto ctx = admin_->NewContext();
    return admin_->contacts().GetContact(ctx.get(), req, out);
  }

  // SQL straight to the server's database, as someone holding a copy of it.
  std::unique_ptr<store::Database> OpenDirect() {
    auto db = store::Database::Open(server_->database(), 1);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  std::string RawPhone(const std::string& name) {
    auto db = OpenDirect();
    std::string out = "<none>";
    const std::string id(absl::StripPrefix(name, "contacts/"));
    absl::Status s = db->WithSession([&](store::Session& session) {
      auto rows = store::Query(
          session, {"SELECT personal_phone FROM contacts WHERE id = ?", {id}},
          "test");
      if (!rows.ok()) return rows.status();
      if (rows->size() == 1) {
        if (const auto* t = std::get_if<std::string>(&(*rows)[0][0])) out = *t;
      }
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  void SetRawPhone(const std::string& name, const std::string& value) {
    auto db = OpenDirect();
    const std::string id(absl::StripPrefix(name, "contacts/"));
    absl::Status s = db->WithSession([&](store::Session& session) {
      return store::Execute(
                 session,
                 {"UPDATE contacts SET personal_phone = ? WHERE id = ?",
                  {value, id}},
                 "test")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  // Everything a copy of the database holds: the SQLite files' bytes (the
  // database, its write-ahead log), or pg_dump's output.
  std::string Dump() {
    const std::string& db = server_->database();
    std::string out;
    if (absl::StartsWith(db, "sqlite:")) {
      const std::filesystem::path file(db.substr(strlen("sqlite:")));
      int files = 0;
      for (const auto& entry :
           std::filesystem::directory_iterator(file.parent_path())) {
        if (!absl::StartsWith(entry.path().filename().string(),
                              file.filename().string())) {
          continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        out += bytes.str();
        ++files;
      }
      EXPECT_GE(files, 1);
      return out;
    }
    const std::string conninfo(absl::StripPrefix(db, "postgresql:"));
    const std::string cmd = absl::StrCat(
        "/usr/lib/postgresql/15/bin/pg_dump --no-owner -d '", conninfo, "'");
    FILE* pipe = popen(cmd.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    if (pipe == nullptr) return out;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    EXPECT_EQ(pclose(pipe), 0) << cmd;
    return out;
  }

  // The last names of the contacts matching `filter`, or "ERROR: ...".
  std::vector<std::string> ListNames(const std::string& filter) {
    crm::v1::ListContactsRequest req;
    req.set_filter(filter);
    req.set_page_size(100);
    crm::v1::ListContactsResponse out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->contacts().ListContacts(ctx.get(), req, &out);
    if (!s.ok()) return {absl::StrCat("ERROR: ", Text(s))};
    std::vector<std::string> names;
    for (const auto& c : out.contacts()) names.push_back(c.last_name());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
};

TEST_P(EncryptionTest, RoundTripsThroughTheApiEncryptedInItsColumn) {
  crm::v1::Contact created = CreateContact("Lamarr", "+43 660 1234567");
  EXPECT_EQ(created.personal_phone(), "+43 660 1234567");
  crm::v1::Contact got;
  grpc::Status s = GetContact(created.name(), &got);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(got.personal_phone(), "+43 660 1234567");
  const std::string raw = RawPhone(created.name());
  EXPECT_THAT(raw, StartsWith("enc:v1:dk"));
  EXPECT_THAT(raw, Not(HasSubstr("1234567")));

  // Update, then List: still the plaintext through the API only.
  crm::v1::UpdateContactRequest up;
  *up.mutable_contact() = got;
  up.mutable_contact()->set_personal_phone("+43 660 7654321");
  up.mutable_update_mask()->add_paths("personal_phone");
  crm::v1::Contact updated;
  auto ctx = admin_->NewContext();
  s = admin_->contacts().UpdateContact(ctx.get(), up, &updated);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(updated.personal_phone(), "+43 660 7654321");
  EXPECT_THAT(RawPhone(created.name()), StartsWith("enc:v1:"));
  EXPECT_THAT(RawPhone(created.name()), Not(HasSubstr("7654321")));
  crm::v1::ListContactsRequest list;
  list.set_page_size(100);
  crm::v1::ListContactsResponse listed;
  ctx = admin_->NewContext();
  s = admin_->contacts().ListContacts(ctx.get(), list, &listed);
  ASSERT_TRUE(s.ok()) << Text(s);
  bool found = false;
  for (const auto& c : listed.contacts()) {
    if (c.name() == created.name()) {
      found = true;
      EXPECT_EQ(c.personal_phone(), "+43 660 7654321");
    }
  }
  EXPECT_TRUE(found);
}

TEST_P(EncryptionTest, ACiphertextCopiedToAnotherRecordIsNotShown) {
  crm::v1::Contact a = CreateContact("Noether", "+49 30 11112222");
  crm::v1::Contact b = CreateContact("Meitner", "+49 30 33334444");
  SetRawPhone(b.name(), RawPhone(a.name()));
  crm::v1::Contact got;
  grpc::Status s = GetContact(b.name(), &got);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("error id"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("11112222")));
  EXPECT_EQ(got.personal_phone(), "");
  // The record it came from still reads.
  s = GetContact(a.name(), &got);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(got.personal_phone(), "+49 30 11112222");
}

TEST_P(EncryptionTest, FilteringAndSortingOnTheFieldAreRefused) {
  CreateContact("Curie", "+33 1 44556677");
  for (const auto& [filter, order_by] :
       std::vector<std::pair<std::string, std::string>>{
           {"personal_phone = \"+33 1 44556677\"", ""},
           {"last_name = \"Curie\" OR personal_phone > \"+3\"", ""},
           {"", "personal_phone"},
           {"", "last_name, personal_phone desc"}}) {
    SCOPED_TRACE(filter + order_by);
    crm::v1::ListContactsRequest req;
    req.set_filter(filter);
    req.set_order_by(order_by);
    crm::v1::ListContactsResponse out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->contacts().ListContacts(ctx.get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    EXPECT_THAT(s.error_message(),
                HasSubstr("contacts.personal_phone is encrypted at rest and "
                          "cannot be filtered or sorted on"));
  }
}

TEST_P(EncryptionTest, ADumpOfTheDatabaseHoldsNoPlaintext) {
  struct Person {
    std::string last_name, phone, email;
  };
  const std::vector<Person> contacts = {
      {"Quokkaphilus", "+61 491 570 156", "quokka.private@mailbox.example"},
      {"Xylophanes", "+1 202 555 0173", "EMAIL-MARKER-77d0e9@example.net"},
      {"Zebrafinchia", "PHONE-MARKER-8c41f2", "zebra@finch.example"}};
  for (const Person& p : contacts) {
    crm::v1::Contact c = CreateContact(p.last_name, p.phone, p.email);
    crm::v1::Contact got;
    ASSERT_TRUE(GetContact(c.name(), &got).ok());
    ASSERT_EQ(got.personal_phone(), p.phone);
    ASSERT_EQ(got.personal_email(), p.email);
  }
  const std::string dump = Dump();
  ASSERT_FALSE(dump.empty());
  for (const Person& p : contacts) {
    EXPECT_TRUE(absl::StrContains(dump, p.last_name))
        << p.last_name << " should be in the dump (the search must work)";
    EXPECT_FALSE(absl::StrContains(dump, p.phone))
        << p.phone << " is in the dump";
    EXPECT_FALSE(absl::StrContains(dump, p.email))
        << p.email << " is in the dump";
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(dump),
                                   absl::AsciiStrToLower(p.email)));
  }
  EXPECT_FALSE(absl::StrContains(dump, "77d0e9"));
  EXPECT_FALSE(absl::StrContains(dump, "@home.example"));  // demo contacts
  // Nor the demo organisation's phone, nor a part of any.
  EXPECT_FALSE(absl::StrContains(dump, "7700 900123"));
  EXPECT_FALSE(absl::StrContains(dump, "8c41f2"));
  EXPECT_FALSE(absl::StrContains(dump, "570 156"));
  EXPECT_TRUE(absl::StrContains(dump, "enc:v1:dk"));
}

TEST_P(EncryptionTest, EqualityFiltersOnTheBlindIndexedEmail) {
  CreateContact("Franklin", "", "Rosalind@Example.org");
  CreateContact("Wilkins", "", "maurice@example.org");
  CreateContact("Watson", "", "");
  using V = std::vector<std::string>;
  EXPECT_EQ(ListNames("personal_email = \"rosalind@example.org\""),
            V{"Franklin"});
  // Case and surrounding spaces are ignored (the index's normalisation).
  EXPECT_EQ(ListNames("personal_email = \" ROSALIND@example.ORG \""),
            V{"Franklin"});
  EXPECT_EQ(ListNames("personal_email = \"nobody@example.org\""), V{});
  // != through the index too; the demo organisation's contacts have
  // addresses of their own.
  std::vector<std::string> others = ListNames(
      "personal_email != \"rosalind@example.org\" AND last_name != \"Ada\"");
  EXPECT_THAT(others, ::testing::Contains("Wilkins"));
  EXPECT_THAT(others, ::testing::Not(::testing::Contains("Franklin")));
  EXPECT_EQ(ListNames("personal_email = \"\" AND last_name = \"Watson\""),
            V{"Watson"});
  // Only equality.
  std::vector<std::string> refused =
      ListNames("personal_email < \"m\"");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_THAT(refused[0], StartsWith("ERROR: 3: "));  // INVALID_ARGUMENT
  EXPECT_THAT(refused[0],
              HasSubstr("contacts.personal_email is encrypted at rest: only = "
                        "and != filters work on it"));
  // The column holds ciphertext, the index column an HMAC.
  auto db = OpenDirect();
  absl::Status s = db->WithSession([&](store::Session& session) {
    auto rows = store::Query(
        session,
        {"SELECT personal_email, personal_email_bidx FROM contacts WHERE "
         "last_name = ?",
         {std::string("Franklin")}},
        "test");
    if (!rows.ok()) return rows.status();
    EXPECT_EQ(rows->size(), 1u);
    for (const auto& row : *rows) {
      const std::string value = std::get<std::string>(row[0]);
      const std::string index = std::get<std::string>(row[1]);
      EXPECT_THAT(value, StartsWith("enc:v1:"));
      EXPECT_THAT(absl::AsciiStrToLower(value), Not(HasSubstr("rosalind")));
      EXPECT_EQ(index.size(), 32u) << index;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
}

// Another server on the same database with another master key: refused,
// naming both key ids; no data key is created.
TEST_P(EncryptionTest, AnotherMasterKeyIsRefusedAtStart) {
  char dir[] = "/tmp/crm-enc-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string other = absl::StrCat(dir, "/other.key");
  auto key = crypto::GenerateMasterKeyFile(other);
  ASSERT_TRUE(key.ok()) << key.status();
  auto original = crypto::LoadMasterKey(server_->master_key_file());
  ASSERT_TRUE(original.ok());
  crm::internal::ServerConfig config =
      BaseTestConfig(server_->certs(), server_->database());
  config.mutable_encryption()->set_master_key_file(other);
  ASSERT_TRUE(server::FinalizeConfig(&config).ok());
  auto refused = server::CrmServer::Start(config, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition)
      << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(key->id()));
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(original->id()));
  // The running server is unaffected.
  crm::v1::Contact c = CreateContact("Hamilton", "+1 617 555 0101");
  crm::v1::Contact got;
  ASSERT_TRUE(GetContact(c.name(), &got).ok());
  EXPECT_EQ(got.personal_phone(), "+1 617 555 0101");
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, EncryptionTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

// Fails closed before touching the database: no file configured, a file
// that is not there, one readable by others, one that is not a key.
TEST(EncryptionStartup, RefusesToStartWithoutAUsableMasterKey) {
  char dir[] = "/tmp/crm-enc-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string open_key = absl::StrCat(dir, "/open.key");
  ASSERT_TRUE(crypto::GenerateMasterKeyFile(open_key).ok());
  ASSERT_EQ(chmod(open_key.c_str(), 0644), 0);
  const std::string bad_key = absl::StrCat(dir, "/bad.key");
  {
    std::ofstream(bad_key) << "not a key\n";
    ASSERT_EQ(chmod(bad_key.c_str(), 0600), 0);
  }
  struct Case {
    std::string file;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {"", {"encryption.master_key_file is not set", "openssl rand -hex 32",
            "chmod 600"}},
      {absl::StrCat(dir, "/missing.key"),
       {"encryption.master_key_file", "missing.key", "openssl rand -hex 32"}},
      {open_key, {"encryption.master_key_file", "chmod 600"}},
      {bad_key, {"encryption.master_key_file", "64 hex"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto server = TestServer::Start(
        {.customize = [&](crm::internal::ServerConfig& config) {
          config.mutable_encryption()->set_master_key_file(c.file);
        }});
    ASSERT_FALSE(server.ok());
    for (const std::string& part : c.message) {
      EXPECT_THAT(std::string(server.status().message()), HasSubstr(part));
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace crm::testing
