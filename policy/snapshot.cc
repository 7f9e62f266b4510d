#include "policy/snapshot.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"
#include "policy/grantee.h"
#include "policy/profile_restrictions.h"
#include "policy/system_permission.h"
#include "query/field_access.h"

namespace crm::policy {
namespace {

using crm::internal::PolicyState;
using crm::v1::OrgWideDefault;

absl::Status Invalid(absl::string_view a, absl::string_view b = "",
                     absl::string_view c = "", absl::string_view d = "",
                     absl::string_view e = "") {
  return absl::InvalidArgumentError(absl::StrCat("policy: ", a, b, c, d, e));
}

bool HasIdForm(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix)) return false;
  absl::string_view id = name.substr(prefix.size());
  return !id.empty() && !absl::StrContains(id, '/');
}

void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

std::string PurposeError(absl::string_view purpose) {
  return absl::StrCat("purpose '", purpose,
                      "' must be 1-64 of lower-case letters, digits and '-' "
                      "(e.g. \"marketing\")");
}

// Compiles a PolicyState step by step into `p`. Each step validates what it
// reads; the first failure stops the build.
class Compiler {
 public:
  Compiler(const PolicyState& state, const PolicySnapshot::Services& services,
           const model::SchemaRegistry& schemas, CompiledPolicy* p,
           std::vector<PolicyProblem>* problems)
      : state_(state),
        services_(services),
        schemas_(schemas),
        p_(*p),
        problems_(*problems) {}

  // Runs every step. A step records each problem it finds (Fail) and goes
  // on without the offending entry, so one run finds every problem; the
  // result is only usable (CompileUserViews runs) when there is none.
  void Run() {
    p_.version = state_.version();
    CompileObjects();
    for (auto step :
         {&Compiler::CompileDefaults, &Compiler::CompileRoles,
          &Compiler::CompileUsers, &Compiler::CompileGroups,
          &Compiler::CompilePermissionSets, &Compiler::CompileServices,
          &Compiler::CompileSharingRules, &Compiler::CompileRestrictions,
          &Compiler::CompileProfiles, &Compiler::CompileDataSources}) {
      (this->*step)();
    }
    if (problems_.empty()) CompileUserViews();
  }

 private:
  // Per permission set: its compiled grants.
  struct SetGrants {
    std::vector<ObjectPermissions> objects;
    std::vector<std::vector<FieldGrant>> fields;
    uint32_t system = 0;
  };

  void CompileObjects();
  void CompileDefaults();
  void CompileRoles();
  void CompileUsers();
  void CompileGroups();
  void CompilePermissionSets();
  void CompileServices();
  void CompileSharingRules();
  void CompileRestrictions();
  void CompileProfiles();
  void CompileDataSources();
  void CompileUserViews();

  // Records a problem of `object` (its field `field`, "" for the whole
  // object). Returns false, for `return Fail(...)` in checks.
  bool Fail(absl::string_view object, std::string field, absl::Status status) {
    problems_.push_back(PolicyProblem{std::string(object), std::move(field),
                                      std::move(status)});
    return false;
  }

  absl::StatusOr<GranteeRef> Resolve(const crm::v1::Grantee& g,
                                     absl::string_view where) const;
  absl::StatusOr<int> Object(absl::string_view collection,
                             absl::string_view where) const;
  absl::StatusOr<query::CheckedFilter> Criteria(const std::string& text,
                                                int object,
                                                absl::string_view where) const;
  const PermissionBundle* Bundle(std::vector<int> sets, uint32_t system);

  const PolicyState& state_;
  const PolicySnapshot::Services& services_;
  const model::SchemaRegistry& schemas_;
  CompiledPolicy& p_;
  std::vector<PolicyProblem>& problems_;

  std::vector<SetGrants> sets_;
  std::map<std::string, std::vector<int>> sets_by_assignee_;
  std::map<std::string, const PermissionBundle*> bundle_by_key_;
};

void Compiler::CompileObjects() {
  for (const model::ObjectSchema* schema : schemas_.All()) {
    ObjectPolicy o;
    o.schema = schema;
    o.owner_field = schema->FieldIndex("owner");
    int account = schema->FieldIndex("account");
    if (account >= 0) {
      const auto& refs = schema->fields()[account].references;
      if (std::find(refs.begin(), refs.end(), "accounts") != refs.end()) {
        o.account_field = account;
      }
    }
    p_.object_index[schema->collection()] = static_cast<int>(p_.objects.size());
    p_.objects.push_back(o);
  }
  p_.accounts = p_.ObjectIndex("accounts");
  p_.empty_bundle.objects.resize(p_.objects.size());
  p_.empty_bundle.fields.resize(p_.objects.size());
  for (size_t i = 0; i < p_.objects.size(); ++i) {
    p_.empty_bundle.fields[i].resize(p_.objects[i].schema->fields().size());
  }
  p_.empty_bundle.Finish(p_.objects);
}

