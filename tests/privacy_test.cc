// Subject requests (issue 13: export and erasure) through the real server
// over mTLS, on SQLite and PostgreSQL:
//   - export: the person's contacts and leads (by e-mail, phone or record
//     name), the activities regarding them and the contacts' cases, with
//     provenance, field history and who acted on them; audited under the
//     person's pseudonym, never a value;
//   - a service without privacy_operations is refused both;
//   - a record or field the caller may not read is absent from the export;
//   - erasure: dry run writes nothing; erasure anonymizes or deletes by the
//     rules, removes shares and history values, leaves no value in a dump of
//     the database, keeps the audit trail verifying, gives a signed receipt;
//     a second erasure (by any identifier of the person) is a no-op.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "audit/erasure_receipt.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/consent_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/privacy_service.grpc.pb.h"
#include "crm/v1/sharing_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

// Values unique enough that finding one in a dump means it is this one.
constexpr char kEmail[] = "ada.q7zx@example.com";
constexpr char kPhone[] = "+44 7700 9q7z11";
constexpr char kLastName[] = "Lovelaceq7zx";
constexpr char kTitle[] = "Countessq7zx";
constexpr char kOldTitle[] = "Analystq7zx";
constexpr char kPersonalPhone[] = "+44 7700 pp7z22";
constexpr char kActivitySubject[] = "Call about engines q7zx";
constexpr char kCaseDescription[] = "Engine broken q7zx";

class PrivacyTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli",
               {"manage_policy", "privacy_operations", "view_audit"});
           testing::GrantSystemPermissions(config, "web-frontend",
                                           {"privacy_operations"});
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    billing_ = server_->Client("billing");
    // admin-cli reads and writes the sensitive personal_phone.
    CreatePolicy("sensitive", R"pb(permission_set {
      field_permissions { object: "contacts" field: "personal_phone"
                          read: true edit: true }
      assignees: "services/admin-cli"
    })pb");
  }

  void CreatePolicy(const std::string& id, const char* text) {
    crm::v1::PolicyObject object;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &object))
        << text;
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    crm::v1::PolicyObject created;
    auto ctx = admin_->NewContext();
    grpc::Status s =
        admin_->policy_admin().CreatePolicyObject(ctx.get(), req, &created);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  crm::v1::PrivacyService::Stub& Privacy(client::CrmClient& c) {
    stubs_.push_back(crm::v1::PrivacyService::NewStub(c.channel()));
    return *stubs_.back();
  }

  grpc::Status Export(client::CrmClient& c, const std::string& subject,
                      crm::v1::ExportSubjectResponse* out) {
    crm::v1::ExportSubjectRequest req;
    req.set_subject(subject);
    auto ctx = c.NewContext();
    return Privacy(c).ExportSubject(ctx.get(), req, out);
  }

  grpc::Status Erase(client::CrmClient& c, const std::string& subject,
                     bool dry_run, crm::v1::EraseSubjectResponse* out) {
    crm::v1::EraseSubjectRequest req;
    req.set_subject(subject);
    req.set_dry_run(dry_run);
    auto ctx = c.NewContext();
    return Privacy(c).EraseSubject(ctx.get(), req, out);
  }

  // Ada: a contact (with a title changed once, a sensitive phone, a manual
  // share), a lead with her e-mail, 3 activities regarding the contact, one
  // regarding the lead, and a case of the contact. Another contact, Babbage,
  // is not hers.
  void CreateAda() {
    crm::v1::CreateContactRequest c;
    c.mutable_contact()->set_first_name("Ada");
    c.mutable_contact()->set_last_name(kLastName);
    c.mutable_contact()->set_email(kEmail);
    c.mutable_contact()->set_phone(kPhone);
    c.mutable_contact()->set_title(kOldTitle);
    c.mutable_contact()->set_personal_phone(kPersonalPhone);
    {
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->contacts().CreateContact(ctx.get(), c, &contact_);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
    {
      crm::v1::UpdateContactRequest u;
      u.mutable_contact()->set_name(contact_.name());
      u.mutable_contact()->set_title(kTitle);
      u.mutable_update_mask()->add_paths("title");
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->contacts().UpdateContact(ctx.get(), u, &contact_);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
    {
      crm::v1::CreateContactRequest b;
      b.mutable_contact()->set_last_name("Babbage");
      b.mutable_contact()->set_email("cb@example.com");
      auto ctx = admin_->NewContext();
      ASSERT_TRUE(admin_->contacts().CreateContact(ctx.get(), b, &other_).ok());
    }
    {
      crm::v1::CreateLeadRequest l;
      l.mutable_lead()->set_last_name(kLastName);
      l.mutable_lead()->set_email(absl::StrCat(" ", kEmail, " "));
      l.mutable_lead()->set_company("Analytical q7zx");
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->leads().CreateLead(ctx.get(), l, &lead_);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
    for (int i = 0; i < 4; ++i) {
      crm::v1::CreateActivityRequest a;
      a.mutable_activity()->set_kind(crm::v1::Activity::CALL);
      a.mutable_activity()->set_subject(kActivitySubject);
      a.mutable_activity()->set_regarding(i < 3 ? contact_.name()
                                                : lead_.name());
      crm::v1::Activity out;
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->activities().CreateActivity(ctx.get(), a, &out);
      ASSERT_TRUE(s.ok()) << Text(s);
      activities_.push_back(out.name());
    }
    {
      crm::v1::CreateCaseRequest k;
      k.mutable_case_()->set_subject("Engine");
      k.mutable_case_()->set_contact(contact_.name());
      k.mutable_case_()->set_description(kCaseDescription);
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->cases().CreateCase(ctx.get(), k, &case_);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
    {
      // The grantee of the share below.
      store::ProfileRow plain;
      plain.id = "plain";
      plain.name = "Plain";
      ASSERT_TRUE(AddProfile(*server_, plain).ok());
      ASSERT_TRUE(AddUser(*server_, "sam", "pw", "plain").ok());
    }
    {
      crm::v1::ShareRecordRequest r;
      r.set_record(contact_.name());
      r.mutable_grantee()->set_user("users/sam");
      r.set_access(crm::v1::READ);
      crm::v1::RecordShare out;
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->sharing().ShareRecord(ctx.get(), r, &out);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
  }

  std::vector<crm::v1::AuditEvent> AuditEvents(const std::string& filter) {
    crm::v1::ListAuditEventsRequest req;
    req.set_filter(filter);
    req.set_page_size(1000);
    crm::v1::ListAuditEventsResponse out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return {out.events().begin(), out.events().end()};
  }

  crm::v1::AuditVerification VerifyAudit() {
    crm::v1::AuditVerification result;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->audit().VerifyAuditLog(
        ctx.get(), crm::v1::VerifyAuditLogRequest(), &result);
    EXPECT_TRUE(s.ok()) << Text(s);
    return result;
  }

  // Everything a copy of the database holds: the SQLite files' bytes (the
  // database, its write-ahead log), or pg_dump's output.
  std::string Dump() {
    const std::string& db = server_->database();
    std::string out;
    if (absl::StartsWith(db, "sqlite:")) {
      const std::filesystem::path file(db.substr(strlen("sqlite:")));
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
      }
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

  int64_t Count(const std::string& sql) {
    auto db = store::Database::Open(server_->database(), 1);
    EXPECT_TRUE(db.ok()) << db.status();
    int64_t n = -1;
    absl::Status s = (*db)->WithSession([&](store::Session& session) {
      auto v = store::QueryInt(session, {sql, {}}, "test");
      if (!v.ok()) return v.status();
      n = *v;
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
    return n;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_, billing_;
  std::vector<std::unique_ptr<crm::v1::PrivacyService::Stub>> stubs_;
  crm::v1::Contact contact_, other_;
  crm::v1::Lead lead_;
  crm::v1::Case case_;
  std::vector<std::string> activities_;
};

TEST_P(PrivacyTest, ExportHoldsThePersonsRecordsHistoryAndAccessors) {
  CreateAda();
  // Ada opted in to marketing by e-mail, then out: the export holds the
  // entry and both changes.
  {
    auto stub = crm::v1::ConsentService::NewStub(admin_->channel());
    crm::v1::Consent written;
    for (crm::v1::ConsentState state : {crm::v1::OPTED_IN, crm::v1::OPTED_OUT}) {
      crm::v1::SetConsentRequest req;
      req.set_record(contact_.name());
      req.set_channel("email");
      req.set_purpose("marketing");
      req.set_state(state);
      req.set_etag(written.etag());
      auto ctx = admin_->NewContext();
      grpc::Status s = stub->SetConsent(ctx.get(), req, &written);
      ASSERT_TRUE(s.ok()) << Text(s);
    }
  }
  crm::v1::ExportSubjectResponse out;
  // Any case and surrounding spaces.
  grpc::Status s = Export(*admin_, "  ADA.Q7ZX@example.com ", &out);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(out.record_counts().at("contacts"), 1);
  EXPECT_EQ(out.record_counts().at("leads"), 1);
  EXPECT_EQ(out.record_counts().at("activities"), 4);
  EXPECT_EQ(out.record_counts().at("cases"), 1);
  const std::string& doc = out.document();
  EXPECT_THAT(doc, HasSubstr(contact_.name()));
  EXPECT_THAT(doc, HasSubstr(lead_.name()));
  EXPECT_THAT(doc, HasSubstr(case_.name()));
  for (const std::string& a : activities_) EXPECT_THAT(doc, HasSubstr(a));
  EXPECT_FALSE(absl::StrContains(doc, other_.name())) << "not Ada's";
  // Field history with the old value, provenance, and who acted.
  EXPECT_THAT(doc, HasSubstr(kOldTitle));
  EXPECT_THAT(doc, HasSubstr("\"fieldHistory\":{"));
  EXPECT_THAT(doc, HasSubstr("\"provenance\":{"));
  EXPECT_THAT(doc, HasSubstr("\"consent\":{"));
  EXPECT_THAT(doc, HasSubstr(absl::StrCat(
                       "\"", contact_.name(),
                       "\":[{\"channel\":\"email\",\"purpose\":\"marketing\","
                       "\"state\":\"opted-out\"")));
  EXPECT_THAT(doc, HasSubstr("\"state\":\"opted-out\",\"previousState\":"
                             "\"opted-in\""));
  EXPECT_THAT(doc, HasSubstr("\"principal\":\"services/admin-cli\""));
  EXPECT_THAT(doc, HasSubstr("records.share"));
  EXPECT_TRUE(absl::StartsWith(out.subject(), "subjects/"));
  EXPECT_EQ(out.subject().size(), strlen("subjects/") + 32);

  // By phone, and by record name: the same person.
  crm::v1::ExportSubjectResponse by_phone, by_name;
  ASSERT_TRUE(Export(*admin_, kPhone, &by_phone).ok());
  EXPECT_EQ(by_phone.record_counts().at("contacts"), 1);
  ASSERT_TRUE(Export(*admin_, contact_.name(), &by_name).ok());
  EXPECT_EQ(by_name.record_counts().at("leads"), 1);
  EXPECT_EQ(by_name.record_counts().at("activities"), 4);

  // Audited under the pseudonym, with counts and no value.
  auto events = AuditEvents("action = \"privacy.export\"");
  ASSERT_EQ(events.size(), 3u);
  bool found = false;
  for (const auto& e : events) {
    const std::string text = e.DebugString();
    EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(text), "q7zx"))
        << text;
    if (e.resource() == out.subject()) {
      found = true;
      EXPECT_EQ(e.attributes().at("count.activities"), "4");
      EXPECT_EQ(e.actor_service(), "services/admin-cli");
    }
  }
  EXPECT_TRUE(found);
}

TEST_P(PrivacyTest, AServiceWithoutPrivacyOperationsIsRefused) {
  CreateAda();
  crm::v1::ExportSubjectResponse out;
  grpc::Status s = Export(*billing_, kEmail, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("privacy_operations"));
  EXPECT_TRUE(out.document().empty());
  crm::v1::EraseSubjectResponse erased;
  s = Erase(*billing_, kEmail, /*dry_run=*/true, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  s = Erase(*billing_, kEmail, /*dry_run=*/false, &erased);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // Nothing was erased.
  crm::v1::GetContactRequest g;
  g.set_name(contact_.name());
  crm::v1::Contact now;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->contacts().GetContact(ctx.get(), g, &now).ok());
  EXPECT_EQ(now.last_name(), kLastName);
  // The refusals are in the audit trail. A refusal's event is queued
  // without making the caller wait (store/audit_log.h): wait for them (up
  // to a minute), never for a time.
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  auto denied = AuditEvents("outcome = \"DENIED\"");
  while (denied.size() < 3u && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    denied = AuditEvents("outcome = \"DENIED\"");
  }
  ASSERT_EQ(denied.size(), 3u);
  for (const auto& e : denied) {
    EXPECT_EQ(e.actor_service(), "services/billing");
    EXPECT_FALSE(absl::StrContains(e.DebugString(), "q7zx")) << e.DebugString();
  }
}

TEST_P(PrivacyTest, ARecordOrFieldTheCallerMayNotReadIsNotExported) {
  CreateAda();
  // Bob, a privacy officer through web-frontend, reads his own contacts
  // only, without their description.
  store::ProfileRow officer;
  officer.id = "officer";
  officer.name = "Privacy officer";
  officer.system_permissions = "privacy_operations";
  ASSERT_TRUE(AddProfile(*server_, officer).ok());
  ASSERT_TRUE(AddUser(*server_, "bob", "pw", "officer").ok());
  CreatePolicy("officers", R"pb(permission_set {
    object_permissions { object: "contacts" read: true create: true }
    field_permissions { object: "contacts" field: "description" read: false }
    assignees: "profiles/officer"
  })pb");
  auto bob = server_->Client("web-frontend");
  auto token = LoginToken(*bob, "bob", "pw");
  ASSERT_TRUE(token.ok()) << token.status();
  bob->set_session_token(*token);
  // A contact of Ada's shared with bob, with a description he may not read.
  crm::v1::Contact own;
  {
    crm::v1::CreateContactRequest c;
    c.mutable_contact()->set_last_name("Ada-shared");
    c.mutable_contact()->set_email(kEmail);
    c.mutable_contact()->set_description("hidden-desc-q7zx");
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->contacts().CreateContact(ctx.get(), c, &own);
    ASSERT_TRUE(s.ok()) << Text(s);
    crm::v1::ShareRecordRequest r;
    r.set_record(own.name());
    r.mutable_grantee()->set_user("users/bob");
    r.set_access(crm::v1::READ);
    crm::v1::RecordShare share;
    auto ctx2 = admin_->NewContext();
    s = admin_->sharing().ShareRecord(ctx2.get(), r, &share);
    ASSERT_TRUE(s.ok()) << Text(s);
  }
  crm::v1::ExportSubjectResponse out;
  grpc::Status s = Export(*bob, kEmail, &out);
  ASSERT_TRUE(s.ok()) << Text(s);
  const std::string& doc = out.document();
  EXPECT_THAT(doc, HasSubstr(own.name()));
  EXPECT_EQ(out.record_counts().at("contacts"), 1);
  // Admin's Ada, her lead, activities and case are not readable by bob.
  EXPECT_FALSE(absl::StrContains(doc, contact_.name()));
  EXPECT_FALSE(absl::StrContains(doc, kLastName));
  EXPECT_FALSE(absl::StrContains(doc, case_.name()));
  EXPECT_EQ(out.record_counts().at("leads"), 0);
  EXPECT_EQ(out.record_counts().at("activities"), 0);
  // The unreadable field: not its value, not its name, not its history.
  EXPECT_FALSE(absl::StrContains(doc, "hidden-desc-q7zx"));
  EXPECT_FALSE(absl::StrContains(doc, "description"));
}

TEST_P(PrivacyTest, ADryRunWritesNothing) {
  CreateAda();
  crm::v1::EraseSubjectResponse out;
  grpc::Status s = Erase(*admin_, kEmail, /*dry_run=*/true, &out);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_TRUE(out.dry_run());
  EXPECT_FALSE(out.has_receipt());
  // Contact, lead, 4 activities, case.
  ASSERT_EQ(out.would_erase_size(), 7);
  int deleted = 0;
  for (const auto& r : out.would_erase()) {
    if (r.action() == crm::v1::ErasedRecord::DELETED) ++deleted;
    if (r.record() == contact_.name()) {
      EXPECT_EQ(r.shares_removed(), 1);
      EXPECT_GE(r.history_scrubbed(), 4);  // names, email, phone, titles
    }
  }
  EXPECT_EQ(deleted, 4);
  crm::v1::ExportSubjectResponse after;
  ASSERT_TRUE(Export(*admin_, kEmail, &after).ok());
  EXPECT_EQ(after.record_counts().at("activities"), 4);
  EXPECT_THAT(after.document(), HasSubstr(kLastName));
  EXPECT_TRUE(AuditEvents("action = \"privacy.erase\"").empty());
}

TEST_P(PrivacyTest, ErasureLeavesNoValueAndTheAuditTrailVerifies) {
  CreateAda();
  // Present before: the dump must find them, or the search proves nothing.
  {
    const std::string before = Dump();
    EXPECT_TRUE(absl::StrContains(before, kLastName));
    EXPECT_TRUE(absl::StrContains(before, kOldTitle));
    EXPECT_TRUE(absl::StrContains(before, kActivitySubject));
  }
  crm::v1::EraseSubjectResponse out;
  grpc::Status s = Erase(*admin_, kEmail, /*dry_run=*/false, &out);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_FALSE(out.already_erased());
  const crm::v1::ErasureReceipt& receipt = out.receipt();
  ASSERT_EQ(receipt.records_size(), 7);
  EXPECT_TRUE(audit::VerifyErasureReceipt(receipt, "").ok());
  // Erased in batches per object: each record keeps its own counts (the
  // shared contact next to the lead with no share), persons first.
  EXPECT_EQ(receipt.records(0).record(), contact_.name());
  EXPECT_EQ(receipt.records(0).shares_removed(), 1);
  EXPECT_GT(receipt.records(0).history_scrubbed(), 0);
  bool saw_lead = false;
  for (const crm::v1::ErasedRecord& r : receipt.records()) {
    if (r.record() != lead_.name()) continue;
    saw_lead = true;
    EXPECT_EQ(r.shares_removed(), 0);
    EXPECT_GT(r.history_scrubbed(), 0);
    EXPECT_EQ(r.action(), crm::v1::ErasedRecord::ANONYMIZED);
  }
  EXPECT_TRUE(saw_lead);
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(receipt.DebugString()),
                                 "q7zx"));

  // The contact stays, anonymized; the activities are gone; the share too.
  crm::v1::GetContactRequest g;
  g.set_name(contact_.name());
  crm::v1::Contact now;
  {
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->contacts().GetContact(ctx.get(), g, &now).ok());
  }
  EXPECT_EQ(now.last_name(), "[erased]");
  EXPECT_EQ(now.email(), "");
  EXPECT_EQ(now.phone(), "");
  for (const std::string& a : activities_) {
    crm::v1::GetActivityRequest ga;
    ga.set_name(a);
    crm::v1::Activity act;
    auto ctx = admin_->NewContext();
    EXPECT_EQ(admin_->activities().GetActivity(ctx.get(), ga, &act).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Count("SELECT COUNT(*) FROM record_shares"), 0);
  EXPECT_EQ(Count(absl::StrCat("SELECT COUNT(*) FROM field_history WHERE "
                               "record_id = '",
                               contact_.name().substr(strlen("contacts/")),
                               "' AND value_recorded = 1 AND field IN "
                               "('title', 'email', 'last_name')")),
            0);
  // Babbage is untouched.
  {
    crm::v1::GetContactRequest gb;
    gb.set_name(other_.name());
    crm::v1::Contact b;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->contacts().GetContact(ctx.get(), gb, &b).ok());
    EXPECT_EQ(b.last_name(), "Babbage");
  }

  // No value of hers anywhere in a copy of the database.
  const std::string dump = Dump();
  ASSERT_FALSE(dump.empty());
  EXPECT_TRUE(absl::StrContains(dump, "Babbage")) << "the search must work";
  for (const char* value : {kEmail, kPhone, kLastName, kTitle, kOldTitle,
                            kActivitySubject, kCaseDescription,
                            "Analytical q7zx"}) {
    EXPECT_FALSE(absl::StrContains(dump, value)) << value << " is in the dump";
  }

  // The audit trail verifies and names her by pseudonym only.
  crm::v1::AuditVerification v = VerifyAudit();
  EXPECT_TRUE(v.ok()) << v.problem();
  auto events = AuditEvents("action = \"privacy.erase\"");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].resource(), out.subject());
  EXPECT_EQ(events[0].attributes().at("receipt"), receipt.name());
  EXPECT_EQ(events[0].attributes().at("deleted.activities"), "4");

  // A second erasure, by any identifier of hers, is a no-op with the first
  // receipt.
  for (const std::string& again :
       {std::string(kEmail), std::string(kPhone), contact_.name(),
        lead_.name()}) {
    crm::v1::EraseSubjectResponse second;
    s = Erase(*admin_, again, /*dry_run=*/false, &second);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_TRUE(second.already_erased()) << again;
    EXPECT_EQ(second.receipt().name(), receipt.name()) << again;
  }
  EXPECT_EQ(AuditEvents("action = \"privacy.erase\"").size(), 1u);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM erasure_receipts"), 1);

  // The stored receipt is the one given, and still verifies.
  crm::v1::GetErasureReceiptRequest gr;
  gr.set_name(receipt.name());
  crm::v1::ErasureReceipt stored;
  {
    auto ctx = admin_->NewContext();
    s = Privacy(*admin_).GetErasureReceipt(ctx.get(), gr, &stored);
  }
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(stored.SerializeAsString(), receipt.SerializeAsString());
  EXPECT_TRUE(audit::VerifyErasureReceipt(stored, "").ok());
}

