// TEST ONLY (included by policy/*_test.cc): a small hand-written
// organisation and record helpers.
//
// Roles: ceo > vp > {rep1, rep2}.   Users: ceo (ceo), vp (vp), alice (rep1),
// bob (rep2), carol (rep2), dave (no role, view-all on accounts), eve
// (inactive), frank (no permission sets at all).
// Groups: emea = {bob, group inner}; inner = {role rep1} (alice).
// Defaults: accounts PRIVATE with hierarchy; contacts CONTROLLED_BY_PARENT;
// leads PUBLIC_READ.
// Rules: owner: accounts owned by role rep2 -> alice READ.
//        energy: accounts with industry "Energy" -> group emea READ_WRITE.
//        de: restriction on accounts for carol: billing_country = "DE".
// Services: web ("*" everything, may read contacts.personal_phone),
//           readonly (read accounts and contacts only).
#ifndef CRM_POLICY_POLICY_TEST_ORG_H_
#define CRM_POLICY_POLICY_TEST_ORG_H_

#include <map>
#include <memory>
#include <string>

#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/snapshot.h"

namespace crm::policy::testing {

inline constexpr char kTestOrg[] = R"pb(
  version: 7
  roles { name: "roles/ceo" }
  roles { name: "roles/vp" parent: "roles/ceo" }
  roles { name: "roles/rep1" parent: "roles/vp" }
  roles { name: "roles/rep2" parent: "roles/vp" }
  users { id: "ceo" role: "roles/ceo" profile: "profiles/rep" active: true }
  users { id: "vp" role: "roles/vp" profile: "profiles/rep" active: true }
  users { id: "alice" role: "roles/rep1" profile: "profiles/rep" active: true }
  users { id: "bob" role: "roles/rep2" profile: "profiles/rep" active: true }
  users { id: "carol" role: "roles/rep2" profile: "profiles/rep" active: true }
  users { id: "dave" profile: "profiles/auditor" active: true }
  users { id: "eve" role: "roles/rep1" profile: "profiles/rep" active: false }
  users { id: "frank" role: "roles/rep1" active: true }
  users { id: "sysadmin" profile: "profiles/admin" active: true
          profile_system_permissions: MODIFY_ALL_DATA }
  permission_sets {
    name: "permissionSets/sales"
    object_permissions { object: "accounts" read: true create: true edit: true }
    object_permissions { object: "contacts" read: true create: true edit: true delete: true }
    object_permissions { object: "leads" read: true edit: true }
    field_permissions { object: "accounts" field: "phone" read: true }
    field_permissions { object: "contacts" field: "personal_phone" read: true }
    field_permissions { object: "accounts" field: "description" read: false }
    assignees: "profiles/rep"
  }
  permission_sets {
    name: "permissionSets/auditor"
    object_permissions { object: "accounts" view_all: true }
    object_permissions { object: "contacts" read: true }
    assignees: "profiles/auditor"
  }
  permission_sets {
    name: "permissionSets/ceo-extra"
    object_permissions { object: "accounts" modify_all: true }
    field_permissions { object: "accounts" field: "description" edit: true }
    assignees: "users/ceo"
  }
  permission_sets {
    name: "permissionSets/admin"
    object_permissions { object: "accounts" read: true edit: true delete: true }
    assignees: "profiles/admin"
  }
  permission_sets {
    name: "permissionSets/web-fields"
    field_permissions { object: "contacts" field: "personal_phone" read: true edit: true }
    assignees: "services/web"
  }
  defaults { object: "accounts" internal_access: PRIVATE grant_access_using_hierarchies: true }
  defaults { object: "contacts" internal_access: CONTROLLED_BY_PARENT }
  defaults { object: "leads" internal_access: PUBLIC_READ }
  groups { name: "groups/emea" members { user: "users/bob" } members { group: "groups/inner" } }
  groups { name: "groups/inner" members { role: "roles/rep1" } }
  sharing_rules {
    name: "sharingRules/owner" object: "accounts"
    owned_by { role: "roles/rep2" } shared_with { user: "users/alice" } access: READ
  }
  sharing_rules {
    name: "sharingRules/energy" object: "accounts" criteria: "industry = \"Energy\""
    shared_with { group: "groups/emea" } access: READ_WRITE
  }
  restriction_rules {
    name: "restrictionRules/de" object: "accounts"
    applies_to { user: "users/carol" } criteria: "billing_country = \"DE\""
  }
)pb";

inline crm::internal::PolicyState TestState() {
  crm::internal::PolicyState state;
  if (!google::protobuf::TextFormat::ParseFromString(kTestOrg, &state)) abort();
  return state;
}

inline google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>
TestServices() {
  google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> services;
  auto* web = services.Add();
  web->set_name("web");
  auto* all = web->add_grants();
  all->set_object("*");
  all->set_read(true);
  all->set_create(true);
  all->set_edit(true);
  all->set_delete_(true);
  auto* ro = services.Add();
  ro->set_name("readonly");
  for (const char* object : {"accounts", "contacts"}) {
    auto* g = ro->add_grants();
    g->set_object(object);
    g->set_read(true);
  }
  return services;
}

inline std::shared_ptr<const PolicySnapshot> TestSnapshot() {
  auto s = PolicySnapshot::Build(TestState(), TestServices(),
                                 model::SchemaRegistry::Default());
  if (!s.ok()) {
    fprintf(stderr, "%s\n", s.status().ToString().c_str());
    abort();
  }
  return *s;
}

inline const model::ObjectSchema& Schema(absl::string_view collection) {
  return *model::SchemaRegistry::Default().Find(collection);
}

// A record of `collection` with default values and `values` set (strings
// only; enough for owner, account and the criteria used here).
inline model::Record MakeRecord(
    absl::string_view collection, const std::string& id,
    const std::map<std::string, std::string>& values) {
  const model::ObjectSchema& schema = Schema(collection);
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(
          schema.descriptor());
  model::Record r = model::RecordFromMessage(schema, *prototype);
  r.id = id;
  r.version = 1;
  for (const auto& [field, value] : values) {
    int i = schema.FieldIndex(field);
    if (i < 0) abort();
    r.values[i] = value;
  }
  return r;
}

}  // namespace crm::policy::testing

#endif  // CRM_POLICY_POLICY_TEST_ORG_H_