absl::StatusOr<int> Compiler::Object(absl::string_view collection,
                                     absl::string_view where) const {
  int o = p_.ObjectIndex(collection);
  if (o < 0) {
    std::vector<std::string> known;
    for (const auto& obj : p_.objects) known.push_back(obj.schema->collection());
    return Invalid(where, ": unknown object '", collection, "'; objects are ",
                   absl::StrJoin(known, ", "));
  }
  return o;
}

void Compiler::CompileDefaults() {
  std::vector<bool> seen(p_.objects.size());
  for (const OrgWideDefault& d : state_.defaults()) {
    const std::string name = absl::StrCat("orgWideDefaults/", d.object());
    auto o = Object(d.object(), "org-wide default");
    if (!o.ok()) {
      Fail(name, "object", o.status());
      continue;
    }
    if (seen[*o]) {
      Fail(name, "",
           Invalid("org-wide default for '", d.object(), "' is given twice"));
      continue;
    }
    seen[*o] = true;
    ObjectPolicy& obj = p_.objects[*o];
    obj.access = d.internal_access() == OrgWideDefault::ACCESS_UNSPECIFIED
                     ? OrgWideDefault::PRIVATE
                     : d.internal_access();
    obj.hierarchy = d.grant_access_using_hierarchies();
    if (obj.controlled_by_parent() &&
        (obj.account_field < 0 || *o == p_.accounts)) {
      obj.access = OrgWideDefault::PRIVATE;
      Fail(name, "internal_access",
           Invalid("org-wide default for '", d.object(),
                   "': CONTROLLED_BY_PARENT needs an \"account\" field "
                   "(contacts, opportunities, cases)"));
    }
  }
}

void Compiler::CompileRoles() {
  std::map<std::string, int> index;
  for (const crm::v1::Role& r : state_.roles()) {
    // Every role gets its slot (p_.roles[i] is state_.roles(i)); a bad or
    // repeated name is reported and left out of the index.
    p_.roles.push_back(CompiledRole{r.name()});
    if (!HasIdForm(r.name(), "roles/")) {
      Fail(r.name(), "name",
           Invalid("role name '", r.name(), "' is not of the form roles/{id}"));
      continue;
    }
    if (!index.emplace(r.name(), static_cast<int>(p_.roles.size()) - 1)
             .second) {
      Fail(r.name(), "", Invalid("role '", r.name(), "' is defined twice"));
    }
  }
  std::vector<int> roots;
  for (int i = 0; i < state_.roles_size(); ++i) {
    const std::string& parent = state_.roles(i).parent();
    if (parent.empty()) {
      roots.push_back(i);
      continue;
    }
    auto it = index.find(parent);
    if (it == index.end()) {
      Fail(p_.roles[i].name, "parent",
           Invalid("role '", p_.roles[i].name, "': unknown parent '", parent,
                   "'"));
      roots.push_back(i);
      continue;
    }
    p_.roles[i].parent = it->second;
    p_.roles[it->second].children.push_back(i);
  }
  // Euler tour from the roots; a role not reached lies on a cycle or below
  // one.
  std::vector<bool> reached(p_.roles.size());
  int clock = 0;
  for (int root : roots) {
    std::vector<std::pair<int, size_t>> stack = {{root, 0}};
    p_.roles[root].tin = clock++;
    reached[root] = true;
    while (!stack.empty()) {
      auto& [r, next] = stack.back();
      if (next < p_.roles[r].children.size()) {
        int c = p_.roles[r].children[next++];
        p_.roles[c].tin = clock++;
        reached[c] = true;
        stack.push_back({c, 0});
      } else {
        p_.roles[r].tout = clock;
        stack.pop_back();
      }
    }
  }
  // Each cycle is reported once, on the role whose parent closes it, and
  // broken there (so later steps never walk it).
  std::vector<bool> handled(p_.roles.size());
  for (size_t i = 0; i < p_.roles.size(); ++i) {
    if (reached[i] || handled[i]) continue;
    std::vector<int> path;
    std::vector<bool> on_path(p_.roles.size());
    int r = static_cast<int>(i);
    while (r >= 0 && !on_path[r] && !handled[r]) {
      on_path[r] = true;
      path.push_back(r);
      r = p_.roles[r].parent;
    }
    for (int x : path) handled[x] = true;
    if (r < 0 || !on_path[r]) continue;  // below a cycle already reported
    std::vector<std::string> names;
    for (int x : path) names.push_back(p_.roles[x].name);
    names.push_back(p_.roles[r].name);
    const int closing = path.back();
    Fail(p_.roles[closing].name, "parent",
         Invalid("role hierarchy has a cycle: ",
                 absl::StrJoin(names, " -> parent ")));
    auto& siblings = p_.roles[r].children;
    siblings.erase(std::remove(siblings.begin(), siblings.end(), closing),
                   siblings.end());
    p_.roles[closing].parent = -1;
  }
}

