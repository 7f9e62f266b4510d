// Data sources and provenance (issue 13) through the real server over mTLS,
// on SQLite and PostgreSQL:
//   - with no data source registered, writes are recorded as "unregistered";
//   - once one is, a write of a field no source of the calling service
//     lists is PERMISSION_DENIED (SOURCE_NOT_REGISTERED) and writes nothing;
//   - provenance and history name the source, service, actor and request;
//   - a field the caller may not read is absent from both (name and all);
//     a record the caller may not read is NOT_FOUND exactly as Get.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "clients/error_details.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/provenance_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "google/protobuf/empty.pb.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::PolicyObject;
using ::testing::HasSubstr;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

PolicyObject Parse(const char* text) {
  PolicyObject o;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &o)) << text;
  return o;
}

class ProvenanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli", {"manage_policy"});
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    billing_ = server_->Client("billing");

    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Sales Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    for (const char* user : {"alice", "bob"}) {
      ASSERT_TRUE(AddUser(*server_, user, "pw", "rep").ok());
    }
    // Reps work on their own contacts and opportunities; a contact's
    // description is hidden from them.
    CreatePolicy("reps", Parse(R"pb(permission_set {
      object_permissions { object: "contacts" read: true create: true edit: true }
      object_permissions { object: "opportunities" read: true create: true edit: true }
      field_permissions { object: "contacts" field: "description" read: false }
      assignees: "profiles/rep"
    })pb"));
    for (const char* user : {"alice", "bob"}) {
      auto client = server_->Client("web-frontend");
      auto token = LoginToken(*client, user, "pw");
      ASSERT_TRUE(token.ok()) << token.status();
      client->set_session_token(*token);
      users_[user] = std::move(client);
    }
  }

  void CreatePolicy(const std::string& id, const PolicyObject& object) {
    auto stub = crm::v1::PolicyAdminService::NewStub(admin_->channel());
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    PolicyObject out;
    auto ctx = admin_->NewContext();
    grpc::Status s = stub->CreatePolicyObject(ctx.get(), req, &out);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  // The sources of this test: admin-cli may write a contact's names, title
  // and description and an opportunity's name; billing an opportunity's
  // stage and amount. web-frontend has none (users write through it as its
  // implicit "interactions" source).
  void RegisterSources() {
    CreatePolicy("crmctl", Parse(R"pb(data_source {
      display_name: "Staff through crmctl" kind: INTERACTIONS
      service: "services/admin-cli" purpose: "staff notes"
      writes { object: "contacts"
               fields: "first_name" fields: "last_name" fields: "title"
               fields: "description" }
      writes { object: "opportunities" fields: "display_name" }
    })pb"));
    CreatePolicy("billing", Parse(R"pb(data_source {
      display_name: "Billing" kind: ACCOUNTING service: "services/billing"
      purpose: "invoicing"
      writes { object: "opportunities" fields: "stage" fields: "amount" }
    })pb"));
  }

  client::CrmClient& As(const std::string& who) {
    if (who == "admin-cli") return *admin_;
    if (who == "billing") return *billing_;
    return *users_.at(who);
  }

  // The x-request-id the server answered with (its id of the call).
  static std::string RequestIdOf(grpc::ClientContext& ctx) {
    const auto& md = ctx.GetServerInitialMetadata();
    auto it = md.find("x-request-id");
    return it == md.end() ? "" : std::string(it->second.data(),
                                             it->second.size());
  }

  grpc::Status CreateContact(const std::string& who,
                             const crm::v1::Contact& contact,
                             crm::v1::Contact* out,
                             std::string* request_id = nullptr) {
    auto stub = crm::v1::ContactService::NewStub(As(who).channel());
    crm::v1::CreateContactRequest req;
    *req.mutable_contact() = contact;
    auto ctx = As(who).NewContext();
    grpc::Status s = stub->CreateContact(ctx.get(), req, out);
    if (request_id != nullptr) *request_id = RequestIdOf(*ctx);
    return s;
  }

  grpc::Status UpdateContact(const std::string& who, const std::string& name,
                             const std::string& field,
                             const std::string& value,
                             crm::v1::Contact* out = nullptr,
                             std::string* request_id = nullptr) {
    auto stub = crm::v1::ContactService::NewStub(As(who).channel());
    crm::v1::UpdateContactRequest req;
    req.mutable_contact()->set_name(name);
    const auto* f = crm::v1::Contact::descriptor()->FindFieldByName(field);
    req.mutable_contact()->GetReflection()->SetString(req.mutable_contact(), f,
                                                      value);
    req.mutable_update_mask()->add_paths(field);
    crm::v1::Contact ignored;
    auto ctx = As(who).NewContext();
    grpc::Status s = stub->UpdateContact(ctx.get(), req, out ? out : &ignored);
    if (request_id != nullptr) *request_id = RequestIdOf(*ctx);
    return s;
  }

  grpc::Status GetContact(const std::string& who, const std::string& name,
                          crm::v1::Contact* out) {
    auto stub = crm::v1::ContactService::NewStub(As(who).channel());
    crm::v1::GetContactRequest req;
    req.set_name(name);
    auto ctx = As(who).NewContext();
    return stub->GetContact(ctx.get(), req, out);
  }

  grpc::Status Provenance(const std::string& who, const std::string& record,
                          crm::v1::RecordProvenance* out) {
    auto stub = crm::v1::ProvenanceService::NewStub(As(who).channel());
    crm::v1::GetRecordProvenanceRequest req;
    req.set_record(record);
    auto ctx = As(who).NewContext();
    return stub->GetRecordProvenance(ctx.get(), req, out);
  }

  grpc::Status History(const std::string& who, const std::string& record,
                       const std::string& field,
                       crm::v1::ListFieldHistoryResponse* out,
                       int page_size = 0, const std::string& token = "") {
    auto stub = crm::v1::ProvenanceService::NewStub(As(who).channel());
    crm::v1::ListFieldHistoryRequest req;
    req.set_record(record);
    req.set_field(field);
    req.set_page_size(page_size);
    req.set_page_token(token);
    auto ctx = As(who).NewContext();
    return stub->ListFieldHistory(ctx.get(), req, out);
  }

  std::map<std::string, crm::v1::FieldProvenance> ByField(
      const crm::v1::RecordProvenance& p) {
    std::map<std::string, crm::v1::FieldProvenance> out;
    for (const auto& f : p.fields()) out[f.field()] = f;
    return out;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<client::CrmClient> billing_;
  std::map<std::string, std::unique_ptr<client::CrmClient>> users_;
};

TEST_P(ProvenanceTest, UnregisteredUntilTheFirstSourceThenEnforced) {
  crm::v1::Contact c;
  c.set_first_name("Ada");
  c.set_last_name("Lovelace");
  c.set_email("ada@example.com");
  crm::v1::Contact ada;
  std::string create_id;
  ASSERT_TRUE(CreateContact("admin-cli", c, &ada, &create_id).ok());
  ASSERT_FALSE(create_id.empty());
  crm::v1::RecordProvenance p;
  ASSERT_TRUE(Provenance("admin-cli", ada.name(), &p).ok());
  auto fields = ByField(p);
  ASSERT_EQ(fields.size(), 3u) << p.DebugString();
  EXPECT_EQ(fields["email"].source(), "unregistered");
  EXPECT_EQ(fields["email"].service(), "services/admin-cli");
  EXPECT_EQ(fields["email"].actor(), "services/admin-cli");
  EXPECT_EQ(fields["email"].request_id(), create_id);

  RegisterSources();
  // email is listed by no source of admin-cli: refused, naming the rule.
  grpc::Status s = UpdateContact("admin-cli", ada.name(), "email", "x@y.z");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(),
              AllOf(HasSubstr("services/admin-cli"), HasSubstr("contacts.email"),
                    HasSubstr("dataSources/")));
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "SOURCE_NOT_REGISTERED");
  EXPECT_EQ(d.metadata["rule"], "no-source:services/admin-cli:contacts.email");
  EXPECT_EQ(d.metadata["service"], "services/admin-cli");
  EXPECT_EQ(d.metadata["object"], "contacts");
  EXPECT_EQ(d.metadata["field"], "email");
  // Nothing was written: the value, the version and the history are as
  // they were.
  crm::v1::Contact now;
  ASSERT_TRUE(GetContact("admin-cli", ada.name(), &now).ok());
  EXPECT_EQ(now.email(), "ada@example.com");
  EXPECT_EQ(now.etag(), ada.etag());
  crm::v1::ListFieldHistoryResponse h;
  ASSERT_TRUE(History("admin-cli", ada.name(), "", &h).ok());
  EXPECT_EQ(h.changes_size(), 3);
  // A create with an unlisted field creates nothing.
  crm::v1::Contact other;
  other.set_last_name("Babbage");
  other.set_email("cb@example.com");
  crm::v1::Contact ignored;
  s = CreateContact("admin-cli", other, &ignored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  {
    auto stub = crm::v1::ContactService::NewStub(admin_->channel());
    crm::v1::ListContactsRequest req;
    crm::v1::ListContactsResponse list;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(stub->ListContacts(ctx.get(), req, &list).ok());
    EXPECT_EQ(list.contacts_size(), 1);
  }

  // A listed field: written, recorded under its source and request.
  std::string title_id;
  ASSERT_TRUE(UpdateContact("admin-cli", ada.name(), "title", "Countess",
                            nullptr, &title_id)
                  .ok());
  ASSERT_TRUE(Provenance("admin-cli", ada.name(), &p).ok());
  fields = ByField(p);
  EXPECT_EQ(fields["title"].source(), "dataSources/crmctl");
  EXPECT_EQ(fields["title"].request_id(), title_id);
  EXPECT_EQ(fields["email"].source(), "unregistered");  // older write
  h.Clear();
  ASSERT_TRUE(History("admin-cli", ada.name(), "title", &h).ok());
  ASSERT_EQ(h.changes_size(), 1);
  EXPECT_EQ(h.changes(0).value(), "Countess");
  EXPECT_TRUE(h.changes(0).value_recorded());
  EXPECT_EQ(h.changes(0).operation(), "update");
  EXPECT_EQ(h.changes(0).sequence(), 2);  // the version the write produced
}

