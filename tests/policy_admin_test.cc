// PolicyAdminService through the real server over mTLS, on SQLite and
// PostgreSQL: CRUD per kind, validation refusals that write nothing,
// referenced deletes, who may call, next-request effect, and a change made
// through one server reaching another server on the same database.
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/error_details.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::PolicyAdminService;
using crm::v1::PolicyObject;
using ::testing::HasSubstr;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}


class Admin {
 public:
  explicit Admin(std::unique_ptr<client::CrmClient> client)
      : client_(std::move(client)),
        stub_(PolicyAdminService::NewStub(client_->channel())) {}

  grpc::Status Create(const PolicyObject& object, const std::string& id,
                      PolicyObject* out = nullptr) {
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    PolicyObject ignored;
    auto ctx = client_->NewContext();
    return stub_->CreatePolicyObject(ctx.get(), req, out ? out : &ignored);
  }
  grpc::Status Get(const std::string& name, PolicyObject* out) {
    crm::v1::GetPolicyObjectRequest req;
    req.set_name(name);
    auto ctx = client_->NewContext();
    return stub_->GetPolicyObject(ctx.get(), req, out);
  }
  grpc::Status List(const std::string& kind,
                    crm::v1::ListPolicyObjectsResponse* out, int page_size = 0,
                    const std::string& token = "") {
    crm::v1::ListPolicyObjectsRequest req;
    req.set_kind(kind);
    req.set_page_size(page_size);
    req.set_page_token(token);
    auto ctx = client_->NewContext();
    return stub_->ListPolicyObjects(ctx.get(), req, out);
  }
  grpc::Status Update(const PolicyObject& object, PolicyObject* out = nullptr) {
    crm::v1::UpdatePolicyObjectRequest req;
    *req.mutable_object() = object;
    PolicyObject ignored;
    auto ctx = client_->NewContext();
    return stub_->UpdatePolicyObject(ctx.get(), req, out ? out : &ignored);
  }
  grpc::Status Delete(const std::string& name, const std::string& etag = "") {
    crm::v1::DeletePolicyObjectRequest req;
    req.set_name(name);
    req.set_etag(etag);
    google::protobuf::Empty out;
    auto ctx = client_->NewContext();
    return stub_->DeletePolicyObject(ctx.get(), req, &out);
  }

 private:
  std::unique_ptr<client::CrmClient> client_;
  std::unique_ptr<PolicyAdminService::Stub> stub_;
};

PolicyObject RoleObject(const std::string& parent, const std::string& display) {
  PolicyObject o;
  o.mutable_role()->set_display_name(display);
  o.mutable_role()->set_parent(parent);
  return o;
}

PolicyObject GroupOf(const std::string& member_group) {
  PolicyObject o;
  o.mutable_group()->set_display_name("g");
  if (!member_group.empty()) o.mutable_group()->add_members()->set_group(member_group);
  return o;
}

PolicyObject CriteriaRule(const std::string& object, const std::string& criteria) {
  PolicyObject o;
  auto* rule = o.mutable_sharing_rule();
  rule->set_object(object);
  rule->set_criteria(criteria);
  rule->mutable_shared_with()->set_role("roles/ceo");
  rule->set_access(crm::v1::READ);
  return o;
}

// Contacts read for "services/billing" (which has no contacts grant).
PolicyObject BillingContactsSet() {
  PolicyObject o;
  auto* set = o.mutable_permission_set();
  set->set_display_name("Billing reads contacts");
  auto* p = set->add_object_permissions();
  p->set_object("contacts");
  p->set_read(true);
  set->add_assignees("services/billing");
  return o;
}

grpc::Status ListContacts(client::CrmClient& client) {
  auto stub = crm::v1::ContactService::NewStub(client.channel());
  crm::v1::ListContactsRequest req;
  crm::v1::ListContactsResponse resp;
  auto ctx = client.NewContext();
  return stub->ListContacts(ctx.get(), req, &resp);
}

class PolicyAdminTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server =
        TestServer::Start({.backend = GetParam(), .customize = GrantManagePolicy});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = std::make_unique<Admin>(server_->Client("admin-cli"));
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Admin> admin_;
};

