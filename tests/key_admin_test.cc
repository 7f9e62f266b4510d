// Data key rotation through KeyAdminService (crm/v1/key_admin_service.proto)
// and `crmctl keys`, on the real server over mTLS with the demo
// organisation, on SQLite and PostgreSQL:
//   - the status before and after a rotation: keys, the current one, the
//     values not under it (a plaintext value from before encryption too);
//   - a rotation re-encrypts every value (each column carries the new key
//     id) and every value still reads, with the same etag;
//   - refused without manage_policy (a service with no system permission,
//     and the demo auditor through admin-cli), before anything changes;
//   - its audit events name key ids and counts, never key material;
//   - interrupted (a deadline mid-way, or a key made by a rotation that
//     stopped), a RESUME finishes it under the same key;
//   - two servers on one database: after a rotation on A, B reads what A
//     wrote under the new key, and writes under it, without a restart;
//   - crmctl keys status / rotate and their exit codes.
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/key_admin_service.grpc.pb.h"
#include "crypto/master_key.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/demo_data.h"
#include "store/database.h"
#include "store/field_encryption.h"
#include "store/key_rotation.h"
#include "store/statement.h"
#include "tests/auth_test_util.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::RotateDataKeyRequest;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

// admin-cli: manage_policy (to rotate) and view_audit (to read the events).
void AdminMayRotateAndAudit(crm::internal::ServerConfig& config) {
  GrantManagePolicy(config);
  for (auto& s : *config.mutable_services()) {
    if (s.name() == "admin-cli") s.add_system_permissions("view_audit");
  }
}

class KeyAdminTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(), .customize = AdminMayRotateAndAudit});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    absl::Status demo = server::LoadDemoOrganisation(server_->server().core());
    ASSERT_TRUE(demo.ok()) << demo;
    ASSERT_TRUE(server_->server().ReloadPolicy().ok());
    admin_ = server_->Client("admin-cli");
    auto db = store::Database::Open(server_->database(), 1);
    ASSERT_TRUE(db.ok()) << db.status();
    direct_ = *std::move(db);
  }

  grpc::Status Status(const client::CrmClient& c, crm::v1::KeyStatus* out) {
    auto ctx = c.NewContext();
    return c.key_admin().GetKeyStatus(ctx.get(), crm::v1::GetKeyStatusRequest(),
                                      out);
  }

  crm::v1::KeyStatus StatusOrDie(const client::CrmClient& c) {
    crm::v1::KeyStatus out;
    grpc::Status s = Status(c, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  grpc::Status Rotate(const client::CrmClient& c,
                      RotateDataKeyRequest::Mode mode, int batch,
                      crm::v1::RotateDataKeyResponse* out,
                      absl::Duration deadline = absl::Seconds(60)) {
    RotateDataKeyRequest req;
    req.set_mode(mode);
    req.set_batch_size(batch);
    auto ctx = c.NewContext();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    return c.key_admin().RotateDataKey(ctx.get(), req, out);
  }

  crm::v1::Contact Create(const client::CrmClient& c, const std::string& last,
                          const std::string& phone) {
    crm::v1::CreateContactRequest req;
    req.mutable_contact()->set_last_name(last);
    req.mutable_contact()->set_personal_phone(phone);
    req.mutable_contact()->set_personal_email(
        absl::StrCat(absl::AsciiStrToLower(last), "@private.example"));
    crm::v1::Contact out;
    auto ctx = c.NewContext();
    grpc::Status s = c.contacts().CreateContact(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  grpc::Status Get(const client::CrmClient& c, const std::string& name,
                   crm::v1::Contact* out) {
    crm::v1::GetContactRequest req;
    req.set_name(name);
    auto ctx = c.NewContext();
    return c.contacts().GetContact(ctx.get(), req, out);
  }

  std::vector<store::Row> Sql(const std::string& sql) {
    std::vector<store::Row> out;
    absl::Status s = direct_->WithSession([&](store::Session& session) {
      auto rows = store::Query(session, {sql, {}}, "test");
      if (!rows.ok()) return rows.status();
      out = *std::move(rows);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // id -> {personal_phone, personal_email} as stored, non-empty ones.
  std::map<std::string, std::vector<std::string>> RawValues() {
    std::map<std::string, std::vector<std::string>> out;
    for (const store::Row& row :
         Sql("SELECT id, personal_phone, personal_email FROM contacts")) {
      for (size_t i = 1; i < row.size(); ++i) {
        const std::string& v = std::get<std::string>(row[i]);
        if (!v.empty()) out[std::get<std::string>(row[0])].push_back(v);
      }
    }
    return out;
  }

  // Every stored sensitive value is under `key`.
  void ExpectAllUnder(const std::string& key) {
    const auto raw = RawValues();
    EXPECT_FALSE(raw.empty());
    for (const auto& [id, values] : raw) {
      for (const std::string& v : values) {
        EXPECT_THAT(v, StartsWith(absl::StrCat("enc:v1:", key, ":"))) << id;
      }
    }
  }

  // Every contact reads through the API with the phone it was created
  // with (`phones`: name -> phone).
  void ExpectReadable(const client::CrmClient& c,
                      const std::map<std::string, std::string>& phones) {
    for (const auto& [name, phone] : phones) {
      crm::v1::Contact got;
      grpc::Status s = Get(c, name, &got);
      ASSERT_TRUE(s.ok()) << name << ": " << Text(s);
      EXPECT_EQ(got.personal_phone(), phone) << name;
    }
  }

  std::map<std::string, std::string> DemoPhones() {
    std::map<std::string, std::string> out;
    for (const char* id : {"ada", "grace", "alan", "katherine", "edsger"}) {
      out[absl::StrCat("contacts/", id)] = "+44 7700 900123";
    }
    return out;
  }

  std::vector<crm::v1::AuditEvent> Events(const std::string& action) {
    crm::v1::ListAuditEventsRequest req;
    req.set_filter(absl::StrCat("action = \"", action, "\""));
    req.set_page_size(100);
    crm::v1::ListAuditEventsResponse out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return {out.events().begin(), out.events().end()};
  }

  int64_t Stale(const crm::v1::KeyStatus& st, const std::string& field) {
    for (const auto& v : st.stale()) {
      if (v.field() == field) return v.values();
    }
    ADD_FAILURE() << field << " not in the status";
    return -1;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<store::Database> direct_;
};

TEST_P(KeyAdminTest, StatusBeforeAndAfterARotation) {
  crm::v1::KeyStatus before = StatusOrDie(*admin_);
  auto master = crypto::LoadMasterKey(server_->master_key_file());
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_EQ(before.master_key_id(), master->id());
  ASSERT_EQ(before.data_keys_size(), 1);
  const std::string old_key = before.current_data_key();
  EXPECT_THAT(old_key, StartsWith("dk"));
  EXPECT_EQ(before.data_keys(0).id(), old_key);
  EXPECT_TRUE(before.data_keys(0).current());
  EXPECT_EQ(before.data_keys(0).master_key_id(), master->id());
  EXPECT_GT(before.data_keys(0).create_time().seconds(), 1700000000);
  EXPECT_EQ(before.stale_total(), 0);
  EXPECT_EQ(Stale(before, "contacts.personal_phone"), 0);
  EXPECT_EQ(Stale(before, "contacts.personal_email"), 0);

  // A value from before encryption (plaintext in its column) is stale.
  std::map<std::string, std::string> phones = DemoPhones();
  crm::v1::Contact legacy = Create(*admin_, "Legacy", "+1 555 0100");
  phones[legacy.name()] = "+1 555 0199";
  ASSERT_TRUE(direct_
                  ->WithSession([&](store::Session& session) {
                    return store::Execute(
                               session,
                               {"UPDATE contacts SET personal_phone = ? WHERE "
                                "id = ?",
                                {std::string("+1 555 0199"),
                                 std::string(absl::StripPrefix(legacy.name(),
                                                               "contacts/"))}},
                               "test")
                        .status();
                  })
                  .ok());
  crm::v1::KeyStatus stale = StatusOrDie(*admin_);
  EXPECT_EQ(Stale(stale, "contacts.personal_phone"), 1);
  EXPECT_EQ(stale.stale_total(), 1);
  crm::v1::Contact legacy_before;
  ASSERT_TRUE(Get(*admin_, legacy.name(), &legacy_before).ok());

  crm::v1::RotateDataKeyResponse rotated;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::NEW_KEY, 2, &rotated);
  ASSERT_TRUE(s.ok()) << Text(s);
  const std::string new_key = rotated.data_key();
  EXPECT_THAT(new_key, StartsWith("dk"));
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(rotated.previous_data_key(), old_key);
  ASSERT_EQ(rotated.reencrypted_size(), 1);
  EXPECT_EQ(rotated.reencrypted(0).collection(), "contacts");
  EXPECT_EQ(rotated.reencrypted(0).records(), 6);  // 5 demo + Legacy
  EXPECT_EQ(rotated.reencrypted_total(), 6);
  EXPECT_EQ(rotated.batches(), 3);
  for (const auto& r : rotated.remaining())
    EXPECT_EQ(r.values(), 0) << r.field();

  crm::v1::KeyStatus after = StatusOrDie(*admin_);
  EXPECT_EQ(after.current_data_key(), new_key);
  ASSERT_EQ(after.data_keys_size(), 2);
  EXPECT_EQ(after.data_keys(0).id(), old_key);
  EXPECT_FALSE(after.data_keys(0).current());
  EXPECT_EQ(after.data_keys(1).id(), new_key);
  EXPECT_TRUE(after.data_keys(1).current());
  EXPECT_EQ(after.stale_total(), 0);
  ExpectAllUnder(new_key);
  ExpectReadable(*admin_, phones);
  // Re-encryption does not change a record's version.
  crm::v1::Contact legacy_after;
  ASSERT_TRUE(Get(*admin_, legacy.name(), &legacy_after).ok());
  EXPECT_EQ(legacy_after.etag(), legacy_before.etag());
  // Nothing left: a RESUME finds nothing to do.
  crm::v1::RotateDataKeyResponse resumed;
  s = Rotate(*admin_, RotateDataKeyRequest::RESUME, 0, &resumed);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(resumed.data_key(), new_key);
  EXPECT_EQ(resumed.previous_data_key(), "");
  EXPECT_EQ(resumed.reencrypted_total(), 0);
}

TEST_P(KeyAdminTest, BadRequestsAreRefusedAndChangeNothing) {
  struct Case {
    RotateDataKeyRequest::Mode mode;
    int batch;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {RotateDataKeyRequest::MODE_UNSPECIFIED, 0, "mode: required"},
           {RotateDataKeyRequest::NEW_KEY, -1, "batch_size: 1 to 10000"},
           {RotateDataKeyRequest::NEW_KEY, 10001, "batch_size: 1 to 10000"},
           {RotateDataKeyRequest::RESUME, -5, "batch_size"}}) {
    crm::v1::RotateDataKeyResponse out;
    grpc::Status s = Rotate(*admin_, c.mode, c.batch, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
  }
  EXPECT_EQ(StatusOrDie(*admin_).data_keys_size(), 1);
}

// The least privileged callers: billing (no system permission), and a user
// holding view_audit only through a service holding manage_policy.
TEST_P(KeyAdminTest, RefusedWithoutManagePolicy) {
  auto billing = server_->Client("billing");
  crm::v1::KeyStatus st;
  grpc::Status s = Status(*billing, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(),
              StartsWith("manage_policy is required to call"));
  crm::v1::RotateDataKeyResponse out;
  s = Rotate(*billing, RotateDataKeyRequest::NEW_KEY, 0, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(),
              StartsWith("manage_policy is required to call"));

  // A user acting through admin-cli (which holds it) must hold it too:
  // audrey, the demo auditor, holds view_audit only.
  auto audrey = server_->Client("admin-cli");
  auto token = LoginToken(*audrey, "audrey", "audrey-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();
  audrey->set_session_token(*token);
  s = Rotate(*audrey, RotateDataKeyRequest::NEW_KEY, 0, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  s = Status(*audrey, &st);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // Nothing changed, and the refusal is audited.
  crm::v1::KeyStatus now = StatusOrDie(*admin_);
  EXPECT_EQ(now.data_keys_size(), 1);
  EXPECT_TRUE(Events("keys.rotate").empty());
  bool refusal_audited = false;
  for (const auto& e : Events("crm.v1.KeyAdminService/RotateDataKey")) {
    if (e.outcome() == crm::v1::DENIED) refusal_audited = true;
  }
  EXPECT_TRUE(refusal_audited);
}

TEST_P(KeyAdminTest, AuditedWithKeyIdsAndCountsButNoKeyMaterial) {
  crm::v1::RotateDataKeyResponse rotated;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::NEW_KEY, 0, &rotated);
  ASSERT_TRUE(s.ok()) << Text(s);

  std::vector<crm::v1::AuditEvent> rotate = Events("keys.rotate");
  ASSERT_EQ(rotate.size(), 1u);
  const crm::v1::AuditEvent& r = rotate[0];
  EXPECT_EQ(r.resource(), absl::StrCat("dataKeys/", rotated.data_key()));
  EXPECT_EQ(r.outcome(), crm::v1::ALLOWED);
  EXPECT_EQ(r.actor_service(), "services/admin-cli");
  EXPECT_FALSE(r.request_id().empty());
  EXPECT_EQ(r.attributes().at("data_key"), rotated.data_key());
  EXPECT_EQ(r.attributes().at("previous_data_key"),
            rotated.previous_data_key());

  std::vector<crm::v1::AuditEvent> reencrypt = Events("keys.reencrypt");
  ASSERT_EQ(reencrypt.size(), 1u);
  const crm::v1::AuditEvent& e = reencrypt[0];
  EXPECT_EQ(e.outcome(), crm::v1::ALLOWED);
  EXPECT_EQ(e.request_id(), r.request_id());
  EXPECT_EQ(e.attributes().at("data_key"), rotated.data_key());
  EXPECT_EQ(e.attributes().at("mode"), "NEW_KEY");
  EXPECT_EQ(e.attributes().at("reencrypted.contacts"), "5");
  EXPECT_EQ(e.attributes().at("complete"), "true");
  EXPECT_EQ(e.attributes().at("remaining"), "0");

  // No key material: not the master key (its file's hex), not a wrapped
  // data key, not an encrypted value, not a plaintext one.
  std::ifstream in(server_->master_key_file());
  std::stringstream master_hex;
  master_hex << in.rdbuf();
  const std::string master(absl::StripAsciiWhitespace(master_hex.str()));
  ASSERT_EQ(master.size(), 64u);
  std::vector<std::string> secrets = {master,     master.substr(0, 16),
                                      "+44 7700", "home.example",
                                      "enc:v1:",  "wk:v1:"};
  for (const store::Row& row : Sql("SELECT wrapped FROM data_keys")) {
    const std::string& wrapped = std::get<std::string>(row[0]);
    secrets.push_back(wrapped);
    secrets.push_back(wrapped.substr(wrapped.rfind(':') + 1, 20));
  }
  for (const auto* event : {&r, &e}) {
    const std::string text = event->DebugString();
    for (const std::string& secret : secrets) {
      EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(text),
                                     absl::AsciiStrToLower(secret)))
          << secret << " in " << text;
    }
  }
}

// A rotation cut off by its deadline (the NEW_KEY mode's last pass waits
// 2 s for other servers, so a 300 ms deadline always cuts it): the key it
// made stays current, the batches done stay, and RESUME finishes under the
// same key.
TEST_P(KeyAdminTest, ADeadlineStopsItAndResumeFinishes) {
  std::map<std::string, std::string> phones = DemoPhones();
  for (int i = 0; i < 40; ++i) {
    const std::string phone = absl::StrCat("+49 170 55500", i);
    phones[Create(*admin_, absl::StrCat("Bulk", i), phone).name()] = phone;
  }
  const std::string old_key = StatusOrDie(*admin_).current_data_key();
  crm::v1::RotateDataKeyResponse out;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::NEW_KEY, 1, &out,
                          absl::Milliseconds(300));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << Text(s);
  // The server notices between two batches and records how far it got.
  std::vector<crm::v1::AuditEvent> stopped;
  for (absl::Time until = absl::Now() + absl::Seconds(10);
       stopped.empty() && absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(50))) {
    stopped = Events("keys.reencrypt");
  }
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].outcome(), crm::v1::FAILED);
  EXPECT_EQ(stopped[0].reason(), "DEADLINE_EXCEEDED");
  EXPECT_EQ(stopped[0].attributes().at("complete"), "false");

  crm::v1::KeyStatus mid = StatusOrDie(*admin_);
  ASSERT_EQ(mid.data_keys_size(), 2);
  const std::string new_key = mid.current_data_key();
  EXPECT_NE(new_key, old_key);
  ExpectReadable(*admin_, phones);  // mixed keys read

  crm::v1::RotateDataKeyResponse resumed;
  s = Rotate(*admin_, RotateDataKeyRequest::RESUME, 7, &resumed);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(resumed.data_key(), new_key);
  EXPECT_EQ(resumed.previous_data_key(), "");
  EXPECT_EQ(resumed.reencrypted_total(), Stale(mid, "contacts.personal_phone"));
  EXPECT_EQ(StatusOrDie(*admin_).stale_total(), 0);
  EXPECT_EQ(StatusOrDie(*admin_).data_keys_size(), 2);  // no new key
  ExpectAllUnder(new_key);
  ExpectReadable(*admin_, phones);
}

// A rotation that stopped right after making its key (the process died):
// status shows what is left, RESUME re-encrypts it.
TEST_P(KeyAdminTest, ResumeAfterARotationStoppedAtItsNewKey) {
  auto master = crypto::LoadMasterKey(server_->master_key_file());
  ASSERT_TRUE(master.ok()) << master.status();
  auto keyring = store::LoadOrCreateKeyring(*direct_, *master);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  store::FieldEncryption elsewhere(*master, *keyring);
  auto new_key = store::AddCurrentDataKey(*direct_, elsewhere);
  ASSERT_TRUE(new_key.ok()) << new_key.status();

  crm::v1::KeyStatus st = StatusOrDie(*admin_);
  EXPECT_EQ(st.current_data_key(), *new_key);
  EXPECT_EQ(Stale(st, "contacts.personal_phone"), 5);
  EXPECT_EQ(Stale(st, "contacts.personal_email"), 5);
  EXPECT_EQ(st.stale_total(), 10);

  crm::v1::RotateDataKeyResponse resumed;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::RESUME, 2, &resumed);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(resumed.data_key(), *new_key);
  EXPECT_EQ(resumed.reencrypted_total(), 5);
  EXPECT_EQ(StatusOrDie(*admin_).stale_total(), 0);
  ExpectAllUnder(*new_key);
  ExpectReadable(*admin_, DemoPhones());
}

