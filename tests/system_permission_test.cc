// WhoAmI agrees with enforcement: for every admin method (enumerated from
// the service descriptors) and every system permission, a caller is let
// through iff WhoAmI lists the permission the method requires. Callers are
// a service acting as itself and a user acting through a service, holding
// exactly one permission (or none) through permission sets assigned to the
// service, the user and the user's profile; both must hold it for a user
// (policy::Evaluator::CheckSystem). On SQLite and PostgreSQL.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crm/v1/access_review_service.grpc.pb.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/auth_service.grpc.pb.h"
#include "crm/v1/data_inventory_service.grpc.pb.h"
#include "crm/v1/key_admin_service.grpc.pb.h"
#include "crm/v1/user_admin_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "policy/system_permission.h"
#include "tests/auth_test_util.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::SystemPermission;

// The permission each admin method requires (admin_service.proto,
// user_admin_service.proto, access_review_service.proto,
// key_admin_service.proto and data_inventory_service.proto "Who may call";
// auth_service.proto). Every
// method of the admin services must be listed: the test fails for a new one
// until it is.
const std::map<std::string, SystemPermission>& Required() {
  static const auto* required = new std::map<std::string, SystemPermission>{
      {"crm.v1.PolicyAdminService.CreatePolicyObject", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.GetPolicyObject", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.ListPolicyObjects", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.UpdatePolicyObject", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.DeletePolicyObject", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.PlanPolicy", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.ApplyPolicy", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.ListPolicyVersions", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.GetPolicyVersion", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.DiffPolicyVersions", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.SetShadowPolicy", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.GetShadowPolicy", crm::v1::MANAGE_POLICY},
      {"crm.v1.PolicyAdminService.ClearShadowPolicy", crm::v1::MANAGE_POLICY},
      {"crm.v1.UserAdminService.CreateUser", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.GetUser", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.ListUsers", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.UpdateUser", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.SetUserPassword", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.DeleteUser", crm::v1::MANAGE_USERS},
      {"crm.v1.UserAdminService.CreateProfile", crm::v1::MANAGE_POLICY},
      {"crm.v1.UserAdminService.GetProfile", crm::v1::MANAGE_POLICY},
      {"crm.v1.UserAdminService.ListProfiles", crm::v1::MANAGE_POLICY},
      {"crm.v1.UserAdminService.UpdateProfile", crm::v1::MANAGE_POLICY},
      {"crm.v1.UserAdminService.DeleteProfile", crm::v1::MANAGE_POLICY},
      {"crm.v1.AuthService.RevokeUserSessions", crm::v1::MANAGE_USERS},
      {"crm.v1.AuthService.UnlockUser", crm::v1::MANAGE_USERS},
      {"crm.v1.AccessReviewService.ExplainAccess", crm::v1::VIEW_AUDIT},
      {"crm.v1.AccessReviewService.ListRecordAccessors", crm::v1::VIEW_AUDIT},
      {"crm.v1.AccessReviewService.SummarizeUserAccess", crm::v1::VIEW_AUDIT},
      {"crm.v1.AccessReviewService.EffectivePermissions", crm::v1::VIEW_AUDIT},
      {"crm.v1.AccessReviewService.ExportAccessMatrix", crm::v1::VIEW_AUDIT},
      {"crm.v1.AccessReviewService.GetAccessReviewReport",
       crm::v1::VIEW_AUDIT},
      {"crm.v1.KeyAdminService.GetKeyStatus", crm::v1::MANAGE_POLICY},
      {"crm.v1.KeyAdminService.RotateDataKey", crm::v1::MANAGE_POLICY},
      {"crm.v1.DataInventoryService.GetDataInventory",
       crm::v1::PRIVACY_OPERATIONS},
  };
  return *required;
}

// AuthService methods every caller may use (not admin methods).
const std::set<std::string>& SelfService() {
  static const auto* methods = new std::set<std::string>{
      "crm.v1.AuthService.Login", "crm.v1.AuthService.Logout",
      "crm.v1.AuthService.WhoAmI"};
  return *methods;
}

// Every admin method, from the descriptors.
std::vector<const google::protobuf::MethodDescriptor*> AdminMethods() {
  std::vector<const google::protobuf::MethodDescriptor*> out;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const char* name :
       {"crm.v1.PolicyAdminService", "crm.v1.UserAdminService",
        "crm.v1.AuthService", "crm.v1.AccessReviewService",
        "crm.v1.KeyAdminService", "crm.v1.DataInventoryService"}) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      if (SelfService().count(m->full_name()) == 0) out.push_back(m);
    }
  }
  return out;
}