void Compiler::CompileUsers() {
  std::map<absl::string_view, int> roles;
  for (size_t i = 0; i < p_.roles.size(); ++i) {
    roles.emplace(p_.roles[i].name, i);
  }
  p_.users.reserve(state_.users_size());
  for (const crm::internal::PolicyUser& u : state_.users()) {
    // Every user gets its slot (p_.users[i] is state_.users(i)).
    const std::string name = absl::StrCat("users/", u.id());
    int index = static_cast<int>(p_.users.size());
    CompiledUser cu;
    cu.id = u.id();
    cu.resource_name = name;
    cu.active = u.active();
    if (u.id().empty() || absl::StrContains(u.id(), '/')) {
      Fail(name, "id",
           Invalid("user id '", u.id(), "' is empty or contains '/'"));
    } else if (!p_.user_index.emplace(u.id(), index).second) {
      Fail(name, "", Invalid("user '", u.id(), "' is listed twice"));
    }
    if (!u.role().empty()) {
      auto it = roles.find(u.role());
      if (it == roles.end()) {
        Fail(name, "role",
             Invalid("user '", u.id(), "': unknown role '", u.role(), "'"));
      } else {
        cu.role = it->second;
        p_.roles[cu.role].users.push_back(index);
      }
    }
    p_.owner_index[cu.resource_name] = index;
    p_.grantees[cu.resource_name] = {GranteeRef::Kind::kUser, index};
    p_.users.push_back(std::move(cu));
  }
  for (size_t i = 0; i < p_.roles.size(); ++i) {
    const std::string& name = p_.roles[i].name;
    if (!HasIdForm(name, "roles/")) continue;
    p_.grantees.emplace(
        name, GranteeRef{GranteeRef::Kind::kRole, static_cast<int>(i)});
    p_.grantees.emplace(
        absl::StrCat("roleAndSubordinates/", absl::string_view(name).substr(6)),
        GranteeRef{GranteeRef::Kind::kRoleAndSubordinates,
                   static_cast<int>(i)});
  }
}

absl::StatusOr<GranteeRef> Compiler::Resolve(const crm::v1::Grantee& g,
                                             absl::string_view where) const {
  auto key = GranteeKey(g);
  if (!key.ok()) return Invalid(where, ": ", key.status().message());
  auto it = p_.grantees.find(*key);
  if (it == p_.grantees.end()) {
    return Invalid(where, ": unknown grantee '", *key,
                   "' (no such user, role or group)");
  }
  return it->second;
}

void Compiler::CompileGroups() {
  const size_t words = (p_.users.size() + 63) / 64;
  for (const crm::v1::Group& g : state_.groups()) {
    // Every group gets its slot (p_.groups[i] is state_.groups(i)).
    GranteeRef ref{GranteeRef::Kind::kGroup,
                   static_cast<int>(p_.groups.size())};
    p_.groups.push_back(CompiledGroup{g.name(), std::vector<uint64_t>(words)});
    if (!HasIdForm(g.name(), "groups/")) {
      Fail(g.name(), "name",
           Invalid("group name '", g.name(),
                   "' is not of the form groups/{id}"));
      continue;
    }
    if (!p_.grantees.emplace(g.name(), ref).second) {
      Fail(g.name(), "", Invalid("group '", g.name(), "' is defined twice"));
    }
  }
  // Direct members; nested groups are folded in below, in dependency order.
  // nested[g]: (group, index of the member naming it).
  std::vector<std::vector<std::pair<int, int>>> nested(p_.groups.size());
  for (int gi = 0; gi < state_.groups_size(); ++gi) {
    std::vector<int> users;
    const auto& members = state_.groups(gi).members();
    for (int mi = 0; mi < members.size(); ++mi) {
      auto ref = Resolve(
          members[mi], absl::StrCat("group '", p_.groups[gi].name, "' member"));
      if (!ref.ok()) {
        Fail(p_.groups[gi].name, absl::StrCat("members[", mi, "]"),
             ref.status());
        continue;
      }
      p_.groups[gi].direct.push_back(*ref);
      if (ref->kind == GranteeRef::Kind::kGroup) {
        nested[gi].push_back({ref->index, mi});
      } else {
        p_.AppendUsers(*ref, &users);
      }
    }
    for (int u : users) p_.groups[gi].members[u >> 6] |= uint64_t{1} << (u & 63);
  }
  // Depth-first fold with cycle detection (0 new, 1 on stack, 2 done). A
  // cycle is reported on the member that closes it, which is then skipped.
  std::vector<int> state(p_.groups.size());
  std::vector<int> path;
  std::function<void(int)> fold = [&](int g) {
    state[g] = 1;
    path.push_back(g);
    for (auto [child, member] : nested[g]) {
      if (state[child] == 1) {
        std::vector<std::string> names;
        auto from = std::find(path.begin(), path.end(), child);
        for (auto it = from; it != path.end(); ++it) {
          names.push_back(p_.groups[*it].name);
        }
        names.push_back(p_.groups[child].name);
        Fail(p_.groups[g].name, absl::StrCat("members[", member, "]"),
             Invalid("group membership has a cycle: ",
                     absl::StrJoin(names, " contains ")));
        continue;
      }
      if (state[child] == 0) fold(child);
      auto& mine = p_.groups[g].members;
      const auto& theirs = p_.groups[child].members;
      for (size_t w = 0; w < mine.size(); ++w) mine[w] |= theirs[w];
    }
    path.pop_back();
    state[g] = 2;
  };
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    if (state[g] == 0) fold(static_cast<int>(g));
  }
}