// Two servers on one database: B neither restarts nor is told.
TEST_P(KeyAdminTest, AnotherServerReadsAndWritesUnderTheNewKey) {
  auto other =
      TestServer::Start({.backend = GetParam(),
                         .customize = [&](crm::internal::ServerConfig& config) {
                           AdminMayRotateAndAudit(config);
                           config.set_database(server_->database());
                           config.mutable_encryption()->set_master_key_file(
                               server_->master_key_file());
                         }});
  ASSERT_TRUE(other.ok()) << other.status();
  auto admin_b = (*other)->Client("admin-cli");
  crm::v1::Contact before = Create(*admin_, "Before", "+33 1 0000 0001");
  crm::v1::Contact got;
  ASSERT_TRUE(Get(*admin_b, before.name(), &got).ok());
  const std::string old_key = StatusOrDie(*admin_b).current_data_key();

  crm::v1::RotateDataKeyResponse rotated;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::NEW_KEY, 0, &rotated);
  ASSERT_TRUE(s.ok()) << Text(s);
  const std::string new_key = rotated.data_key();
  ASSERT_NE(new_key, old_key);

  // Written by A under the new key, read by B at once.
  crm::v1::Contact after = Create(*admin_, "After", "+33 1 0000 0002");
  s = Get(*admin_b, after.name(), &got);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(got.personal_phone(), "+33 1 0000 0002");
  s = Get(*admin_b, before.name(), &got);  // re-encrypted by A
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(got.personal_phone(), "+33 1 0000 0001");
  ExpectReadable(*admin_b, DemoPhones());

  // B writes under the new key: it has loaded it on the read above, and
  // would on its refresh round (every second) anyway.
  crm::v1::Contact by_b = Create(*admin_b, "ByB", "+33 1 0000 0003");
  EXPECT_THAT(
      RawValues()[std::string(absl::StripPrefix(by_b.name(), "contacts/"))][0],
      StartsWith(absl::StrCat("enc:v1:", new_key, ":")));
  EXPECT_EQ(StatusOrDie(*admin_b).current_data_key(), new_key);
  EXPECT_EQ(StatusOrDie(*admin_b).stale_total(), 0);
}