// Calls `method` with an empty (all-default) request. Authorization comes
// first in every admin method, so the status tells whether the caller was
// let through (anything but PERMISSION_DENIED: an empty request is then
// refused as invalid or not found, and changes nothing).
grpc::Status CallEmpty(const client::CrmClient& client,
                       const google::protobuf::MethodDescriptor& method) {
  grpc::GenericStub stub(client.channel());
  auto context = client.NewContext();
  grpc::CompletionQueue cq;
  grpc::Slice empty(std::string{});
  grpc::ByteBuffer request(&empty, 1);
  auto call = stub.PrepareUnaryCall(
      context.get(),
      absl::StrCat("/", method.service()->full_name(), "/", method.name()),
      request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

std::vector<std::string> AllNames() {
  std::vector<std::string> names;
  for (SystemPermission p : policy::AllSystemPermissions()) {
    names.push_back(policy::SystemPermissionName(p));
  }
  return names;
}

class SystemPermissionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    TestServerOptions options;
    options.backend = GetParam();
    // admin-cli holds every permission through its config and writes the
    // policy; billing and web-frontend hold none through config.
    options.customize = [](crm::internal::ServerConfig& c) {
      for (auto& s : *c.mutable_services()) {
        s.clear_system_permissions();
        if (s.name() == "admin-cli") {
          for (const std::string& n : AllNames()) s.add_system_permissions(n);
        }
      }
    };
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    store::ProfileRow plain;
    plain.id = "plain";
    plain.name = "Plain";
    ASSERT_TRUE(AddProfile(*server_, plain).ok());
    ASSERT_TRUE(AddUser(*server_, "uma", "uma-pw", "plain").ok());
    admin_ = server_->Client("admin-cli");
    billing_ = server_->Client("billing");
    user_ = server_->Client("web-frontend");
    auto token = LoginToken(*user_, "uma", "uma-pw");
    ASSERT_TRUE(token.ok()) << token.status();
    user_->set_session_token(*token);
  }

  // Replaces the permission set `id` (granting `permissions`, assigned to
  // `assignee`); no set at all for no permissions.
  void SetGrant(const std::string& id, const std::vector<SystemPermission>& permissions,
                const std::string& assignee) {
    const std::string name = absl::StrCat("permissionSets/", id);
    {
      crm::v1::DeletePolicyObjectRequest request;
      request.set_name(name);
      google::protobuf::Empty response;
      auto context = admin_->NewContext();
      grpc::Status s = admin_->policy_admin().DeletePolicyObject(
          context.get(), request, &response);
      ASSERT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::NOT_FOUND)
          << StatusText(s);
    }
    if (permissions.empty()) return;
    crm::v1::CreatePolicyObjectRequest request;
    request.set_id(id);
    auto* set = request.mutable_object()->mutable_permission_set();
    for (SystemPermission p : permissions) set->add_system_permissions(p);
    set->add_assignees(assignee);
    crm::v1::PolicyObject response;
    auto context = admin_->NewContext();
    grpc::Status s = admin_->policy_admin().CreatePolicyObject(
        context.get(), request, &response);
    ASSERT_TRUE(s.ok()) << StatusText(s);
  }

  std::vector<std::string> WhoAmI(const client::CrmClient& client) {
    crm::v1::WhoAmIRequest request;
    crm::v1::WhoAmIResponse response;
    auto context = client.NewContext();
    grpc::Status s = client.auth().WhoAmI(context.get(), request, &response);
    EXPECT_TRUE(s.ok()) << StatusText(s);
    return {response.system_permissions().begin(),
            response.system_permissions().end()};
  }

  // Every admin method is let through iff WhoAmI lists what it requires;
  // WhoAmI lists exactly `expected`.
  void ExpectAgreement(const client::CrmClient& client,
                       const std::vector<std::string>& expected,
                       const std::string& what) {
    const std::vector<std::string> listed = WhoAmI(client);
    EXPECT_THAT(listed, ::testing::UnorderedElementsAreArray(expected)) << what;
    for (const auto* method : AdminMethods()) {
      auto required = Required().find(method->full_name());
      ASSERT_NE(required, Required().end())
          << method->full_name()
          << " is an admin method this test does not know: add it to "
             "Required()";
      const std::string needed = policy::SystemPermissionName(required->second);
      const bool holds = std::find(listed.begin(), listed.end(), needed) !=
                         listed.end();
      grpc::Status s = CallEmpty(client, *method);
      const bool denied = s.error_code() == grpc::StatusCode::PERMISSION_DENIED;
      EXPECT_EQ(!denied, holds)
          << what << ": " << method->full_name() << " -> " << StatusText(s);
      if (denied) {
        EXPECT_TRUE(absl::StartsWith(s.error_message(),
                                     absl::StrCat(needed, " is required to call ")))
            << what << ": " << s.error_message();
      }
    }
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<client::CrmClient> billing_;
  std::unique_ptr<client::CrmClient> user_;
};