void Compiler::CompilePermissionSets() {
  std::map<absl::string_view, bool> names;
  absl::flat_hash_map<std::string, bool> services;
  for (const auto& s : services_) services[s.name()] = true;
  for (const crm::v1::PermissionSet& set : state_.permission_sets()) {
    const std::string& name = set.name();
    const std::string where = absl::StrCat("permission set '", name, "'");
    if (!HasIdForm(name, "permissionSets/")) {
      Fail(name, "name",
           Invalid(where, " is not of the form permissionSets/{id}"));
      continue;
    }
    if (!names.emplace(name, true).second) {
      Fail(name, "", Invalid(where, " is defined twice"));
      continue;
    }
    SetGrants g;
    g.objects.resize(p_.objects.size());
    g.fields.resize(p_.objects.size());
    for (int i = 0; i < set.object_permissions_size(); ++i) {
      const auto& op = set.object_permissions(i);
      auto o = Object(op.object(), where);
      if (!o.ok()) {
        Fail(name, absl::StrCat("object_permissions[", i, "].object"),
             o.status());
        continue;
      }
      ObjectPermissions perms{op.read(),     op.create(),   op.edit(),
                              op.delete_(),  op.view_all(), op.modify_all()};
      perms.Normalize();
      g.objects[*o].Merge(perms);
    }
    for (int i = 0; i < set.field_permissions_size(); ++i) {
      const auto& fp = set.field_permissions(i);
      auto o = Object(fp.object(), where);
      if (!o.ok()) {
        Fail(name, absl::StrCat("field_permissions[", i, "].object"),
             o.status());
        continue;
      }
      int f = p_.objects[*o].schema->FieldIndex(fp.field());
      if (f < 0) {
        Fail(name, absl::StrCat("field_permissions[", i, "].field"),
             Invalid(where, ": unknown field '", fp.field(), "' of ",
                     fp.object()));
        continue;
      }
      auto& fields = g.fields[*o];
      if (fields.empty()) fields.resize(p_.objects[*o].schema->fields().size());
      fields[f].mentioned = true;
      fields[f].read |= fp.read() || fp.edit();
      fields[f].edit |= fp.edit();
    }
    for (int i = 0; i < set.system_permissions_size(); ++i) {
      const int sp = set.system_permissions(i);
      if (sp <= 0 || sp >= 32) {
        Fail(name, absl::StrCat("system_permissions[", i, "]"),
             Invalid(where, ": bad system permission"));
        continue;
      }
      g.system |= 1u << sp;
    }
    if (!set.purpose().empty() && !model::IsConsentPurpose(set.purpose())) {
      Fail(name, "purpose", Invalid(where, ": ", PurposeError(set.purpose())));
    }
    int index = static_cast<int>(sets_.size());
    p_.permission_sets.push_back(CompiledPermissionSet{
        set.name(), g.system, g.objects, g.fields,
        {set.assignees().begin(), set.assignees().end()}, set.purpose()});
    sets_.push_back(std::move(g));
    for (int i = 0; i < set.assignees_size(); ++i) {
      const std::string& a = set.assignees(i);
      bool ok = HasIdForm(a, "profiles/") ||
                (HasIdForm(a, "users/") && p_.user_index.contains(a.substr(6))) ||
                (HasIdForm(a, "services/") && services.contains(a.substr(9)));
      if (!ok) {
        Fail(name, absl::StrCat("assignees[", i, "]"),
             Invalid(where, ": assignee '", a,
                     "' is not a known user, a registered service or a "
                     "profile (profiles/{id})"));
        continue;
      }
      sets_by_assignee_[a].push_back(index);
    }
  }
}