// Without reading anything under the new key, B picks it up for writing
// on its refresh round.
TEST_P(KeyAdminTest, AnotherServerWritesUnderTheNewKeyAfterItsRefresh) {
  auto other =
      TestServer::Start({.backend = GetParam(),
                         .customize = [&](crm::internal::ServerConfig& config) {
                           config.set_database(server_->database());
                           config.mutable_encryption()->set_master_key_file(
                               server_->master_key_file());
                         }});
  ASSERT_TRUE(other.ok()) << other.status();
  auto admin_b = (*other)->Client("admin-cli");
  crm::v1::RotateDataKeyResponse rotated;
  grpc::Status s = Rotate(*admin_, RotateDataKeyRequest::NEW_KEY, 0, &rotated);
  ASSERT_TRUE(s.ok()) << Text(s);
  // The rotation answered at least 2 s after its key was made; B's round
  // is every second. Allow a slow machine some more.
  std::string raw;
  for (absl::Time until = absl::Now() + absl::Seconds(5); absl::Now() < until;
       absl::SleepFor(absl::Milliseconds(200))) {
    crm::v1::Contact c = Create(*admin_b, "ByB", "+33 1 0000 0004");
    raw = RawValues()[std::string(absl::StripPrefix(c.name(), "contacts/"))][0];
    if (absl::StartsWith(raw,
                         absl::StrCat("enc:v1:", rotated.data_key(), ":"))) {
      break;
    }
  }
  EXPECT_THAT(raw,
              StartsWith(absl::StrCat("enc:v1:", rotated.data_key(), ":")));
}