TEST_P(ProvenanceTest, LeastPrivilegedServiceWritesOnlyItsFields) {
  RegisterSources();
  auto stub = crm::v1::OpportunityService::NewStub(admin_->channel());
  crm::v1::CreateOpportunityRequest create;
  create.mutable_opportunity()->set_display_name("Big deal");
  crm::v1::Opportunity deal;
  {
    auto ctx = admin_->NewContext();
    grpc::Status s = stub->CreateOpportunity(ctx.get(), create, &deal);
    ASSERT_TRUE(s.ok()) << Text(s);
  }
  auto billing = crm::v1::OpportunityService::NewStub(billing_->channel());
  auto update = [&](const char* field, auto set) {
    crm::v1::UpdateOpportunityRequest req;
    req.mutable_opportunity()->set_name(deal.name());
    set(req.mutable_opportunity());
    req.mutable_update_mask()->add_paths(field);
    crm::v1::Opportunity out;
    auto ctx = billing_->NewContext();
    return billing->UpdateOpportunity(ctx.get(), req, &out);
  };
  grpc::Status s =
      update("amount", [](crm::v1::Opportunity* o) { o->set_amount(1200); });
  ASSERT_TRUE(s.ok()) << Text(s);
  s = update("description",
             [](crm::v1::Opportunity* o) { o->set_description("kickback"); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_EQ(client::DecodeErrorDetails(s).metadata["rule"],
            "no-source:services/billing:opportunities.description");
  crm::v1::RecordProvenance p;
  ASSERT_TRUE(Provenance("billing", deal.name(), &p).ok()) ;
  auto fields = ByField(p);
  EXPECT_EQ(fields["amount"].source(), "dataSources/billing");
  EXPECT_EQ(fields["amount"].actor(), "services/billing");
  EXPECT_EQ(fields["display_name"].source(), "dataSources/crmctl");
  EXPECT_EQ(fields.count("description"), 0u);
  // billing may not read contacts at all: the object permission refuses.
  s = Provenance("billing", "contacts/whatever", &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
}

TEST_P(ProvenanceTest, UsersThroughAGatewayAreItsInteractions) {
  RegisterSources();
  crm::v1::Contact c;
  c.set_last_name("Hopper");
  c.set_title("Rear Admiral");
  crm::v1::Contact grace;
  grpc::Status s = CreateContact("alice", c, &grace);
  ASSERT_TRUE(s.ok()) << Text(s);
  crm::v1::RecordProvenance p;
  ASSERT_TRUE(Provenance("alice", grace.name(), &p).ok());
  auto fields = ByField(p);
  ASSERT_EQ(fields.size(), 2u) << p.DebugString();
  EXPECT_EQ(fields["title"].source(), "interactions");
  EXPECT_EQ(fields["title"].service(), "services/web-frontend");
  EXPECT_EQ(fields["title"].actor(), "users/alice");
}

TEST_P(ProvenanceTest, HiddenFieldsAndRecordsStayHidden) {
  RegisterSources();
  crm::v1::Contact c;
  c.set_last_name("Hopper");
  crm::v1::Contact grace;
  ASSERT_TRUE(CreateContact("alice", c, &grace).ok());
  // Staff write the description, which reps may not read.
  ASSERT_TRUE(
      UpdateContact("admin-cli", grace.name(), "description", "secret note")
          .ok());
  crm::v1::RecordProvenance p;
  ASSERT_TRUE(Provenance("admin-cli", grace.name(), &p).ok());
  EXPECT_EQ(ByField(p).count("description"), 1u);
  // alice: neither the name, nor the provenance, nor the history of it.
  ASSERT_TRUE(Provenance("alice", grace.name(), &p).ok());
  EXPECT_EQ(ByField(p).count("description"), 0u);
  EXPECT_EQ(ByField(p).count("last_name"), 1u);
  crm::v1::ListFieldHistoryResponse h;
  ASSERT_TRUE(History("alice", grace.name(), "", &h).ok());
  for (const auto& change : h.changes()) {
    EXPECT_NE(change.provenance().field(), "description");
    EXPECT_THAT(change.value(), ::testing::Not(HasSubstr("secret")));
  }
  EXPECT_EQ(h.changes_size(), 1);
  // Asking for it looks exactly like asking for a field that does not
  // exist.
  grpc::Status hidden = History("alice", grace.name(), "description", &h);
  grpc::Status unknown = History("alice", grace.name(), "shoe_size", &h);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(hidden.error_message(),
            absl::StrReplaceAll(unknown.error_message(),
                                {{"shoe_size", "description"}}));

  // bob may not read alice's contact: NOT_FOUND exactly as Get, and as a
  // contact that does not exist.
  const std::string missing = "contacts/0123456789abcdef01234567";
  crm::v1::Contact ignored;
  grpc::Status get = GetContact("bob", grace.name(), &ignored);
  ASSERT_EQ(get.error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status prov = Provenance("bob", grace.name(), &p);
  grpc::Status prov_missing = Provenance("bob", missing, &p);
  grpc::Status hist = History("bob", grace.name(), "", &h);
  grpc::Status hist_field = History("bob", grace.name(), "description", &h);
  for (const grpc::Status* st : {&prov, &hist, &hist_field}) {
    EXPECT_EQ(st->error_code(), grpc::StatusCode::NOT_FOUND) << Text(*st);
    EXPECT_EQ(st->error_message(), get.error_message());
    EXPECT_EQ(st->error_details(), get.error_details());
  }
  EXPECT_EQ(prov.error_details(),
            absl::StrReplaceAll(prov_missing.error_details(),
                                {{missing, grace.name()}}));
}

TEST_P(ProvenanceTest, HistoryPagesAndDeleteForgets) {
  crm::v1::Contact c;
  c.set_last_name("Turing");
  crm::v1::Contact alan;
  ASSERT_TRUE(CreateContact("admin-cli", c, &alan).ok());
  for (const char* title : {"a", "b", "c"}) {
    ASSERT_TRUE(UpdateContact("admin-cli", alan.name(), "title", title).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  for (int pages = 0; pages < 10; ++pages) {
    crm::v1::ListFieldHistoryResponse h;
    ASSERT_TRUE(History("admin-cli", alan.name(), "", &h, 2, token).ok());
    for (const auto& ch : h.changes()) {
      seen.push_back(absl::StrCat(ch.sequence(), ":", ch.provenance().field(),
                                  "=", ch.value()));
    }
    token = h.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("1:last_name=Turing", "2:title=a",
                                           "3:title=b", "4:title=c"));
  auto stub = crm::v1::ContactService::NewStub(admin_->channel());
  crm::v1::DeleteContactRequest del;
  del.set_name(alan.name());
  google::protobuf::Empty empty;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(stub->DeleteContact(ctx.get(), del, &empty).ok());
  crm::v1::RecordProvenance p;
  EXPECT_EQ(Provenance("admin-cli", alan.name(), &p).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto db = store::Database::Open(server_->database(), 1);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::Status st = (*db)->WithSession([&](store::Session& session) {
    for (const char* table : {"field_provenance", "field_history"}) {
      auto n = store::QueryInt(
          session,
          {absl::StrCat("SELECT COUNT(*) FROM ", table, " WHERE record_id = ?"),
           {alan.name().substr(9)}},
          "test");
      if (!n.ok()) return n.status();
      EXPECT_EQ(*n, 0) << table;
    }
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
}

INSTANTIATE_TEST_SUITE_P(Backends, ProvenanceTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