const PermissionBundle* Compiler::Bundle(std::vector<int> sets,
                                         uint32_t system) {
  std::sort(sets.begin(), sets.end());
  sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
  std::string key = absl::StrCat(system, ":", absl::StrJoin(sets, ","));
  auto it = bundle_by_key_.find(key);
  if (it != bundle_by_key_.end()) return it->second;
  auto b = std::make_unique<PermissionBundle>(p_.empty_bundle);
  b->system = system;
  for (int s : sets) {
    const SetGrants& g = sets_[s];
    b->system |= g.system;
    for (size_t o = 0; o < p_.objects.size(); ++o) {
      b->objects[o].Merge(g.objects[o]);
      for (size_t f = 0; f < g.fields[o].size(); ++f) {
        FieldGrant& mine = b->fields[o][f];
        mine.mentioned |= g.fields[o][f].mentioned;
        mine.read |= g.fields[o][f].read;
        mine.edit |= g.fields[o][f].edit;
      }
    }
  }
  b->Finish(p_.objects);
  const PermissionBundle* raw = b.get();
  p_.bundles.push_back(std::move(b));
  bundle_by_key_[key] = raw;
  return raw;
}

void Compiler::CompileServices() {
  for (const crm::internal::ServiceConfig& service : services_) {
    const std::string name = absl::StrCat("services/", service.name());
    CompiledService& cs = p_.services[service.name()];
    cs.resource_name = name;
    cs.scope.resize(p_.objects.size());
    for (int i = 0; i < service.system_permissions_size(); ++i) {
      auto p = SystemPermissionFromName(service.system_permissions(i));
      if (!p.ok()) {
        Fail(name, absl::StrCat("system_permissions[", i, "]"),
             absl::InvalidArgumentError(absl::StrCat(
                 "service '", service.name(),
                 "': system_permissions: ", p.status().message())));
        continue;
      }
      cs.config_system |= SystemBit(*p);
    }
    for (int i = 0; i < service.grants_size(); ++i) {
      const auto& grant = service.grants(i);
      std::vector<int> targets;
      if (grant.object() == "*") {
        for (size_t o = 0; o < p_.objects.size(); ++o) targets.push_back(o);
      } else if (int o = p_.ObjectIndex(grant.object()); o >= 0) {
        targets.push_back(o);
      } else {
        Fail(name, absl::StrCat("grants[", i, "].object"),
             absl::InvalidArgumentError(absl::StrCat(
                 "service '", service.name(), "': grant names unknown object '",
                 grant.object(), "'")));
        continue;
      }
      ObjectPermissions perms{grant.read(), grant.create(), grant.edit(),
                              grant.delete_()};
      perms.Normalize();
      for (int o : targets) cs.scope[o].Merge(perms);
    }
    cs.config_scope = cs.scope;
    auto sets = sets_by_assignee_.find(cs.resource_name);
    if (sets == sets_by_assignee_.end()) {
      cs.permissions = &p_.empty_bundle;
    } else {
      cs.sets = sets->second;
      cs.permissions = Bundle(sets->second, 0);
    }
    cs.system = cs.config_system | cs.permissions->system;
    if (!service.purpose().empty()) {
      if (model::IsConsentPurpose(service.purpose())) {
        cs.purposes.push_back(service.purpose());
      } else {
        Fail(name, "purpose",
             absl::InvalidArgumentError(absl::StrCat(
                 "service '", service.name(), "': ",
                 PurposeError(service.purpose()))));
      }
    }
    for (int set : cs.sets) {
      const std::string& purpose = p_.permission_sets[set].purpose;
      if (!purpose.empty()) cs.purposes.push_back(purpose);
    }
    SortUnique(&cs.purposes);
    for (size_t o = 0; o < p_.objects.size(); ++o) {
      cs.scope[o].Merge(cs.permissions->objects[o]);
    }
  }
}

absl::StatusOr<query::CheckedFilter> Compiler::Criteria(
    const std::string& text, int object, absl::string_view where) const {
  if (text.empty()) return Invalid(where, ": criteria is empty");
  auto f = query::ParseAndCheckFilter(text, *p_.objects[object].schema,
                                      query::AllFields());
  if (!f.ok()) {
    return Invalid(where, " (object ", p_.objects[object].schema->collection(),
                   "): ", f.status().message());
  }
  return *std::move(f);
}

