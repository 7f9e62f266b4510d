#include "policy/snapshot.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/grantee.h"
#include "policy/policy_test_org.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;

absl::Status BuildWith(const std::string& extra) {
  crm::internal::PolicyState state = testing::TestState();
  crm::internal::PolicyState more;
  if (!google::protobuf::TextFormat::ParseFromString(extra, &more)) {
    return absl::InternalError("bad test text: " + extra);
  }
  state.MergeFrom(more);
  return PolicySnapshot::Build(state, testing::TestServices(),
                               model::SchemaRegistry::Default())
      .status();
}

TEST(PolicySnapshot, TestOrgBuilds) {
  auto snapshot = testing::TestSnapshot();
  EXPECT_EQ(snapshot->version(), 7);
  const CompiledPolicy& p = snapshot->compiled();
  int alice = p.user_index.at("alice");
  EXPECT_THAT(p.users[alice].grantee_keys,
              ::testing::UnorderedElementsAre(
                  "users/alice", "roles/rep1", "roleAndSubordinates/rep1",
                  "roleAndSubordinates/vp", "roleAndSubordinates/ceo",
                  "groups/emea", "groups/inner"));
}

TEST(PolicySnapshot, RefusesInvalidPolicy) {
  struct {
    std::string extra;
    std::string message;
  } cases[] = {
      {R"pb(roles { name: "roles/x" parent: "roles/y" }
            roles { name: "roles/y" parent: "roles/x" })pb",
       "role hierarchy has a cycle"},
      {R"pb(roles { name: "roles/x" parent: "roles/nope" })pb",
       "unknown parent 'roles/nope'"},
      {R"pb(roles { name: "roles/ceo" })pb", "defined twice"},
      {R"pb(groups { name: "groups/a" members { group: "groups/b" } }
            groups { name: "groups/b" members { group: "groups/a" } })pb",
       "group membership has a cycle"},
      {R"pb(groups { name: "groups/a" members { group: "groups/a" } })pb",
       "groups/a contains groups/a"},
      {R"pb(groups { name: "groups/a" members { user: "users/nobody" } })pb",
       "unknown grantee 'users/nobody'"},
      {R"pb(groups { name: "groups/a" members {} })pb", "none of user"},
      {R"pb(users { id: "x" role: "roles/nope" })pb", "unknown role"},
      {R"pb(users { id: "alice" })pb", "listed twice"},
      {R"pb(permission_sets {
              name: "permissionSets/x"
              object_permissions { object: "widgets" read: true }
            })pb",
       "unknown object 'widgets'"},
      {R"pb(permission_sets {
              name: "permissionSets/x"
              field_permissions { object: "accounts" field: "nope" read: true }
            })pb",
       "unknown field 'nope' of accounts"},
      {R"pb(permission_sets { name: "permissionSets/x" assignees: "users/zz" })pb",
       "assignee 'users/zz'"},
      {R"pb(permission_sets {
              name: "permissionSets/x"
              assignees: "services/ghost"
            })pb",
       "assignee 'services/ghost'"},
      {R"pb(defaults { object: "accounts" internal_access: PUBLIC_READ })pb",
       "given twice"},
      {R"pb(defaults { object: "leads" internal_access: CONTROLLED_BY_PARENT })pb",
       "given twice"},
      {R"pb(defaults { object: "opportunities" internal_access: CONTROLLED_BY_PARENT }
            sharing_rules {
              name: "sharingRules/o" object: "opportunities"
              criteria: "amount > 5" shared_with { user: "users/bob" }
              access: READ
            })pb",
       "controlled by parent"},
      {R"pb(sharing_rules {
              name: "sharingRules/bad" object: "accounts"
              criteria: "industry = " shared_with { user: "users/bob" }
              access: READ
            })pb",
       "sharing rule 'sharingRules/bad' (object accounts): filter:"},
      {R"pb(sharing_rules {
              name: "sharingRules/bad" object: "accounts"
              criteria: "nope = 1" shared_with { user: "users/bob" }
              access: READ
            })pb",
       "field 'nope'"},
      {R"pb(sharing_rules {
              name: "sharingRules/bad" object: "accounts"
              owned_by { user: "users/bob" } shared_with { user: "users/bob" }
            })pb",
       "access must be READ or READ_WRITE"},
      {R"pb(sharing_rules {
              name: "sharingRules/bad" object: "accounts"
              shared_with { user: "users/bob" } access: READ
            })pb",
       "neither owned_by nor criteria"},
      {R"pb(sharing_rules {
              name: "sharingRules/bad" object: "accounts"
              owned_by { group: "groups/ghost" }
              shared_with { user: "users/bob" } access: READ
            })pb",
       "unknown grantee 'groups/ghost'"},
      {R"pb(restriction_rules {
              name: "restrictionRules/x" object: "accounts"
              applies_to { role: "roles/rep1" } criteria: ""
            })pb",
       "criteria is empty"},
      {R"pb(restriction_rules {
              name: "restrictionRules/x" object: "contacts"
              applies_to { role_and_subordinates: "roles/ghost" }
              criteria: "title = \"x\""
            })pb",
       "unknown grantee 'roleAndSubordinates/ghost'"},
  };
  for (const auto& c : cases) {
    absl::Status s = BuildWith(c.extra);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.extra;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.extra;
  }
}

TEST(PolicySnapshot, ControlledByParentNeedsAnAccountField) {
  crm::internal::PolicyState state;
  auto* d = state.add_defaults();
  d->set_object("accounts");
  d->set_internal_access(crm::v1::OrgWideDefault::CONTROLLED_BY_PARENT);
  auto s = PolicySnapshot::Build(state, testing::TestServices(),
                                 model::SchemaRegistry::Default());
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("CONTROLLED_BY_PARENT needs"));
}

TEST(PolicySnapshot, ServiceGrantsStillBuildAlone) {
  auto s = PolicySnapshot::Build(testing::TestServices(),
                                 model::SchemaRegistry::Default());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->ServicePermissions("readonly", "accounts").read);
  EXPECT_FALSE((*s)->ServicePermissions("readonly", "accounts").edit);
  EXPECT_FALSE((*s)->ServicePermissions("ghost", "accounts").read);
}

TEST(GranteeKey, RoundTrips) {
  for (const char* key : {"users/u1", "roles/r1", "roleAndSubordinates/r1",
                          "groups/g1"}) {
    auto g = GranteeFromKey(key);
    ASSERT_TRUE(g.ok()) << key;
    auto back = GranteeKey(*g);
    ASSERT_TRUE(back.ok()) << key;
    EXPECT_EQ(*back, key);
  }
  EXPECT_FALSE(GranteeFromKey("teams/x").ok());
  EXPECT_FALSE(GranteeFromKey("users/").ok());
  EXPECT_FALSE(GranteeKey(crm::v1::Grantee()).ok());
}

}  // namespace
}  // namespace crm::policy
