// AccessReviewService (proto/crm/v1/access_review_service.proto).
//
// 1. Explain equals decision: on generated organisations (the differential
//    test's generator), for every (user, record, action), the explanation's
//    verdict is the point decision (Evaluator::CheckRecord /AllowsRecord),
//    TraceRecord returns CheckRecord's Decision, and the paths it lists are
//    consistent with the verdict (an allowed read has a sufficient path; a
//    refused one has none, or a failed restriction rule, or a missing
//    parent).
// 2. Through the real server over mTLS, on SQLite and PostgreSQL, with the
//    demo organisation (server/demo_data.cc): why bob sees Globex (frank's
//    manual share) and Acme (his own), who can see Acme, a refusal naming
//    its layer, ExplainAccess's verdict equal to what bob's own Get
//    returns for every account, the counts of SummarizeUserAccess, the
//    sources of EffectivePermissions, and VIEW_AUDIT refused to callers
//    without it, NOT_FOUND and INVALID_ARGUMENT as documented.
// 3. The reports: the access matrix agrees cell by cell with
//    EffectivePermissions and with the records SummarizeUserAccess counts
//    (a scope of "all" is every record, "none" none); the access-review
//    report's privileges, profile counts, dormant users (on a fake clock)
//    and policy changes agree with UserAdminService, the audit trail and a
//    login; crmctl writes the CSV and the HTML page.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <optional>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "auth/clock.h"
#include "crm/v1/user_admin_service.grpc.pb.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "tests/auth_test_util.h"
#include "clients/cli.h"
#include "clients/error_details.h"
#include "crm/v1/access_review_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/explain.h"
#include "policy/snapshot.h"
#include "server/demo_data.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"
#include "tests/support/policy_org_generator.h"