void Compiler::CompileSharingRules() {
  std::map<absl::string_view, bool> names;
  for (const crm::v1::SharingRule& r : state_.sharing_rules()) {
    const std::string& name = r.name();
    const std::string where = absl::StrCat("sharing rule '", name, "'");
    if (!HasIdForm(name, "sharingRules/")) {
      Fail(name, "name",
           Invalid(where, " is not of the form sharingRules/{id}"));
      continue;
    }
    if (!names.emplace(name, true).second) {
      Fail(name, "", Invalid(where, " is defined twice"));
      continue;
    }
    // Every problem of the rule is reported; a rule with one is left out.
    bool ok = true;
    CompiledSharingRule c;
    c.name = name;
    auto o = Object(r.object(), where);
    if (!o.ok()) {
      ok = Fail(name, "object", o.status());
    } else if (p_.objects[*o].controlled_by_parent()) {
      ok = Fail(name, "object",
                Invalid(where, ": ", r.object(),
                        " is controlled by parent; share the account instead"));
    } else {
      c.object = *o;
    }
    switch (r.source_case()) {
      case crm::v1::SharingRule::kOwnedBy: {
        auto g = Resolve(r.owned_by(), absl::StrCat(where, " owned_by"));
        if (!g.ok()) {
          ok = Fail(name, "owned_by", g.status());
        } else {
          c.owned_by = *g;
        }
        break;
      }
      case crm::v1::SharingRule::kCriteria: {
        if (c.object < 0) break;  // needs the object's fields
        auto f = Criteria(r.criteria(), c.object, where);
        if (!f.ok()) {
          ok = Fail(name, "criteria", f.status());
        } else {
          c.criteria_based = true;
          c.criteria = *std::move(f);
        }
        break;
      }
      case crm::v1::SharingRule::SOURCE_NOT_SET:
        ok = Fail(name, "",
                  Invalid(where, ": neither owned_by nor criteria is set"));
        break;
    }
    auto with = Resolve(r.shared_with(), absl::StrCat(where, " shared_with"));
    if (!with.ok()) {
      ok = Fail(name, "shared_with", with.status());
    } else {
      c.shared_with = *with;
    }
    switch (r.access()) {
      case crm::v1::READ:
        c.level = Level::kRead;
        break;
      case crm::v1::READ_WRITE:
        c.level = Level::kReadWrite;
        break;
      default:
        ok = Fail(name, "access",
                  Invalid(where, ": access must be READ or READ_WRITE"));
    }
    if (ok) p_.sharing_rules.push_back(std::move(c));
  }
}

void Compiler::CompileRestrictions() {
  std::map<absl::string_view, bool> names;
  for (const crm::v1::RestrictionRule& r : state_.restriction_rules()) {
    const std::string& name = r.name();
    const std::string where = absl::StrCat("restriction rule '", name, "'");
    if (!HasIdForm(name, "restrictionRules/")) {
      Fail(name, "name",
           Invalid(where, " is not of the form restrictionRules/{id}"));
      continue;
    }
    if (!names.emplace(name, true).second) {
      Fail(name, "", Invalid(where, " is defined twice"));
      continue;
    }
    bool ok = true;
    CompiledRestriction c;
    c.name = name;
    auto o = Object(r.object(), where);
    if (!o.ok()) {
      ok = Fail(name, "object", o.status());
    } else {
      c.object = *o;
    }
    auto g = Resolve(r.applies_to(), absl::StrCat(where, " applies_to"));
    if (!g.ok()) {
      ok = Fail(name, "applies_to", g.status());
    } else {
      c.applies_to = *g;
    }
    if (c.object >= 0) {
      auto f = Criteria(r.criteria(), c.object, where);
      if (!f.ok()) {
        ok = Fail(name, "criteria", f.status());
      } else {
        c.criteria = *std::move(f);
      }
    }
    if (ok) p_.restrictions.push_back(std::move(c));
  }
}

void Compiler::CompileProfiles() {
  for (const crm::internal::PolicyProfile& profile : state_.profiles()) {
    if (!HasIdForm(profile.name(), "profiles/")) {
      Fail(profile.name(), "name",
           Invalid("profile '", profile.name(),
                   "' is not of the form profiles/{id}"));
      continue;
    }
    auto restrictions = CompileProfileRestrictions(profile);
    if (!restrictions.ok()) {
      // Keep the BadRequest: the admin service reports its violations (and
      // policy/bundle.h locates each one).
      Fail(profile.name(), "",
           base::WithMessage(
               restrictions.status(),
               absl::StrCat("policy: ", restrictions.status().message())));
      continue;
    }
    const std::string id(profile.name().substr(sizeof("profiles/") - 1));
    auto [it, inserted] = p_.profiles.try_emplace(
        id, CompiledProfile{profile.name(), *std::move(restrictions)});
    if (!inserted) {
      Fail(profile.name(), "", Invalid("duplicate profile ", profile.name()));
    }
  }
}