TEST_P(PrivacyTest, AnAlteredReceiptDoesNotVerify) {
  CreateAda();
  crm::v1::EraseSubjectResponse out;
  ASSERT_TRUE(Erase(*admin_, kEmail, false, &out).ok());
  crm::v1::ErasureReceipt r = out.receipt();
  ASSERT_TRUE(audit::VerifyErasureReceipt(r, "").ok());
  // A record dropped from what is shown.
  crm::v1::ErasureReceipt fewer = r;
  fewer.mutable_records()->RemoveLast();
  EXPECT_FALSE(audit::VerifyErasureReceipt(fewer, "").ok());
  // A re-signed statement under another key: caught by the pinned key.
  crm::v1::ErasureReceipt forged = r;
  auto other = audit::Signer::Generate();
  forged.set_signature(other.Sign(forged.statement()));
  forged.set_public_key_pem(other.public_key().pem());
  forged.set_key_id(other.public_key().key_id());
  EXPECT_TRUE(audit::VerifyErasureReceipt(forged, "").ok())
      << "self-consistent; only pinning tells";
  EXPECT_FALSE(audit::VerifyErasureReceipt(forged, r.public_key_pem()).ok());
  EXPECT_TRUE(audit::VerifyErasureReceipt(r, r.public_key_pem()).ok());
  // A changed signature.
  crm::v1::ErasureReceipt bad = r;
  std::string sig = bad.signature();
  sig[0] = sig[0] == '0' ? '1' : '0';
  bad.set_signature(sig);
  EXPECT_FALSE(audit::VerifyErasureReceipt(bad, "").ok());
}

TEST_P(PrivacyTest, ANobodyIsErasedWithAnEmptyReceiptOnce) {
  crm::v1::EraseSubjectResponse out;
  ASSERT_TRUE(Erase(*admin_, "nobody@example.com", false, &out).ok());
  EXPECT_EQ(out.receipt().records_size(), 0);
  crm::v1::EraseSubjectResponse again;
  ASSERT_TRUE(Erase(*admin_, "NOBODY@example.com", false, &again).ok());
  EXPECT_TRUE(again.already_erased());
  crm::v1::EraseSubjectResponse bad;
  grpc::Status s = Erase(*admin_, "accounts/a1", false, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  s = Erase(*admin_, "  ", false, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
}

INSTANTIATE_TEST_SUITE_P(Backends, PrivacyTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