TEST_P(SystemPermissionTest, EveryAdminMethodIsClassified) {
  std::set<std::string> seen;
  for (const auto* m : AdminMethods()) seen.insert(m->full_name());
  for (const auto& [method, p] : Required()) {
    EXPECT_TRUE(seen.count(method)) << method << " is not an admin method";
  }
}

TEST_P(SystemPermissionTest, ServiceConfigHoldsEverything) {
  ExpectAgreement(*admin_, AllNames(), "admin-cli (config)");
}

TEST_P(SystemPermissionTest, WhoAmIAgreesWithEnforcementForEveryPermission) {
  const std::vector<SystemPermission> all = policy::AllSystemPermissions();
  std::vector<SystemPermission> each = all;
  each.push_back(crm::v1::SYSTEM_PERMISSION_UNSPECIFIED);  // none
  for (SystemPermission p : each) {
    const bool none = p == crm::v1::SYSTEM_PERMISSION_UNSPECIFIED;
    const std::vector<SystemPermission> one =
        none ? std::vector<SystemPermission>{} : std::vector<SystemPermission>{p};
    const std::vector<std::string> expected =
        none ? std::vector<std::string>{}
             : std::vector<std::string>{policy::SystemPermissionName(p)};
    const std::string label = none ? "none" : policy::SystemPermissionName(p);

    // A service acting as itself, through a set assigned to it.
    SetGrant("svc", one, "services/billing");
    ExpectAgreement(*billing_, expected, absl::StrCat("billing holds ", label));

    // A user holding one (set assigned to the user) through a service
    // holding all.
    SetGrant("wf", all, "services/web-frontend");
    SetGrant("usr", one, "users/uma");
    ExpectAgreement(*user_, expected,
                    absl::StrCat("uma holds ", label, ", web-frontend all"));

    // A user holding all (set assigned to the profile) through a service
    // holding one: the service's scope limits the user.
    SetGrant("wf", one, "services/web-frontend");
    SetGrant("usr", all, "profiles/plain");
    ExpectAgreement(*user_, expected,
                    absl::StrCat("uma holds all, web-frontend ", label));
    SetGrant("usr", {}, "");
    SetGrant("wf", {}, "");
  }
}

// A profile's own system permissions (UserAdminService.UpdateProfile): WhoAmI
// lists them and the admin checks enforce them from the very next call, on
// the same policy version, and both drop them together.
TEST_P(SystemPermissionTest, ProfilePermissionsAgreeFromTheNextCall) {
  SetGrant("wf", policy::AllSystemPermissions(), "services/web-frontend");
  auto set_profile = [&](std::vector<SystemPermission> permissions) {
    crm::v1::UpdateProfileRequest request;
    request.mutable_profile()->set_name("profiles/plain");
    for (SystemPermission p : permissions) {
      request.mutable_profile()->add_system_permissions(p);
    }
    request.mutable_update_mask()->add_paths("system_permissions");
    crm::v1::Profile response;
    auto context = admin_->NewContext();
    grpc::Status s =
        admin_->user_admin().UpdateProfile(context.get(), request, &response);
    ASSERT_TRUE(s.ok()) << StatusText(s);
  };
  ExpectAgreement(*user_, {}, "plain grants nothing");
  set_profile({crm::v1::MANAGE_USERS, crm::v1::VIEW_AUDIT});
  ExpectAgreement(*user_, {"manage_users", "view_audit"},
                  "plain grants manage_users and view_audit");
  set_profile({crm::v1::MANAGE_POLICY});
  ExpectAgreement(*user_, {"manage_policy"}, "plain grants manage_policy");
  set_profile({});
  ExpectAgreement(*user_, {}, "plain grants nothing again");
  SetGrant("wf", {}, "");
}

INSTANTIATE_TEST_SUITE_P(Backends, SystemPermissionTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