// Why an illegitimate kind is refused, or "" for a legitimate one.
absl::string_view IllegitimateKindReason(crm::v1::DataSourceKind kind) {
  switch (kind) {
    case crm::v1::CUSTOMER_DEVICES:
      return "a customer's own computer or devices is not a legitimate data "
             "source: the customer did not give that data to the company; "
             "collect it through a legitimate channel (web forms, "
             "interactions, ...)";
    case crm::v1::EMPLOYEE_PERSONAL_CONTACTS:
      return "employees' personal contact lists are not a legitimate data "
             "source: the people in them never gave their data to the "
             "company";
    default:
      return "";
  }
}

void Compiler::CompileDataSources() {
  // In name order, so that a field two sources of one service cover is
  // recorded as the first's whatever the order of the state.
  std::vector<const crm::v1::DataSource*> sources;
  for (const crm::v1::DataSource& d : state_.data_sources()) {
    sources.push_back(&d);
  }
  std::sort(sources.begin(), sources.end(),
            [](const auto* a, const auto* b) { return a->name() < b->name(); });
  std::map<absl::string_view, bool> names;
  for (const crm::v1::DataSource* d : sources) {
    const std::string& name = d->name();
    const std::string where = absl::StrCat("data source '", name, "'");
    if (!HasIdForm(name, "dataSources/")) {
      Fail(name, "name", Invalid(where, " is not of the form dataSources/{id}"));
      continue;
    }
    if (!names.emplace(name, true).second) {
      Fail(name, "", Invalid(where, " is defined twice"));
      continue;
    }
    bool ok = true;
    if (absl::string_view why = IllegitimateKindReason(d->kind());
        !why.empty()) {
      ok = Fail(name, "kind",
                Invalid(where, ": kind ",
                        crm::v1::DataSourceKind_Name(d->kind()),
                        " is refused: ", why));
    } else if (d->kind() == crm::v1::DATA_SOURCE_KIND_UNSPECIFIED ||
               !crm::v1::DataSourceKind_IsValid(d->kind())) {
      ok = Fail(name, "kind",
                Invalid(where,
                        ": kind must be one of ACCOUNTING, ORDER_FULFILMENT, "
                        "INVENTORY, INTERACTIONS, WEB_FORMS, SURVEYS, "
                        "SOCIAL_MEDIA, THIRD_PARTY_DATA_PROVIDERS"));
    }
    CompiledService* service = nullptr;
    if (!HasIdForm(d->service(), "services/")) {
      ok = Fail(name, "service",
                Invalid(where, ": service '", d->service(),
                        "' is not of the form services/{name}"));
    } else if (auto it = p_.services.find(d->service().substr(9));
               it == p_.services.end()) {
      ok = Fail(name, "service",
                Invalid(where, ": service '", d->service(),
                        "' is not registered in the server's configuration"));
    } else {
      service = &it->second;
    }
    // [object] -> fields (empty: every field), checked before anything is
    // recorded.
    std::vector<std::pair<int, std::vector<int>>> writes;
    std::vector<int> consent_objects;
    std::vector<bool> seen(p_.objects.size());
    for (int i = 0; i < d->writes_size(); ++i) {
      const crm::v1::DataSourceWrite& w = d->writes(i);
      auto o = Object(w.object(), where);
      if (!o.ok()) {
        ok = Fail(name, absl::StrCat("writes[", i, "].object"), o.status());
        continue;
      }
      if (seen[*o]) {
        ok = Fail(name, absl::StrCat("writes[", i, "].object"),
                  Invalid(where, ": object '", w.object(),
                          "' is listed twice; list its fields once"));
        continue;
      }
      seen[*o] = true;
      std::vector<int> fields;
      const model::ObjectSchema& schema = *p_.objects[*o].schema;
      if (w.consent() && !schema.consent_subject()) {
        ok = Fail(name, absl::StrCat("writes[", i, "].consent"),
                  Invalid(where, ": object '", w.object(),
                          "' carries no consent (only contacts and leads "
                          "do)"));
        continue;
      }
      for (int j = 0; j < w.fields_size(); ++j) {
        int f = schema.FieldIndex(w.fields(j));
        if (f < 0) {
          ok = Fail(name, absl::StrCat("writes[", i, "].fields[", j, "]"),
                    Invalid(where, ": unknown field '", w.fields(j), "' of ",
                            w.object()));
          continue;
        }
        fields.push_back(f);
      }
      // No fields: every field, unless the entry is for consent alone.
      if (w.fields_size() == 0 && !w.consent()) {
        for (size_t f = 0; f < schema.fields().size(); ++f) {
          fields.push_back(static_cast<int>(f));
        }
      }
      writes.emplace_back(*o, std::move(fields));
      if (w.consent()) consent_objects.push_back(*o);
    }
    if (!ok) continue;
    const int index = static_cast<int>(p_.data_sources.size());
    p_.data_sources.push_back(CompiledDataSource{
        name, d->kind(), d->service(), d->display_name(), d->purpose(),
        writes, consent_objects});
    if (service->source_of.empty()) {
      service->source_of.resize(p_.objects.size());
      for (size_t o = 0; o < p_.objects.size(); ++o) {
        service->source_of[o].assign(p_.objects[o].schema->fields().size(),
                                     -1);
      }
    }
    for (const auto& [o, fields] : writes) {
      for (int f : fields) {
        int& slot = service->source_of[o][f];
        if (slot < 0) slot = index;
      }
    }
    if (service->consent_source_of.empty()) {
      service->consent_source_of.assign(p_.objects.size(), -1);
    }
    for (int o : consent_objects) {
      if (service->consent_source_of[o] < 0) {
        service->consent_source_of[o] = index;
      }
    }
  }
}

