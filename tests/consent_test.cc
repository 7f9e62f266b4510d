// Consent (issue 13) through the real server over mTLS, on SQLite and
// PostgreSQL:
//   - a web form's opt-out (SetConsent by the data source "web-forms")
//     hides the contact from the marketing service (marked with the purpose
//     "marketing") on its very next request: List, Get (NOT_FOUND as a
//     missing record), and it reappears on an opt-in;
//   - the fields of a channel the person opted out of are masked for it,
//     and it may not filter on a channel's field; a principal with no
//     purpose sees everything as before;
//   - SetConsent needs edit access or a data source that may record
//     consent: a least-privileged service without either is refused
//     (CONSENT_NOT_WRITABLE) and writes nothing; a hidden record is
//     NOT_FOUND exactly as a missing one;
//   - history (paged), etags, retries that change nothing, and one audit
//     event per change.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/empty.pb.h"
#include "clients/error_details.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/consent_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::ConsentState;
using crm::v1::PolicyObject;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

std::string Reason(const grpc::Status& s) {
  return client::DecodeErrorDetails(s).reason;
}

PolicyObject Parse(const char* text) {
  PolicyObject o;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &o)) << text;
  return o;
}

class ConsentTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli", {"manage_policy", "view_audit"});
           // The marketing tool: reads contacts, marked "marketing".
           auto* campaigns = config.add_services();
           campaigns->set_name("campaigns");
           campaigns->add_identities(TestCerts::Identity("campaigns"));
           campaigns->set_purpose("marketing");
           auto* g = campaigns->add_grants();
           g->set_object("contacts");
           g->set_read(true);
           // The web forms: read contacts, record their consent (as the
           // data source registered below), nothing else.
           auto* forms = config.add_services();
           forms->set_name("web-forms");
           forms->add_identities(TestCerts::Identity("web-forms"));
           g = forms->add_grants();
           g->set_object("contacts");
           g->set_read(true);
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    clients_["admin-cli"] = server_->Client("admin-cli");
    clients_["campaigns"] = server_->Client("campaigns");
    clients_["web-forms"] = server_->Client("web-forms");
    clients_["billing"] = server_->Client("billing");

    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Sales Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    for (const char* user : {"alice", "bob"}) {
      ASSERT_TRUE(AddUser(*server_, user, "pw", "rep").ok());
    }
    CreatePolicy("reps", Parse(R"pb(permission_set {
      object_permissions {
        object: "contacts" read: true create: true edit: true delete: true
      }
      assignees: "profiles/rep"
    })pb"));
    for (const char* user : {"alice", "bob"}) {
      auto client = server_->Client("web-frontend");
      auto token = LoginToken(*client, user, "pw");
      ASSERT_TRUE(token.ok()) << token.status();
      client->set_session_token(*token);
      clients_[user] = std::move(client);
    }
    // alice's contacts (private: bob cannot see them).
    for (const char* id : {"ada", "grace", "alan"}) {
      crm::v1::Contact c;
      c.set_first_name(id);
      c.set_last_name("Person");
      c.set_email(absl::StrCat(id, "@example.org"));
      c.set_phone("+44 20 7946 0000");
      c.set_mailing_city("London");
      c.set_title("Buyer");
      auto stub = crm::v1::ContactService::NewStub(As("alice").channel());
      crm::v1::CreateContactRequest req;
      *req.mutable_contact() = c;
      crm::v1::Contact out;
      auto ctx = As("alice").NewContext();
      grpc::Status s = stub->CreateContact(ctx.get(), req, &out);
      ASSERT_TRUE(s.ok()) << Text(s);
      names_[id] = out.name();
    }
    CreatePolicy("web-forms", Parse(R"pb(data_source {
      display_name: "Web forms" kind: WEB_FORMS service: "services/web-forms"
      purpose: "sign-ups and unsubscribes"
      writes { object: "contacts" consent: true }
    })pb"));
  }

  client::CrmClient& As(const std::string& who) { return *clients_.at(who); }

  void CreatePolicy(const std::string& id, const PolicyObject& object) {
    auto stub = crm::v1::PolicyAdminService::NewStub(As("admin-cli").channel());
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    PolicyObject out;
    auto ctx = As("admin-cli").NewContext();
    grpc::Status s = stub->CreatePolicyObject(ctx.get(), req, &out);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  grpc::Status Set(const std::string& who, const std::string& record,
                   const std::string& channel, ConsentState state,
                   crm::v1::Consent* out = nullptr,
                   const std::string& etag = "",
                   const std::string& purpose = "marketing") {
    auto stub = crm::v1::ConsentService::NewStub(As(who).channel());
    crm::v1::SetConsentRequest req;
    req.set_record(record);
    req.set_channel(channel);
    req.set_purpose(purpose);
    req.set_state(state);
    req.set_etag(etag);
    crm::v1::Consent ignored;
    auto ctx = As(who).NewContext();
    return stub->SetConsent(ctx.get(), req, out ? out : &ignored);
  }

  grpc::Status History(const std::string& who, const std::string& record,
                       crm::v1::ListConsentHistoryResponse* out,
                       int page_size = 0, const std::string& token = "") {
    auto stub = crm::v1::ConsentService::NewStub(As(who).channel());
    crm::v1::ListConsentHistoryRequest req;
    req.set_record(record);
    req.set_page_size(page_size);
    req.set_page_token(token);
    auto ctx = As(who).NewContext();
    return stub->ListConsentHistory(ctx.get(), req, out);
  }

  grpc::Status GetContact(const std::string& who, const std::string& name,
                          crm::v1::Contact* out) {
    auto stub = crm::v1::ContactService::NewStub(As(who).channel());
    crm::v1::GetContactRequest req;
    req.set_name(name);
    auto ctx = As(who).NewContext();
    return stub->GetContact(ctx.get(), req, out);
  }

  // The names List returns to `who` (every page), or the error.
  grpc::Status ListContacts(const std::string& who, std::set<std::string>* out,
                            const std::string& filter = "",
                            std::vector<crm::v1::Contact>* items = nullptr) {
    auto stub = crm::v1::ContactService::NewStub(As(who).channel());
    crm::v1::ListContactsRequest req;
    req.set_filter(filter);
    req.set_page_size(2);
    for (;;) {
      crm::v1::ListContactsResponse page;
      auto ctx = As(who).NewContext();
      grpc::Status s = stub->ListContacts(ctx.get(), req, &page);
      if (!s.ok()) return s;
      for (const auto& c : page.contacts()) {
        out->insert(c.name());
        if (items != nullptr) items->push_back(c);
      }
      if (page.next_page_token().empty()) return s;
      req.set_page_token(page.next_page_token());
    }
  }

  std::vector<crm::v1::AuditEvent> ConsentEvents() {
    std::vector<crm::v1::AuditEvent> out;
    crm::v1::ListAuditEventsRequest request;
    request.set_filter("action = \"consent.set\"");
    request.set_page_size(100);
    crm::v1::ListAuditEventsResponse page;
    auto ctx = As("admin-cli").NewContext();
    grpc::Status s =
        As("admin-cli").audit().ListAuditEvents(ctx.get(), request, &page);
    EXPECT_TRUE(s.ok()) << Text(s);
    for (const auto& e : page.events()) {
      if (e.action() == "consent.set") out.push_back(e);
    }
    return out;
  }

  // "ada" -> "contacts/{generated id}".
  const std::string& N(const std::string& who) const { return names_.at(who); }
  // The id part of N(who).
  std::string Id(const std::string& who) const {
    return N(who).substr(N(who).find('/') + 1);
  }

  std::map<std::string, std::string> names_;
  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::unique_ptr<client::CrmClient>> clients_;
};