TEST_P(KeyAdminTest, CrmctlKeysStatusAndRotate) {
  std::map<std::string, std::string> env = {
      {"CRM_TARGET", server_->target()},
      {"CRM_CA", server_->certs().ca},
      {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
      {"CRM_KEY", server_->certs().ClientKey("admin-cli")}};
  const std::string old_key = StatusOrDie(*admin_).current_data_key();
  CliResult r = RunCrmctl({"keys", "status"}, env);
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(old_key));
  EXPECT_THAT(r.out, HasSubstr("contacts.personal_phone"));
  EXPECT_THAT(r.out, HasSubstr("every value is under the current data key"));

  r = RunCrmctl({"keys", "rotate", "--batch", "2"}, env);
  ASSERT_EQ(r.code, 0) << r.Describe();
  const std::string new_key = StatusOrDie(*admin_).current_data_key();
  EXPECT_NE(new_key, old_key);
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("new current data key ", new_key,
                                            " (was ", old_key, ")")));
  EXPECT_THAT(r.out, HasSubstr("5 record(s) re-encrypted in 3 batch(es)"));

  r = RunCrmctl({"keys", "rotate", "--resume"}, env);
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("resumed re-encryption under data "
                                            "key ",
                                            new_key)));
  EXPECT_THAT(r.out, HasSubstr("0 record(s) re-encrypted"));

  r = RunCrmctl({"keys", "status", "--json"}, env);
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("\"current_data_key\": \"", new_key,
                                            "\"")));

  // Usage errors exit 1; server errors 2 + the gRPC code.
  r = RunCrmctl({"keys", "rotate", "--batch", "0"}, env);
  EXPECT_EQ(r.code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("--batch takes a positive number"));
  r = RunCrmctl({"keys", "spin"}, env);
  EXPECT_EQ(r.code, 1) << r.Describe();
  r = RunCrmctl({"keys", "rotate", "--batch", "20000"}, env);
  EXPECT_EQ(r.code, 2 + 3) << r.Describe();  // INVALID_ARGUMENT
  env["CRM_CERT"] = server_->certs().ClientCert("billing");
  env["CRM_KEY"] = server_->certs().ClientKey("billing");
  r = RunCrmctl({"keys", "rotate"}, env);
  EXPECT_EQ(r.code, 2 + 7) << r.Describe();  // PERMISSION_DENIED
  EXPECT_THAT(r.err, HasSubstr("manage_policy is required"));
  EXPECT_EQ(StatusOrDie(*admin_).current_data_key(), new_key);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyAdminTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