void Compiler::CompileUserViews() {
  const size_t objects = p_.objects.size();
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    const auto& bits = p_.groups[g].members;
    for (size_t w = 0; w < bits.size(); ++w) {
      for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
        p_.users[w * 64 + __builtin_ctzll(word)].groups.push_back(g);
      }
    }
  }
  for (size_t i = 0; i < p_.users.size(); ++i) {
    CompiledUser& u = p_.users[i];
    const crm::internal::PolicyUser& src = state_.users(i);
    std::vector<int> sets;
    for (const std::string* key :
         std::initializer_list<const std::string*>{&u.resource_name,
                                                   &src.profile()}) {
      auto it = sets_by_assignee_.find(*key);
      if (!key->empty() && it != sets_by_assignee_.end()) {
        sets.insert(sets.end(), it->second.begin(), it->second.end());
      }
    }
    uint32_t system = 0;
    for (int sp : src.profile_system_permissions()) {
      if (sp > 0 && sp < 32) system |= 1u << sp;
    }
    u.profile = src.profile();
    u.profile_system = system;
    std::sort(sets.begin(), sets.end());
    sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
    u.sets = sets;
    for (int set : sets) {
      const std::string& purpose = p_.permission_sets[set].purpose;
      if (!purpose.empty()) u.purposes.push_back(purpose);
    }
    SortUnique(&u.purposes);
    u.permissions = Bundle(std::move(sets), system);

    u.grantee_keys.push_back(u.resource_name);
    if (u.role >= 0) {
      u.grantee_keys.push_back(p_.roles[u.role].name);
      for (int r = u.role; r >= 0; r = p_.roles[r].parent) {
        u.grantee_keys.push_back(p_.GranteeName(
            {GranteeRef::Kind::kRoleAndSubordinates, r}));
      }
    }
    for (int g : u.groups) u.grantee_keys.push_back(p_.groups[g].name);

    u.sharing_rules.resize(objects);
    u.restrictions.resize(objects);
    for (size_t r = 0; r < p_.sharing_rules.size(); ++r) {
      const auto& rule = p_.sharing_rules[r];
      if (p_.Contains(rule.shared_with, i)) {
        u.sharing_rules[rule.object].push_back(r);
      }
    }
    for (size_t r = 0; r < p_.restrictions.size(); ++r) {
      const auto& rule = p_.restrictions[r];
      if (p_.Contains(rule.applies_to, i)) {
        u.restrictions[rule.object].push_back(r);
      }
    }
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Build(
    const crm::internal::PolicyState& state, const Services& services,
    const model::SchemaRegistry& schemas) {
  auto snapshot = std::shared_ptr<PolicySnapshot>(new PolicySnapshot());
  std::vector<PolicyProblem> problems;
  Compiler(state, services, schemas, &snapshot->policy_, &problems).Run();
  if (!problems.empty()) return problems.front().status;
  return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
}

std::vector<PolicyProblem> PolicySnapshot::Check(
    const crm::internal::PolicyState& state, const Services& services,
    const model::SchemaRegistry& schemas) {
  CompiledPolicy scratch;
  std::vector<PolicyProblem> problems;
  Compiler(state, services, schemas, &scratch, &problems).Run();
  return problems;
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> PolicySnapshot::Build(
    const Services& services, const model::SchemaRegistry& schemas) {
  return Build(crm::internal::PolicyState(), services, schemas);
}

const login::LoginRestrictions* PolicySnapshot::ProfileRestrictions(
    absl::string_view profile_id) const {
  auto it = policy_.profiles.find(profile_id);
  return it == policy_.profiles.end() ? nullptr : &it->second.restrictions;
}

ObjectPermissions PolicySnapshot::ServicePermissions(
    const std::string& service, const std::string& collection) const {
  auto s = policy_.services.find(service);
  int o = policy_.ObjectIndex(collection);
  if (s == policy_.services.end() || o < 0) return {};
  return s->second.scope[o];
}

}  // namespace crm::policy