TEST_P(ConsentTest, WebFormOptOutHidesTheContactFromMarketingOnTheNextRequest) {
  // Nobody consented yet: the marketing service sees no contact at all.
  std::set<std::string> seen;
  ASSERT_TRUE(ListContacts("campaigns", &seen).ok());
  EXPECT_TRUE(seen.empty());

  crm::v1::Consent c;
  grpc::Status s = Set("web-forms", N("ada"), "email",
                       crm::v1::OPTED_IN, &c);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(c.source(), "dataSources/web-forms");
  EXPECT_EQ(c.actor(), "services/web-forms");
  EXPECT_EQ(c.etag(), "v1");
  ASSERT_TRUE(
      Set("web-forms", N("grace"), "post", crm::v1::OPTED_IN).ok());
  ASSERT_TRUE(
      Set("web-forms", N("grace"), "email", crm::v1::OPTED_OUT).ok());
  // Another purpose does not count for marketing.
  ASSERT_TRUE(Set("web-forms", N("alan"), "email", crm::v1::OPTED_IN,
                  nullptr, "", "service")
                  .ok());

  seen.clear();
  std::vector<crm::v1::Contact> items;
  ASSERT_TRUE(ListContacts("campaigns", &seen, "", &items).ok());
  EXPECT_EQ(seen, (std::set<std::string>{N("ada"), N("grace")}));
  for (const auto& item : items) {
    if (item.name() == N("grace")) {
      // Grace opted out of marketing e-mail: her address is masked.
      EXPECT_EQ(item.email(), "");
      EXPECT_EQ(item.mailing_city(), "London");
      EXPECT_EQ(item.title(), "Buyer");
    } else {
      EXPECT_EQ(item.email(), "ada@example.org");
    }
  }
  crm::v1::Contact got;
  ASSERT_TRUE(GetContact("campaigns", N("grace"), &got).ok());
  EXPECT_EQ(got.email(), "");
  EXPECT_EQ(got.phone(), "+44 20 7946 0000");

  // Alan (no marketing consent) is as missing as a contact that does not
  // exist: same code, same message.
  grpc::Status hidden = GetContact("campaigns", N("alan"), &got);
  grpc::Status missing = GetContact("campaigns", "contacts/nobody", &got);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(absl::StrReplaceAll(hidden.error_message(), {{Id("alan"), "X"}}),
            absl::StrReplaceAll(missing.error_message(), {{"nobody", "X"}}));

  // A channel's field may not be filtered on (it would reveal masked
  // values); other fields may.
  std::set<std::string> filtered;
  grpc::Status by_email =
      ListContacts("campaigns", &filtered, "email = \"grace@example.org\"");
  EXPECT_EQ(by_email.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << Text(by_email);
  ASSERT_TRUE(ListContacts("campaigns", &filtered, "title = \"Buyer\"").ok());
  EXPECT_EQ(filtered.size(), 2u);

  // The unsubscribe: the very next request no longer sees Ada.
  ASSERT_TRUE(
      Set("web-forms", N("ada"), "email", crm::v1::OPTED_OUT).ok());
  seen.clear();
  ASSERT_TRUE(ListContacts("campaigns", &seen).ok());
  EXPECT_EQ(seen, (std::set<std::string>{N("grace")}));
  EXPECT_EQ(GetContact("campaigns", N("ada"), &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A principal with no purpose is not affected: alice sees all three,
  // with every field.
  seen.clear();
  items.clear();
  ASSERT_TRUE(ListContacts("alice", &seen, "", &items).ok());
  EXPECT_EQ(seen.size(), 3u);
  for (const auto& item : items) EXPECT_NE(item.email(), "");
}

TEST_P(ConsentTest, RecordingNeedsEditAccessOrAConsentSource) {
  // The owner may (edit access); recorded as herself.
  crm::v1::Consent c;
  grpc::Status s =
      Set("alice", N("ada"), "phone", crm::v1::OPTED_IN, &c);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(c.source(), "users/alice");
  EXPECT_EQ(c.actor(), "users/alice");
  EXPECT_EQ(c.service(), "services/web-frontend");

  // The marketing service reads Ada now, but may neither edit her nor
  // record consent: refused, naming why, and nothing is written.
  s = Set("campaigns", N("ada"), "email", crm::v1::OPTED_IN);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_EQ(Reason(s), "CONSENT_NOT_WRITABLE");
  EXPECT_NE(s.error_message().find("no data source"), std::string::npos)
      << s.error_message();

  // bob cannot see alice's contacts: NOT_FOUND, as for a missing one.
  grpc::Status hidden = Set("bob", N("ada"), "email", crm::v1::OPTED_IN);
  grpc::Status missing =
      Set("bob", "contacts/nobody", "email", crm::v1::OPTED_IN);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(absl::StrReplaceAll(hidden.error_message(), {{Id("ada"), "X"}}),
            absl::StrReplaceAll(missing.error_message(), {{"nobody", "X"}}));
  // Nor can billing read contacts at all.
  s = Set("billing", N("ada"), "email", crm::v1::OPTED_IN);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // Nor is consent kept for other objects, or for a bad channel or state.
  EXPECT_EQ(Set("alice", "accounts/x", "email", crm::v1::OPTED_IN).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Set("alice", N("ada"), "fax", crm::v1::OPTED_IN).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Set("alice", N("ada"), "email",
                crm::v1::CONSENT_STATE_UNSPECIFIED)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  crm::v1::ListConsentHistoryResponse history;
  ASSERT_TRUE(History("alice", N("ada"), &history).ok());
  EXPECT_EQ(history.changes_size(), 1);
  // bob may not read the history of a contact hidden from him.
  EXPECT_EQ(History("bob", N("ada"), &history).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(ConsentTest, HistoryEtagsRetriesAndAudit) {
  crm::v1::Consent c;
  ASSERT_TRUE(
      Set("web-forms", N("ada"), "email", crm::v1::OPTED_IN, &c).ok());
  // The same state again changes nothing (a retried web form).
  crm::v1::Consent again;
  ASSERT_TRUE(
      Set("web-forms", N("ada"), "email", crm::v1::OPTED_IN, &again)
          .ok());
  EXPECT_EQ(again.etag(), c.etag());
  // A stale etag is refused.
  grpc::Status stale = Set("alice", N("ada"), "email",
                           crm::v1::OPTED_OUT, nullptr, "v0");
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED) << Text(stale);
  ASSERT_TRUE(Set("alice", N("ada"), "email", crm::v1::OPTED_OUT,
                  nullptr, c.etag())
                  .ok());
  ASSERT_TRUE(
      Set("web-forms", N("ada"), "post", crm::v1::OPTED_IN).ok());

  crm::v1::ListConsentHistoryResponse page;
  ASSERT_TRUE(History("alice", N("ada"), &page, 2).ok());
  ASSERT_EQ(page.changes_size(), 2);
  EXPECT_EQ(page.changes(0).sequence(), 1);
  EXPECT_EQ(page.changes(0).consent().state(), crm::v1::OPTED_IN);
  EXPECT_EQ(page.changes(0).previous_state(), crm::v1::UNKNOWN);
  EXPECT_EQ(page.changes(1).consent().state(), crm::v1::OPTED_OUT);
  EXPECT_EQ(page.changes(1).previous_state(), crm::v1::OPTED_IN);
  EXPECT_EQ(page.changes(1).consent().source(), "users/alice");
  ASSERT_FALSE(page.next_page_token().empty());
  crm::v1::ListConsentHistoryResponse rest;
  ASSERT_TRUE(
      History("alice", N("ada"), &rest, 2, page.next_page_token()).ok());
  ASSERT_EQ(rest.changes_size(), 1);
  EXPECT_EQ(rest.changes(0).consent().channel(), "post");
  EXPECT_TRUE(rest.next_page_token().empty());

  // One audit event per change (three), none for the retry or refusal.
  std::vector<crm::v1::AuditEvent> events = ConsentEvents();
  std::string listed;
  for (const auto& e : events) absl::StrAppend(&listed, e.DebugString(), "\n");
  ASSERT_EQ(events.size(), 3u) << listed;
  // None from the refusal or the retry above: only the three changes.
  std::multiset<std::string> states;
  for (const auto& e : events) {
    EXPECT_EQ(e.resource(), N("ada"));
    EXPECT_EQ(e.outcome(), crm::v1::ALLOWED);
    states.insert(e.attributes().at("state"));
  }
  EXPECT_EQ(states, (std::multiset<std::string>{"opted-in", "opted-in",
                                                "opted-out"}));

  // Deleting the contact deletes its consent.
  auto stub = crm::v1::ContactService::NewStub(As("alice").channel());
  crm::v1::DeleteContactRequest del;
  del.set_name(N("ada"));
  google::protobuf::Empty empty;
  auto ctx = As("alice").NewContext();
  ASSERT_TRUE(stub->DeleteContact(ctx.get(), del, &empty).ok());
  EXPECT_EQ(History("alice", N("ada"), &page).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsentTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
