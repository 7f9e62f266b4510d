// Evaluator::CheckSystem: the rule of evaluator.h ("System permissions"),
// one row per way to hold (or not hold) a system permission.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/text_format.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/snapshot.h"
#include "policy/system_permission.h"

namespace crm::policy {
namespace {

using crm::v1::SystemPermission;

constexpr char kOrg[] = R"pb(
  version: 3
  users { id: "pat" profile: "profiles/admins" active: true
          profile_system_permissions: MANAGE_POLICY }
  users { id: "uma" profile: "profiles/plain" active: true }
  users { id: "sam" profile: "profiles/staff" active: true }
  users { id: "ina" profile: "profiles/admins" active: false
          profile_system_permissions: MANAGE_POLICY }
  permission_sets {
    name: "permissionSets/svc-policy"
    system_permissions: MANAGE_POLICY
    assignees: "services/setsvc"
  }
  permission_sets {
    name: "permissionSets/user-audit"
    system_permissions: VIEW_AUDIT
    assignees: "users/uma"
  }
  permission_sets {
    name: "permissionSets/staff-users"
    system_permissions: MANAGE_USERS
    assignees: "profiles/staff"
  }
)pb";

constexpr char kServices[] = R"pb(
  services { name: "cfg" system_permissions: "manage_users" }
  services { name: "setsvc" }
  services {
    name: "all"
    system_permissions: "manage_users"
    system_permissions: "manage_policy"
    system_permissions: "view_audit"
  }
  services { name: "none" }
)pb";

std::shared_ptr<const PolicySnapshot> Snapshot() {
  crm::internal::PolicyState state;
  crm::internal::ServerConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kOrg, &state));
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kServices, &config));
  auto s = PolicySnapshot::Build(state, config.services(),
                                 model::SchemaRegistry::Default());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}

struct Case {
  std::string what;
  std::string service;
  std::string user;  // "" = the service acting as itself
  SystemPermission permission;
  bool allowed;
  std::string rule;
};

TEST(CheckSystem, DecisionTable) {
  auto snapshot = Snapshot();
  ASSERT_NE(snapshot, nullptr);
  const std::vector<Case> cases = {
      {"service config", "cfg", "", crm::v1::MANAGE_USERS, true,
       "system:config:services/cfg"},
      {"service config lacks it", "cfg", "", crm::v1::MANAGE_POLICY, false,
       "no-system:manage_policy"},
      {"service permission set", "setsvc", "", crm::v1::MANAGE_POLICY, true,
       "system:permission-set:permissionSets/svc-policy"},
      {"service without any", "none", "", crm::v1::VIEW_AUDIT, false,
       "no-system:view_audit"},
      {"unregistered service", "ghost", "", crm::v1::MANAGE_USERS, false,
       "unknown-service:ghost"},
      {"user profile", "all", "pat", crm::v1::MANAGE_POLICY, true,
       "system:profile:profiles/admins"},
      {"user permission set", "all", "uma", crm::v1::VIEW_AUDIT, true,
       "system:permission-set:permissionSets/user-audit"},
      {"profile permission set", "all", "sam", crm::v1::MANAGE_USERS, true,
       "system:permission-set:permissionSets/staff-users"},
      {"user lacks it", "all", "sam", crm::v1::MANAGE_POLICY, false,
       "no-system:manage_policy"},
      {"service lacks what the user holds", "cfg", "pat",
       crm::v1::MANAGE_POLICY, false, "service-scope:cfg:manage_policy"},
      {"service holds it through a set, user through profile", "setsvc",
       "pat", crm::v1::MANAGE_POLICY, true, "system:profile:profiles/admins"},
      {"the service's grant does not pass to a user", "cfg", "uma",
       crm::v1::MANAGE_USERS, false, "no-system:manage_users"},
      {"inactive user", "all", "ina", crm::v1::MANAGE_POLICY, false,
       "inactive-user:ina"},
      {"unknown user", "all", "nobody", crm::v1::MANAGE_USERS, false,
       "unknown-user:nobody"},
      {"unspecified", "all", "", crm::v1::SYSTEM_PERMISSION_UNSPECIFIED,
       false, "unknown-system-permission:0"},
  };
  for (const Case& c : cases) {
    Evaluator e(snapshot, Principal{c.service, c.user});
    Decision d = e.CheckSystem(c.permission);
    EXPECT_EQ(d.allowed, c.allowed) << c.what << ": " << d.rule;
    EXPECT_EQ(d.rule, c.rule) << c.what;
    EXPECT_FALSE(d.reason.empty()) << c.what;
    EXPECT_EQ(e.AllowsSystem(c.permission), c.allowed) << c.what;
  }
}

// AllowsSystem, CheckSystem and SystemPermissions agree for every principal
// and permission.
TEST(CheckSystem, ListAgreesWithEveryCheck) {
  auto snapshot = Snapshot();
  ASSERT_NE(snapshot, nullptr);
  for (const std::string service : {"cfg", "setsvc", "all", "none", "ghost"}) {
    for (const std::string user : {"", "pat", "uma", "sam", "ina", "nobody"}) {
      Evaluator e(snapshot, Principal{service, user});
      std::vector<SystemPermission> listed = e.SystemPermissions();
      for (SystemPermission p : AllSystemPermissions()) {
        const bool in_list =
            std::find(listed.begin(), listed.end(), p) != listed.end();
        EXPECT_EQ(e.AllowsSystem(p), in_list) << service << "/" << user << " "
                                              << SystemPermissionName(p);
        EXPECT_EQ(e.CheckSystem(p).allowed, in_list)
            << service << "/" << user << " " << SystemPermissionName(p);
      }
    }
  }
  Evaluator pat(snapshot, Principal{"all", "pat"});
  EXPECT_THAT(pat.SystemPermissions(),
              ::testing::ElementsAre(crm::v1::MANAGE_POLICY));
  Evaluator all(snapshot, Principal{"all", ""});
  EXPECT_THAT(all.SystemPermissions(),
              ::testing::ElementsAre(crm::v1::MANAGE_USERS,
                                     crm::v1::MANAGE_POLICY,
                                     crm::v1::VIEW_AUDIT));
}

TEST(CheckSystem, NoSnapshotHoldsNothing) {
  Evaluator e(nullptr, Principal{"all", ""});
  EXPECT_FALSE(e.AllowsSystem(crm::v1::MANAGE_USERS));
  EXPECT_EQ(e.CheckSystem(crm::v1::MANAGE_USERS).rule, "no-policy");
  EXPECT_TRUE(e.SystemPermissions().empty());
}

TEST(CheckSystem, UnknownConfiguredNameDoesNotCompile) {
  crm::internal::ServerConfig config;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(services { name: "x" system_permissions: "MANAGE_USERS" })pb",
      &config));
  auto s = PolicySnapshot::Build(config.services(),
                                 model::SchemaRegistry::Default());
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(std::string(s.status().message()),
              ::testing::HasSubstr("service 'x': system_permissions: unknown "
                                   "system permission 'MANAGE_USERS'"));
}

TEST(SystemPermissionNames, RoundTrip) {
  for (SystemPermission p : AllSystemPermissions()) {
    auto back = SystemPermissionFromName(SystemPermissionName(p));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, p);
  }
  EXPECT_EQ(SystemPermissionName(crm::v1::MANAGE_USERS), "manage_users");
  EXPECT_EQ(SystemPermissionName(crm::v1::SYSTEM_PERMISSION_UNSPECIFIED), "");
  EXPECT_FALSE(SystemPermissionFromName("unspecified").ok());
}

}  // namespace
}  // namespace crm::policy