TEST_P(PolicyAdminTest, CrudRoundTripForEveryKind) {
  ASSERT_TRUE(admin_->Create(RoleObject("", "CEO"), "ceo").ok());
  PolicyObject group;
  group.mutable_group()->set_display_name("Execs");
  group.mutable_group()->add_members()->set_role_and_subordinates("roles/ceo");
  PolicyObject owd;
  owd.mutable_org_wide_default()->set_object("accounts");
  owd.mutable_org_wide_default()->set_internal_access(
      crm::v1::OrgWideDefault::PUBLIC_READ);
  PolicyObject restriction;
  restriction.mutable_restriction_rule()->set_object("accounts");
  restriction.mutable_restriction_rule()->mutable_applies_to()->set_group(
      "groups/execs");
  restriction.mutable_restriction_rule()->set_criteria(
      "industry = \"Retail\"");
  struct Case {
    std::string id;
    PolicyObject object;
    std::string name;
    std::string kind;
  } cases[] = {
      {"execs", group, "groups/execs", "groups"},
      {"", owd, "orgWideDefaults/accounts", "orgWideDefaults"},
      {"billing-contacts", BillingContactsSet(),
       "permissionSets/billing-contacts", "permissionSets"},
      {"retail", CriteriaRule("accounts", "industry = \"Retail\""),
       "sharingRules/retail", "sharingRules"},
      {"retail-only", restriction, "restrictionRules/retail-only",
       "restrictionRules"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PolicyObject created;
    grpc::Status s = admin_->Create(c.object, c.id, &created);
    ASSERT_TRUE(s.ok()) << Text(s);
    PolicyObject got;
    s = admin_->Get(c.name, &got);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_EQ(got.DebugString(), created.DebugString());
    EXPECT_THAT(got.DebugString(), HasSubstr("etag: \"v1\""));
    EXPECT_EQ(admin_->Create(c.object, c.id).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
    crm::v1::ListPolicyObjectsResponse list;
    ASSERT_TRUE(admin_->List(c.kind, &list).ok());
    ASSERT_EQ(list.objects_size(), 1);
    EXPECT_EQ(list.objects(0).DebugString(), got.DebugString());

    // An update that changes nothing keeps the etag (nothing is written).
    PolicyObject updated;
    s = admin_->Update(got, &updated);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_EQ(updated.DebugString(), got.DebugString());
    // Update with the current etag, then with the stale one.
    PolicyObject changed = got;
    if (changed.has_org_wide_default()) {
      changed.mutable_org_wide_default()->set_grant_access_using_hierarchies(
          !got.org_wide_default().grant_access_using_hierarchies());
    } else {
      google::protobuf::Message* body =
          changed.GetReflection()->MutableMessage(
              &changed, changed.GetReflection()->GetOneofFieldDescriptor(
                            changed, changed.GetDescriptor()->oneof_decl(0)));
      body->GetReflection()->SetString(
          body, body->GetDescriptor()->FindFieldByName("display_name"),
          "Changed");
    }
    s = admin_->Update(changed, &updated);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_THAT(updated.DebugString(), HasSubstr("etag: \"v2\""));
    EXPECT_EQ(admin_->Update(got).error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(admin_->Delete(c.name, "v1").error_code(),
              grpc::StatusCode::ABORTED);
  }
  // Delete in reverse dependency order.
  for (int i = 4; i >= 0; --i) {
    SCOPED_TRACE(cases[i].name);
    grpc::Status s = admin_->Delete(cases[i].name, "v2");
    ASSERT_TRUE(s.ok()) << Text(s);
    PolicyObject got;
    EXPECT_EQ(admin_->Get(cases[i].name, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  PolicyObject role;
  ASSERT_TRUE(admin_->Get("roles/ceo", &role).ok());
  role.mutable_role()->set_display_name("Chief");
  ASSERT_TRUE(admin_->Update(role).ok());
  ASSERT_TRUE(admin_->Delete("roles/ceo").ok());
}

TEST_P(PolicyAdminTest, ListPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(admin_->Create(RoleObject("", "r"), absl::StrCat("r", i)).ok());
  }
  crm::v1::ListPolicyObjectsResponse page;
  ASSERT_TRUE(admin_->List("roles", &page, 2).ok());
  EXPECT_EQ(page.objects_size(), 2);
  int seen = page.objects_size();
  while (!page.next_page_token().empty()) {
    std::string token = page.next_page_token();
    page.Clear();
    ASSERT_TRUE(admin_->List("roles", &page, 2, token).ok());
    seen += page.objects_size();
  }
  EXPECT_EQ(seen, 5);
  EXPECT_EQ(admin_->List("nope", &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(admin_->List("groups", &page, 2, "garbage").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(PolicyAdminTest, InvalidChangesAreRefusedAndWriteNothing) {
  ASSERT_TRUE(admin_->Create(RoleObject("", "CEO"), "ceo").ok());
  ASSERT_TRUE(admin_->Create(RoleObject("roles/ceo", "VP"), "vp").ok());
  ASSERT_TRUE(admin_->Create(GroupOf(""), "g1").ok());
  ASSERT_TRUE(admin_->Create(GroupOf("groups/g1"), "g2").ok());

  // Updates that would not compile: the stored object stays at v1.
  PolicyObject ceo_cycle = RoleObject("roles/vp", "CEO");
  ceo_cycle.mutable_role()->set_name("roles/ceo");
  PolicyObject g1_cycle = GroupOf("groups/g2");
  g1_cycle.mutable_group()->set_name("groups/g1");
  struct UpdateCase {
    const char* what;
    PolicyObject object;
    std::string name;
  } updates[] = {{"role cycle", ceo_cycle, "roles/ceo"},
                 {"group cycle", g1_cycle, "groups/g1"}};
  for (const auto& c : updates) {
    SCOPED_TRACE(c.what);
    grpc::Status s = admin_->Update(c.object);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    EXPECT_FALSE(s.error_message().empty());
    PolicyObject got;
    ASSERT_TRUE(admin_->Get(c.name, &got).ok());
    EXPECT_THAT(got.DebugString(), HasSubstr("etag: \"v1\""));
  }

  // Creates that would not compile: nothing is stored.
  PolicyObject unknown_member = GroupOf("");
  unknown_member.mutable_group()->add_members()->set_role("roles/nope");
  struct CreateCase {
    const char* what;
    PolicyObject object;
    std::string id;
    std::string name;
  } creates[] = {
      {"unknown object", CriteriaRule("widgets", "industry = \"x\""), "r1",
       "sharingRules/r1"},
      {"unknown field in criteria", CriteriaRule("accounts", "revenue > 3"),
       "r2", "sharingRules/r2"},
      {"malformed criteria", CriteriaRule("accounts", "industry = = ("), "r3",
       "sharingRules/r3"},
      {"unknown role", unknown_member, "g3", "groups/g3"},
      {"unknown parent", RoleObject("roles/nope", "x"), "x", "roles/x"},
  };
  for (const auto& c : creates) {
    SCOPED_TRACE(c.what);
    grpc::Status s = admin_->Create(c.object, c.id);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    PolicyObject got;
    EXPECT_EQ(admin_->Get(c.name, &got).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Malformed names and ids.
  EXPECT_EQ(admin_->Create(RoleObject("", "x"), "bad id!").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(admin_->Create(PolicyObject(), "x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  PolicyObject got;
  EXPECT_EQ(admin_->Get("roles", &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(PolicyAdminTest, DeletingAReferencedRoleOrGroupNamesTheReferrers) {
  ASSERT_TRUE(admin_->Create(RoleObject("", "CEO"), "ceo").ok());
  ASSERT_TRUE(admin_->Create(RoleObject("roles/ceo", "VP"), "vp").ok());
  ASSERT_TRUE(admin_->Create(GroupOf(""), "g1").ok());
  ASSERT_TRUE(admin_->Create(GroupOf("groups/g1"), "g2").ok());

  grpc::Status s = admin_->Delete("roles/ceo");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("roles/vp (parent)"));
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "POLICY_REFERENCED");
  EXPECT_EQ(d.metadata["resource"], "roles/ceo");
  EXPECT_EQ(d.metadata["referrer_count"], "1");
  ASSERT_EQ(d.precondition_violations.size(), 1u);
  EXPECT_EQ(d.precondition_violations[0].subject, "roles/vp");
  s = admin_->Delete("groups/g1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("groups/g2 (member)"));

  ASSERT_TRUE(admin_->Delete("roles/vp").ok());
  ASSERT_TRUE(admin_->Delete("roles/ceo").ok());
}

TEST_P(PolicyAdminTest, OnlyManagePolicyHoldersMayCall) {
  Admin billing(server_->Client("billing"));
  grpc::Status s = billing.Create(RoleObject("", "x"), "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("manage_policy"));
  EXPECT_EQ(client::DecodeErrorDetails(s).reason, "SYSTEM_PERMISSION_REQUIRED");
  crm::v1::ListPolicyObjectsResponse list;
  EXPECT_EQ(billing.List("roles", &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  PolicyObject got;
  EXPECT_EQ(admin_->Get("roles/x", &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // A permission set assigned to the service grants it.
  PolicyObject set;
  set.mutable_permission_set()->add_system_permissions(crm::v1::MANAGE_POLICY);
  set.mutable_permission_set()->add_assignees("services/billing");
  ASSERT_TRUE(admin_->Create(set, "billing-admin").ok());
  s = billing.Create(RoleObject("", "x"), "x");
  EXPECT_TRUE(s.ok()) << Text(s);
}

TEST_P(PolicyAdminTest, AChangeAppliesToTheVeryNextRequest) {
  auto billing = server_->Client("billing");
  EXPECT_EQ(ListContacts(*billing).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(admin_->Create(BillingContactsSet(), "bc").ok());
  grpc::Status s = ListContacts(*billing);
  EXPECT_TRUE(s.ok()) << Text(s);
  ASSERT_TRUE(admin_->Delete("permissionSets/bc").ok());
  EXPECT_EQ(ListContacts(*billing).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_P(PolicyAdminTest, AnotherServerOnTheSameDatabaseAppliesTheChange) {
  std::string database = server_->database();
  auto other = TestServer::Start(
      {.backend = GetParam(),
       .customize = [&](crm::internal::ServerConfig& config) {
         GrantManagePolicy(config);
         config.set_database(database);
         // Servers on one database share its master key (another one is
         // refused at start: the data keys are wrapped under this one).
         config.mutable_encryption()->set_master_key_file(
             server_->master_key_file());
       }});
  ASSERT_TRUE(other.ok()) << other.status();
  auto billing_other = (*other)->Client("billing");
  EXPECT_EQ(ListContacts(*billing_other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  ASSERT_TRUE(admin_->Create(BillingContactsSet(), "bc").ok());
  // The other server polls policy_version every second.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  grpc::Status s;
  do {
    s = ListContacts(*billing_other);
    if (s.ok()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(s.ok()) << Text(s);
}

INSTANTIATE_TEST_SUITE_P(Backends, PolicyAdminTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