namespace crm::testing {
namespace {

using crm::v1::AccessExplanation;
using policy::Operation;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

// --- 1. Explain equals decision on generated organisations -----------------

TEST(AccessReviewDifferential, ExplainVerdictEqualsPointDecision) {
  const auto& registry = model::SchemaRegistry::Default();
  int64_t checked = 0, allowed = 0, with_paths = 0, paths = 0;
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const GeneratedOrg org = GenerateOrg(seed, SmallOrgSize());
    auto snapshot = policy::PolicySnapshot::Build(org.state, org.services,
                                                  registry);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    std::map<std::string, std::vector<policy::ShareFact>> shares;
    for (const auto& s : org.shares) {
      shares[s.object + "/" + s.record_id].push_back(
          {s.grantee, s.access == 1 ? crm::v1::READ : crm::v1::READ_WRITE});
    }
    std::map<std::string, const model::Record*> accounts;
    for (const auto& a : org.accounts) accounts["accounts/" + a.id] = &a;

    for (const auto& user : org.state.users()) {
      const policy::Evaluator eval(*snapshot, {"app", user.id()});
      for (const char* object : {"accounts", "contacts"}) {
        const model::ObjectSchema& schema = *registry.Find(object);
        const auto& records = std::string(object) == "accounts"
                                  ? org.accounts
                                  : org.contacts;
        const int account_field = schema.FieldIndex("account");
        for (const model::Record& record : records) {
          policy::RecordFacts facts;
          facts.record = &record;
          facts.shares = shares[std::string(object) + "/" + record.id];
          if (account_field >= 0) {
            const auto* name =
                std::get_if<std::string>(&record.values[account_field]);
            auto it = name == nullptr ? accounts.end() : accounts.find(*name);
            if (it != accounts.end()) {
              facts.parent = it->second;
              facts.parent_shares = shares["accounts/" + it->second->id];
            }
          }
          for (Operation op :
               {Operation::kRead, Operation::kEdit, Operation::kDelete,
                Operation::kShare, Operation::kTransfer}) {
            SCOPED_TRACE(absl::StrCat("seed ", seed, " users/", user.id(),
                                      " ", object, "/", record.id, " ",
                                      policy::OperationName(op)));
            const policy::Decision point = eval.CheckRecord(schema, op, facts);
            ASSERT_EQ(eval.AllowsRecord(schema, op, facts), point.allowed);
            policy::RecordTrace trace;
            const policy::Decision traced =
                eval.TraceRecord(schema, op, facts, &trace);
            ASSERT_EQ(traced.allowed, point.allowed);
            ASSERT_EQ(traced.rule, point.rule);

            policy::ExplainInput in;
            in.schema = &schema;
            in.op = op;
            in.facts = &facts;
            const AccessExplanation e = policy::ExplainAccess(eval, in);
            ASSERT_EQ(e.allowed(), point.allowed) << e.DebugString();
            ASSERT_EQ(e.rule(), point.rule);
            ++checked;
            if (!e.paths().empty()) ++with_paths;
            bool sufficient = false;
            for (const auto& p : e.paths()) {
              sufficient |= p.sufficient();
              // Membership paths lead from the grantee down to the user
              // (through nested groups, roles and subordinates).
              if (p.kind() == "manual-share" || p.kind() == "sharing-rule" ||
                  p.kind() == "owner") {
                ASSERT_FALSE(p.via().empty()) << p.DebugString();
                ASSERT_EQ(p.via(p.via_size() - 1), "users/" + user.id())
                    << p.DebugString();
              }
              if (p.kind() == "manual-share") {
                ASSERT_EQ(p.rule(), "share:" + p.via(0)) << p.DebugString();
              }
              if (p.kind() == "hierarchy") {
                ASSERT_GE(p.via_size(), 3) << p.DebugString();
                ASSERT_EQ(p.via(p.via_size() - 1), user.role())
                    << p.DebugString();
              }
              ++paths;
            }
            if (point.allowed) {
              ++allowed;
              ASSERT_EQ(e.refused_layer(), crm::v1::ACCESS_LAYER_UNSPECIFIED);
              ASSERT_TRUE(sufficient) << e.DebugString();
            } else {
              ASSERT_NE(e.refused_layer(), crm::v1::ACCESS_LAYER_UNSPECIFIED);
              if (e.refused_layer() == crm::v1::LAYER_RECORD_ACCESS) {
                bool restricted = false;
                for (const auto& r : e.restrictions()) restricted |= !r.passed();
                ASSERT_TRUE(!sufficient || restricted ||
                            !trace.parent_missing.empty())
                    << e.DebugString();
              }
            }
          }
        }
      }
    }
  }
  // Enough of both outcomes, and many explained grants, to mean something.
  EXPECT_GT(checked, 100000);
  EXPECT_GT(allowed, checked / 20);
  EXPECT_LT(allowed, checked - checked / 20);
  EXPECT_GT(with_paths, checked / 10);
  EXPECT_GT(paths, with_paths);
}

// --- 2. The service on the demo organisation, on both backends ------------

class AccessReviewTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(config, "admin-cli", {"view_audit"});
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    absl::Status demo = server::LoadDemoOrganisation(server_->server().core());
    ASSERT_TRUE(demo.ok()) << demo;
    ASSERT_TRUE(server_->server().ReloadPolicy().ok());
    admin_ = server_->Client("admin-cli");
    review_ = crm::v1::AccessReviewService::NewStub(admin_->channel());
  }

  grpc::Status Explain(const std::string& user, const std::string& record,
                       crm::v1::AccessAction action, AccessExplanation* out,
                       const std::string& field = "",
                       const std::string& address = "") {
    crm::v1::ExplainAccessRequest req;
    req.set_user(user);
    req.set_record(record);
    req.set_action(action);
    req.set_field(field);
    req.set_client_address(address);
    auto ctx = admin_->NewContext();
    return review_->ExplainAccess(ctx.get(), req, out);
  }

  AccessExplanation ExplainOk(const std::string& user,
                              const std::string& record,
                              crm::v1::AccessAction action,
                              const std::string& field = "",
                              const std::string& address = "") {
    AccessExplanation out;
    grpc::Status s = Explain(user, record, action, &out, field, address);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  // crmctl ARGS in-process as admin-cli against the test server.
  CliResult Cli(const std::vector<std::string>& args) const {
    return RunCrmctl(args,
                     {{"CRM_TARGET", server_->target()},
                      {"CRM_CA", server_->certs().ca},
                      {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
                      {"CRM_KEY", server_->certs().ClientKey("admin-cli")}});
  }

  // The paths of `e` as "kind rule via..." strings.
  static std::vector<std::string> Paths(
      const google::protobuf::RepeatedPtrField<crm::v1::RecordAccessPath>&
          paths) {
    std::vector<std::string> out;
    for (const auto& p : paths) {
      std::string s = absl::StrCat(p.kind(), " ", p.level());
      for (const auto& v : p.via()) absl::StrAppend(&s, " ", v);
      out.push_back(s);
    }
    return out;
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<crm::v1::AccessReviewService::Stub> review_;
};

TEST_P(AccessReviewTest, BobSeesGlobexThroughFranksShareAndAcmeAsOwner) {
  AccessExplanation globex =
      ExplainOk("users/bob", "accounts/globex", crm::v1::ACTION_READ);
  EXPECT_TRUE(globex.allowed());
  EXPECT_EQ(globex.rule(), "share:users/bob");
  EXPECT_THAT(Paths(globex.paths()),
              UnorderedElementsAre("manual-share read users/bob"));
  EXPECT_EQ(globex.record_level(), "read");
  EXPECT_EQ(globex.user(), "users/bob");
  EXPECT_EQ(globex.service(), "services/admin-cli");
  // The object permission and where it comes from.
  EXPECT_TRUE(globex.object_permission().allowed());
  ASSERT_EQ(globex.object_permission().user_sources_size(), 1);
  EXPECT_EQ(globex.object_permission().user_sources(0).grant(),
            "permissionSets/sales");
  EXPECT_EQ(globex.object_permission().user_sources(0).assigned_to(),
            "profiles/sales-rep");
  // The share is read only: editing is refused by record access.
  AccessExplanation edit =
      ExplainOk("users/bob", "accounts/globex", crm::v1::ACTION_EDIT);
  EXPECT_FALSE(edit.allowed());
  EXPECT_EQ(edit.refused_layer(), crm::v1::LAYER_RECORD_ACCESS);
  ASSERT_EQ(edit.paths_size(), 1);
  EXPECT_FALSE(edit.paths(0).sufficient());

  AccessExplanation acme =
      ExplainOk("users/bob", "accounts/acme", crm::v1::ACTION_READ);
  EXPECT_TRUE(acme.allowed());
  EXPECT_EQ(acme.rule(), "owner");
  EXPECT_THAT(Paths(acme.paths()), UnorderedElementsAre("owner full users/bob"));
  // Fields: annual_revenue readable through the sales set, not writable.
  bool found = false;
  for (const auto& f : acme.fields()) {
    if (f.field() != "annual_revenue") continue;
    found = true;
    EXPECT_TRUE(f.readable());
    EXPECT_FALSE(f.writable());
    ASSERT_EQ(f.user_read_sources_size(), 1);
    EXPECT_EQ(f.user_read_sources(0).grant(), "permissionSets/sales");
  }
  EXPECT_TRUE(found);

  // A contact of Acme: through its parent account.
  AccessExplanation ada =
      ExplainOk("users/bob", "contacts/ada", crm::v1::ACTION_READ);
  EXPECT_TRUE(ada.allowed());
  ASSERT_GE(ada.paths_size(), 1);
  EXPECT_EQ(ada.paths(0).parent(), "accounts/acme");
  EXPECT_EQ(ada.paths(0).kind(), "owner");
}

TEST_P(AccessReviewTest, WhoCanSeeAcme) {
  crm::v1::ListRecordAccessorsRequest req;
  req.set_record("accounts/acme");
  crm::v1::ListRecordAccessorsResponse resp;
  auto ctx = admin_->NewContext();
  grpc::Status s = review_->ListRecordAccessors(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Text(s);
  std::map<std::string, crm::v1::RecordAccessor> by_user;
  for (const auto& a : resp.accessors()) by_user[a.user()] = a;
  std::vector<std::string> users;
  for (const auto& [u, a] : by_user) users.push_back(u);
  // alice: admin (modify-all); bob: owner; erin: bob's manager.
  EXPECT_THAT(users, UnorderedElementsAre("users/alice", "users/bob",
                                          "users/erin"));
  EXPECT_TRUE(by_user["users/alice"].can_delete());
  EXPECT_TRUE(by_user["users/bob"].can_edit());
  EXPECT_FALSE(by_user["users/bob"].can_delete());  // sales: no delete
  EXPECT_THAT(Paths(by_user["users/erin"].paths()),
              UnorderedElementsAre(
                  "hierarchy full users/bob roles/sales-rep roles/sales-manager"));
  std::set<std::string> alice_kinds;
  for (const auto& p : by_user["users/alice"].paths()) alice_kinds.insert(p.kind());
  EXPECT_TRUE(alice_kinds.count("modify-all")) << resp.DebugString();
  EXPECT_TRUE(alice_kinds.count("hierarchy")) << resp.DebugString();

  // Pages of one: the same users, in id order, with tokens.
  std::vector<std::string> paged;
  req.set_page_size(1);
  for (int i = 0; i < 10; ++i) {
    crm::v1::ListRecordAccessorsResponse page;
    auto c = admin_->NewContext();
    s = review_->ListRecordAccessors(c.get(), req, &page);
    ASSERT_TRUE(s.ok()) << Text(s);
    for (const auto& a : page.accessors()) paged.push_back(a.user());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(paged, (std::vector<std::string>{"users/alice", "users/bob",
                                             "users/erin"}));
}

TEST_P(AccessReviewTest, RefusalsNameTheirLayer) {
  AccessExplanation umbrella =
      ExplainOk("users/bob", "accounts/umbrella", crm::v1::ACTION_READ);
  EXPECT_FALSE(umbrella.allowed());
  EXPECT_EQ(umbrella.refused_layer(), crm::v1::LAYER_RECORD_ACCESS);
  EXPECT_EQ(umbrella.rule(), "no-access");
  EXPECT_TRUE(umbrella.paths().empty());
  EXPECT_EQ(umbrella.record_level(), "none");

  AccessExplanation remove =
      ExplainOk("users/bob", "accounts/acme", crm::v1::ACTION_DELETE);
  EXPECT_FALSE(remove.allowed());
  EXPECT_EQ(remove.refused_layer(), crm::v1::LAYER_OBJECT_PERMISSION);
  EXPECT_EQ(remove.rule(), "no-grant:accounts:delete");

  // A question about the object type, without a record.
  crm::v1::ExplainAccessRequest object;
  object.set_user("users/bob");
  object.set_object("accounts");
  object.set_action(crm::v1::ACTION_DELETE);
  AccessExplanation on_object;
  auto octx = admin_->NewContext();
  grpc::Status os = review_->ExplainAccess(octx.get(), object, &on_object);
  ASSERT_TRUE(os.ok()) << Text(os);
  EXPECT_FALSE(on_object.allowed());
  EXPECT_EQ(on_object.refused_layer(), crm::v1::LAYER_OBJECT_PERMISSION);
  EXPECT_TRUE(on_object.paths().empty());
  object.set_action(crm::v1::ACTION_CREATE);
  octx = admin_->NewContext();
  ASSERT_TRUE(review_->ExplainAccess(octx.get(), object, &on_object).ok());
  EXPECT_TRUE(on_object.allowed());
  EXPECT_EQ(on_object.rule(), "object-permission:accounts:create");

  AccessExplanation revenue = ExplainOk("users/bob", "accounts/acme",
                                        crm::v1::ACTION_EDIT, "annual_revenue");
  EXPECT_FALSE(revenue.allowed());
  EXPECT_EQ(revenue.refused_layer(), crm::v1::LAYER_FIELD);
  EXPECT_THAT(revenue.reason(), HasSubstr("annual_revenue"));

  // carol's profile only allows 10.0.0.0/8.
  AccessExplanation carol =
      ExplainOk("users/carol", "accounts/acme", crm::v1::ACTION_READ, "",
                "192.0.2.7");
  EXPECT_FALSE(carol.allowed());
  EXPECT_EQ(carol.refused_layer(), crm::v1::LAYER_LOGIN_RESTRICTION);
  EXPECT_THAT(carol.login(), HasSubstr("ip_ranges"));
  AccessExplanation bob_login = ExplainOk(
      "users/bob", "accounts/acme", crm::v1::ACTION_READ, "", "127.0.0.1");
  EXPECT_TRUE(bob_login.allowed());
  EXPECT_EQ(bob_login.login(), "allowed");
}

// ExplainAccess's verdict is what bob gets when he asks himself.
TEST_P(AccessReviewTest, VerdictEqualsWhatBobGets) {
  auto bob = server_->Client("admin-cli");
  auto token = LoginToken(*bob, "bob", "bob-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();
  bob->set_session_token(*token);
  crm::v1::ListAccountsRequest list;
  list.set_page_size(100);
  crm::v1::ListAccountsResponse all;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().ListAccounts(ctx.get(), list, &all).ok());
  ASSERT_GE(all.accounts_size(), 6);
  for (const auto& account : all.accounts()) {
    SCOPED_TRACE(account.name());
    crm::v1::GetAccountRequest get;
    get.set_name(account.name());
    crm::v1::Account got;
    auto c = bob->NewContext();
    grpc::Status s = bob->accounts().GetAccount(c.get(), get, &got);
    AccessExplanation e =
        ExplainOk("users/bob", account.name(), crm::v1::ACTION_READ);
    EXPECT_EQ(e.allowed(), s.ok()) << Text(s);
    if (!s.ok()) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    }
  }
}

TEST_P(AccessReviewTest, SummaryCountsWhatListReturns) {
  crm::v1::SummarizeUserAccessRequest req;
  req.set_user("users/bob");
  req.add_objects("accounts");
  req.add_objects("contacts");
  crm::v1::UserAccessSummary resp;
  auto ctx = admin_->NewContext();
  grpc::Status s = review_->SummarizeUserAccess(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Text(s);
  ASSERT_EQ(resp.objects_size(), 2);
  const auto& accounts = resp.objects(0);
  EXPECT_EQ(accounts.object(), "accounts");
  // acme, initech (his), globex (shared, read only).
  EXPECT_EQ(accounts.readable_records(), 3);
  EXPECT_EQ(accounts.editable_records(), 2);
  EXPECT_FALSE(accounts.can_delete());
  EXPECT_EQ(accounts.deletable_records(), 0);
  EXPECT_THAT(absl::StrJoin(accounts.grants(), "\n"),
              HasSubstr("permissionSets/sales"));

  // The same number as bob's own List.
  auto bob = server_->Client("admin-cli");
  auto token = LoginToken(*bob, "bob", "bob-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();
  bob->set_session_token(*token);
  crm::v1::ListAccountsRequest list;
  list.set_page_size(100);
  crm::v1::ListAccountsResponse listed;
  auto c = bob->NewContext();
  ASSERT_TRUE(bob->accounts().ListAccounts(c.get(), list, &listed).ok());
  EXPECT_EQ(listed.accounts_size(), accounts.readable_records());
}

TEST_P(AccessReviewTest, EffectivePermissionsWithSources) {
  crm::v1::EffectivePermissionsRequest req;
  req.set_user("users/bob");
  crm::v1::EffectivePermissionsResponse resp;
  auto ctx = admin_->NewContext();
  grpc::Status s = review_->EffectivePermissions(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(resp.profile(), "profiles/sales-rep");
  EXPECT_EQ(resp.role(), "roles/sales-rep");
  bool accounts = false;
  for (const auto& o : resp.objects()) {
    if (o.object() != "accounts") continue;
    accounts = true;
    EXPECT_TRUE(o.read());
    EXPECT_TRUE(o.edit());
    EXPECT_FALSE(o.delete_());
    ASSERT_EQ(o.user_grants_size(), 1);
    EXPECT_EQ(o.user_grants(0).source().grant(), "permissionSets/sales");
  }
  EXPECT_TRUE(accounts);
  for (const auto& f : resp.fields()) {
    if (f.object() == "contacts" && f.field() == "personal_phone") {
      EXPECT_FALSE(f.readable());
      EXPECT_TRUE(f.sensitive());
    }
  }
  for (const auto& p : resp.system_permissions()) {
    EXPECT_FALSE(p.held()) << p.DebugString();
  }

  // alice holds view_audit through her profile, and admin-cli through its
  // configuration.
  req.set_user("users/alice");
  auto c = admin_->NewContext();
  ASSERT_TRUE(review_->EffectivePermissions(c.get(), req, &resp).ok());
  bool view_audit = false;
  for (const auto& p : resp.system_permissions()) {
    if (p.permission() != crm::v1::VIEW_AUDIT) continue;
    view_audit = true;
    EXPECT_TRUE(p.held());
    EXPECT_EQ(p.user_grant(), "profile:profiles/admin");
    EXPECT_EQ(p.service_grant(), "config:services/admin-cli");
  }
  EXPECT_TRUE(view_audit);
}

TEST_P(AccessReviewTest, RefusedWithoutViewAudit) {
  // billing acting as itself: no view_audit.
  auto billing = server_->Client("billing");
  auto stub = crm::v1::AccessReviewService::NewStub(billing->channel());
  crm::v1::EffectivePermissionsRequest req;
  req.set_user("users/bob");
  crm::v1::EffectivePermissionsResponse resp;
  auto ctx = billing->NewContext();
  grpc::Status s = stub->EffectivePermissions(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("view_audit"));

  // bob through admin-cli: the service holds it, bob does not.
  auto bob = server_->Client("admin-cli");
  auto token = LoginToken(*bob, "bob", "bob-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();
  bob->set_session_token(*token);
  auto bob_stub = crm::v1::AccessReviewService::NewStub(bob->channel());
  crm::v1::ListRecordAccessorsRequest list;
  list.set_record("accounts/acme");
  crm::v1::ListRecordAccessorsResponse accessors;
  auto c = bob->NewContext();
  s = bob_stub->ListRecordAccessors(c.get(), list, &accessors);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);

  // alice may (her profile holds view_audit, admin-cli passes it on).
  auto alice = server_->Client("admin-cli");
  token = LoginToken(*alice, "alice", "alice-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();
  alice->set_session_token(*token);
  auto alice_stub = crm::v1::AccessReviewService::NewStub(alice->channel());
  auto a = alice->NewContext();
  s = alice_stub->ListRecordAccessors(a.get(), list, &accessors);
  EXPECT_TRUE(s.ok()) << Text(s);
}

TEST_P(AccessReviewTest, MissingAndMalformed) {
  AccessExplanation out;
  grpc::Status s = Explain("users/zed", "accounts/acme", crm::v1::ACTION_READ,
                           &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("users/zed not found"));
  s = Explain("users/bob", "accounts/nope", crm::v1::ACTION_READ, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("accounts/nope not found"));

  s = Explain("bob", "widgets/1", crm::v1::ACCESS_ACTION_UNSPECIFIED, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  std::set<std::string> fields;
  for (const auto& v : d.field_violations) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"user", "record", "action"}));

  crm::v1::ListRecordAccessorsRequest req;
  req.set_record("accounts/acme");
  req.set_page_token("garbage");
  crm::v1::ListRecordAccessorsResponse resp;
  auto ctx = admin_->NewContext();
  s = review_->ListRecordAccessors(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
}

// crmctl access explain|accessors|summary|permissions, tables and JSON.
TEST_P(AccessReviewTest, Crmctl) {
  CliResult r = Cli({"access", "explain", "bob", "accounts/globex", "read"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ALLOWED: users/bob read accounts/globex"));
  EXPECT_THAT(r.out, HasSubstr("manual-share"));
  EXPECT_THAT(r.out, HasSubstr("permissionSets/sales (profiles/sales-rep)"));

  r = Cli({"access", "explain", "bob", "accounts/umbrella", "read"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("REFUSED"));
  EXPECT_THAT(r.out, HasSubstr("refused by: record access"));

  r = Cli({"access", "explain", "bob", "accounts/acme", "delete", "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  AccessExplanation e;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &e).ok())
      << r.out;
  EXPECT_EQ(e.refused_layer(), crm::v1::LAYER_OBJECT_PERMISSION);

  r = Cli({"access", "accessors", "accounts/acme"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("users/erin"));
  EXPECT_THAT(r.out, HasSubstr("hierarchy (full) via users/bob > "
                               "roles/sales-rep > roles/sales-manager"));

  r = Cli({"access", "summary", "bob", "accounts"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("accounts"));
  EXPECT_THAT(r.out, HasSubstr("3"));

  r = Cli({"--output", "json", "access", "permissions", "alice"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("profile:profiles/admin"));
  r = Cli({"access", "permissions", "bob"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("personal_phone"));

  r = Cli({"access", "explain", "bob", "accounts/acme", "fly"});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("not an action"));
  r = Cli({"access", "explain", "zed", "accounts/acme", "read"});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("users/zed not found"));
}

// --- 3. Reports -------------------------------------------------------------

std::vector<crm::v1::AccessMatrixRow> ReadMatrix(
    crm::v1::AccessReviewService::Stub& stub, const client::CrmClient& client,
    int chunk_size, int* chunks, int64_t* version) {
  crm::v1::ExportAccessMatrixRequest req;
  req.set_chunk_size(chunk_size);
  auto ctx = client.NewContext();
  auto reader = stub.ExportAccessMatrix(ctx.get(), req);
  std::vector<crm::v1::AccessMatrixRow> rows;
  crm::v1::AccessMatrixChunk chunk;
  *chunks = 0;
  while (reader->Read(&chunk)) {
    ++*chunks;
    *version = chunk.policy_version();
    EXPECT_EQ(chunk.service(), "services/admin-cli");
    for (const auto& r : chunk.rows()) rows.push_back(r);
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << Text(s);
  return rows;
}

TEST_P(AccessReviewTest, AccessMatrixAgreesWithPermissionsAndCounts) {
  int chunks = 0;
  int64_t version = 0;
  std::vector<crm::v1::AccessMatrixRow> rows =
      ReadMatrix(*review_, *admin_, 2, &chunks, &version);
  ASSERT_GE(rows.size(), 7u);
  EXPECT_EQ(chunks, static_cast<int>((rows.size() + 1) / 2));
  EXPECT_GT(version, 0);
  // Every user once, in id order, with the same columns.
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LT(rows[i - 1].user(), rows[i].user());
    ASSERT_EQ(rows[i].objects_size(), rows[0].objects_size());
    ASSERT_EQ(rows[i].sensitive_fields_size(),
              rows[0].sensitive_fields_size());
  }
  ASSERT_GT(rows[0].sensitive_fields_size(), 0);

  // Each object's total, as admin-cli (a service acting as itself reads
  // every record).
  std::map<std::string, int64_t> totals;
  {
    crm::v1::SummarizeUserAccessRequest req;
    req.set_user("users/alice");  // view_all_data: every record
    crm::v1::UserAccessSummary all;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(review_->SummarizeUserAccess(ctx.get(), req, &all).ok());
    for (const auto& o : all.objects()) totals[o.object()] = o.readable_records();
  }
  ASSERT_GT(totals["accounts"], 3);

  int granted = 0, all_scope = 0, none = 0;
  for (const crm::v1::AccessMatrixRow& row : rows) {
    SCOPED_TRACE(row.user());
    crm::v1::EffectivePermissionsRequest preq;
    preq.set_user(row.user());
    crm::v1::EffectivePermissionsResponse perms;
    auto pctx = admin_->NewContext();
    ASSERT_TRUE(review_->EffectivePermissions(pctx.get(), preq, &perms).ok());
    EXPECT_EQ(row.active(), perms.active());
    EXPECT_EQ(row.profile(), perms.profile());
    EXPECT_EQ(row.role(), perms.role());
    EXPECT_FALSE(row.username().empty());
    crm::v1::SummarizeUserAccessRequest sreq;
    sreq.set_user(row.user());
    crm::v1::UserAccessSummary summary;
    auto sctx = admin_->NewContext();
    ASSERT_TRUE(review_->SummarizeUserAccess(sctx.get(), sreq, &summary).ok());
    ASSERT_EQ(summary.objects_size(), row.objects_size());
    ASSERT_EQ(perms.objects_size(), row.objects_size());
    for (int i = 0; i < row.objects_size(); ++i) {
      const crm::v1::AccessMatrixCell& cell = row.objects(i);
      const auto& p = perms.objects(i);
      const auto& counted = summary.objects(i);
      SCOPED_TRACE(cell.object());
      ASSERT_EQ(cell.object(), p.object());
      ASSERT_EQ(cell.object(), counted.object());
      EXPECT_EQ(cell.read(), p.read());
      EXPECT_EQ(cell.create(), p.create());
      EXPECT_EQ(cell.edit(), p.edit());
      EXPECT_EQ(cell.delete_(), p.delete_());
      EXPECT_EQ(cell.view_all(), p.view_all());
      EXPECT_EQ(cell.modify_all(), p.modify_all());
      // The scope is what the counted filter reaches.
      switch (cell.read_scope()) {
        case crm::v1::SCOPE_ALL:
          ++all_scope;
          EXPECT_EQ(counted.readable_records(), totals[cell.object()]);
          break;
        case crm::v1::SCOPE_NONE:
          ++none;
          EXPECT_EQ(counted.readable_records(), 0);
          break;
        case crm::v1::SCOPE_GRANTED:
          ++granted;
          EXPECT_TRUE(cell.read());
          EXPECT_GE(cell.owner_users(), 1);  // at least the user
          EXPECT_LE(counted.readable_records(), totals[cell.object()]);
          break;
        default:
          EXPECT_LE(counted.readable_records(), totals[cell.object()]);
      }
      if (cell.edit_scope() == crm::v1::SCOPE_ALL) {
        EXPECT_EQ(counted.editable_records(), totals[cell.object()]);
      }
      if (cell.edit_scope() == crm::v1::SCOPE_NONE) {
        EXPECT_EQ(counted.editable_records(), 0);
      }
    }
    // Sensitive fields: readable only with the field permission
    // EffectivePermissions names, and the object's read.
    for (const auto& f : row.sensitive_fields()) {
      std::pair<std::string, std::string> name =
          absl::StrSplit(f.field(), absl::MaxSplits('.', 1));
      bool found = false;
      for (const auto& pf : perms.fields()) {
        if (pf.object() != name.first || pf.field() != name.second) continue;
        found = true;
        EXPECT_TRUE(pf.sensitive());
        bool object_read = false, object_edit = false;
        for (const auto& o : perms.objects()) {
          if (o.object() == name.first) {
            object_read = o.read();
            object_edit = o.edit();
          }
        }
        EXPECT_EQ(f.read(), pf.readable() && object_read) << f.field();
        EXPECT_EQ(f.edit(), pf.writable() && object_edit) << f.field();
      }
      EXPECT_TRUE(found) << f.field();
    }
  }
  EXPECT_GT(granted, 0);
  EXPECT_GT(all_scope, 0);
  EXPECT_GT(none, 0);

  // Known cells: bob reaches accounts by grants and cannot read the
  // personal phone; audrey (view_audit only) reads nothing.
  for (const auto& row : rows) {
    if (row.user() == "users/bob") {
      EXPECT_EQ(row.objects(0).object(), "accounts");
      EXPECT_EQ(row.objects(0).read_scope(), crm::v1::SCOPE_GRANTED);
      for (const auto& f : row.sensitive_fields()) {
        if (f.field() == "contacts.personal_phone") {
          EXPECT_FALSE(f.read());
        }
      }
    }
    if (row.user() == "users/audrey") {
      for (const auto& c : row.objects()) {
        EXPECT_EQ(c.read_scope(), crm::v1::SCOPE_NONE) << c.object();
      }
    }
  }
}

TEST_P(AccessReviewTest, ReportsThroughCrmctl) {
  const std::string dir = ::testing::TempDir();
  const std::string csv = absl::StrCat(dir, "/matrix-", GetParam() ==
                                                            Backend::kSqlite
                                                        ? "sqlite"
                                                        : "pg",
                                       ".csv");
  CliResult r = Cli({"access", "matrix", csv});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("users to"));
  std::ifstream in(csv);
  std::string line;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  int chunks = 0;
  int64_t version = 0;
  const auto rows = ReadMatrix(*review_, *admin_, 0, &chunks, &version);
  ASSERT_EQ(lines.size(), rows.size() + 1);
  EXPECT_THAT(lines[0], HasSubstr("user,username,profile,role,active,"
                                  "accounts permissions,accounts read scope"));
  EXPECT_THAT(lines[0], HasSubstr("contacts.personal_phone"));
  bool bob = false;
  for (const std::string& l : lines) {
    if (absl::StartsWith(l, "users/bob,bob,profiles/sales-rep,")) {
      bob = true;
      EXPECT_THAT(l, HasSubstr(",read create edit,granted,granted,owners="));
    }
  }
  EXPECT_TRUE(bob);
  EXPECT_FALSE(std::ifstream(csv + ".partial").good());

  const std::string html = absl::StrCat(csv, ".html");
  r = Cli({"access", "report", "--html", html});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::ifstream page(html);
  std::stringstream text;
  text << page.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(text.str(), HasSubstr("data-user=\"users/alice\" "
                                    "data-privilege=\"VIEW_ALL_DATA\""));
  r = Cli({"access", "report"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("profile:profiles/admin"));
  r = Cli({"access", "report", "--dormant-days", "zero"});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("--dormant-days expects a number of days"));
}

// The report on a fake clock: the demo organisation is created 200 days
// ago, bob logs in today, a sharing rule is created and deleted.
TEST_P(AccessReviewTest, AccessReviewReportAgreesWithTheApi) {
  auth::FakeClock clock(absl::Now() - absl::Hours(24 * 200));
  auto started = TestServer::Start(
      {.backend = GetParam(),
       .customize =
           [](crm::internal::ServerConfig& config) {
             testing::GrantSystemPermissions(
                 config, "admin-cli", {"view_audit"});
           },
       .clock = &clock});
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<TestServer> server = *std::move(started);
  ASSERT_TRUE(server::LoadDemoOrganisation(server->server().core()).ok());
  ASSERT_TRUE(server->server().ReloadPolicy().ok());
  auto admin = server->Client("admin-cli");
  auto review = crm::v1::AccessReviewService::NewStub(admin->channel());

  clock.Advance(absl::Hours(24 * 200));
  auto bob = server->Client("admin-cli");
  auto token = LoginToken(*bob, "bob", "bob-demo-pw");
  ASSERT_TRUE(token.ok()) << token.status();

  // A policy change today, and its removal.
  auto policy = crm::v1::PolicyAdminService::NewStub(admin->channel());
  crm::v1::CreatePolicyObjectRequest create;
  auto* rule = create.mutable_object()->mutable_sharing_rule();
  rule->set_name("sharingRules/report-test");
  rule->set_object("accounts");
  rule->set_criteria("industry = \"Retail\"");
  rule->mutable_shared_with()->set_role("roles/sales-rep");
  rule->set_access(crm::v1::READ);
  crm::v1::PolicyObject created;
  {
    auto ctx = admin->NewContext();
    grpc::Status s = policy->CreatePolicyObject(ctx.get(), create, &created);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  crm::v1::GetAccessReviewReportRequest req;
  req.set_dormant_days(90);
  req.set_changes_days(1);
  crm::v1::AccessReviewReport report;
  {
    auto ctx = admin->NewContext();
    grpc::Status s = review->GetAccessReviewReport(ctx.get(), req, &report);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  // Totals and profiles against UserAdminService.
  auto users_stub = crm::v1::UserAdminService::NewStub(admin->channel());
  crm::v1::ListUsersRequest lreq;
  lreq.set_page_size(1000);
  crm::v1::ListUsersResponse listed;
  {
    auto ctx = admin->NewContext();
    ASSERT_TRUE(users_stub->ListUsers(ctx.get(), lreq, &listed).ok());
  }
  std::map<std::string, std::pair<int, int>> per_profile;
  int active = 0;
  std::set<std::string> active_users;
  for (const auto& u : listed.users()) {
    const bool on = u.active();
    active += on;
    if (on) active_users.insert(u.name());
    auto& c = per_profile[u.profile()];
    (on ? c.first : c.second)++;
  }
  EXPECT_EQ(report.total_users(), listed.users_size());
  EXPECT_EQ(report.active_users(), active);
  ASSERT_EQ(report.profiles_size(), 6);
  for (const auto& p : report.profiles()) {
    EXPECT_EQ(p.active_users(), per_profile[p.profile()].first) << p.profile();
    EXPECT_EQ(p.inactive_users(), per_profile[p.profile()].second)
        << p.profile();
  }

  // Privileged users against EffectivePermissions' user grants.
  std::map<std::string, std::set<std::string>> privileged;
  for (const auto& u : report.privileged_users()) {
    for (const auto& g : u.privileges()) {
      privileged[u.user()].insert(g.privilege());
      EXPECT_FALSE(g.sources().empty());
    }
  }
  EXPECT_THAT(privileged["users/alice"],
              ::testing::IsSupersetOf({"VIEW_ALL_DATA", "MODIFY_ALL_DATA",
                                       "MANAGE_POLICY", "MANAGE_USERS",
                                       "VIEW_AUDIT", "PRIVACY_OPERATIONS"}));
  EXPECT_EQ(privileged["users/audrey"], std::set<std::string>{"VIEW_AUDIT"});
  EXPECT_EQ(privileged.count("users/bob"), 0u);
  for (const auto& [user, held] : privileged) {
    crm::v1::EffectivePermissionsRequest preq;
    preq.set_user(user);
    crm::v1::EffectivePermissionsResponse perms;
    auto ctx = admin->NewContext();
    ASSERT_TRUE(review->EffectivePermissions(ctx.get(), preq, &perms).ok());
    for (const auto& sp : perms.system_permissions()) {
      const std::string name = crm::v1::SystemPermission_Name(sp.permission());
      if (name == "EXPORT") continue;
      EXPECT_EQ(held.count(name) == 1, !sp.user_grant().empty())
          << user << " " << name;
    }
  }

  // Dormant: every active user but bob (created 200 days ago; only bob
  // logged in since).
  std::set<std::string> dormant;
  for (const auto& d : report.dormant_users()) {
    dormant.insert(d.user());
    EXPECT_FALSE(d.has_last_login()) << d.user();
  }
  std::set<std::string> expected = active_users;
  expected.erase("users/bob");
  EXPECT_EQ(dormant, expected);
  EXPECT_EQ(report.dormant_days(), 90);
  EXPECT_TRUE(report.has_audit_trail_start());

  // Changes: the rule's creation, from the audit trail.
  bool seen = false;
  for (const auto& e : report.policy_changes()) {
    EXPECT_TRUE(absl::StartsWith(e.action(), "policy.")) << e.action();
    if (e.resource() == "sharingRules/report-test") {
      seen = true;
      EXPECT_EQ(e.action(), "policy.create");
    }
  }
  EXPECT_TRUE(seen);

  // A year later, bob is dormant too, with his last login named, and the
  // day's window holds no change.
  clock.Advance(absl::Hours(24 * 365));
  {
    auto ctx = admin->NewContext();
    ASSERT_TRUE(review->GetAccessReviewReport(ctx.get(), req, &report).ok());
  }
  bool bob_dormant = false;
  for (const auto& d : report.dormant_users()) {
    if (d.user() != "users/bob") continue;
    bob_dormant = true;
    EXPECT_TRUE(d.has_last_login());
  }
  EXPECT_TRUE(bob_dormant);
  EXPECT_EQ(report.policy_changes_size(), 0);

  // Bad windows.
  req.set_dormant_days(-1);
  req.set_changes_days(4000);
  auto ctx = admin->NewContext();
  grpc::Status s = review->GetAccessReviewReport(ctx.get(), req, &report);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  std::set<std::string> fields;
  for (const auto& v : d.field_violations) fields.insert(v.field);
  EXPECT_EQ(fields, (std::set<std::string>{"dormant_days", "changes_days"}));
}

INSTANTIATE_TEST_SUITE_P(Backends, AccessReviewTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
