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

// Compiles a PolicyState step by step into `p`. Each step validates what it
// reads; the first failure stops the build.
class Compiler {
 public:
  Compiler(const PolicyState& state, const PolicySnapshot::Services& services,
           const model::SchemaRegistry& schemas, CompiledPolicy* p)
      : state_(state), services_(services), schemas_(schemas), p_(*p) {}

  absl::Status Run() {
    p_.version = state_.version();
    CompileObjects();
    for (auto step :
         {&Compiler::CompileDefaults, &Compiler::CompileRoles,
          &Compiler::CompileUsers, &Compiler::CompileGroups,
          &Compiler::CompilePermissionSets, &Compiler::CompileServices,
          &Compiler::CompileSharingRules, &Compiler::CompileRestrictions,
          &Compiler::CompileProfiles}) {
      if (absl::Status s = (this->*step)(); !s.ok()) return s;
    }
    CompileUserViews();
    return absl::OkStatus();
  }

 private:
  // Per permission set: its compiled grants.
  struct SetGrants {
    std::vector<ObjectPermissions> objects;
    std::vector<std::vector<FieldGrant>> fields;
    uint32_t system = 0;
  };

  void CompileObjects();
  absl::Status CompileDefaults();
  absl::Status CompileRoles();
  absl::Status CompileUsers();
  absl::Status CompileGroups();
  absl::Status CompilePermissionSets();
  absl::Status CompileServices();
  absl::Status CompileSharingRules();
  absl::Status CompileRestrictions();
  absl::Status CompileProfiles();
  void CompileUserViews();

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

absl::Status Compiler::CompileDefaults() {
  std::vector<bool> seen(p_.objects.size());
  for (const OrgWideDefault& d : state_.defaults()) {
    auto o = Object(d.object(), "org-wide default");
    if (!o.ok()) return o.status();
    if (seen[*o]) {
      return Invalid("org-wide default for '", d.object(), "' is given twice");
    }
    seen[*o] = true;
    ObjectPolicy& obj = p_.objects[*o];
    obj.access = d.internal_access() == OrgWideDefault::ACCESS_UNSPECIFIED
                     ? OrgWideDefault::PRIVATE
                     : d.internal_access();
    obj.hierarchy = d.grant_access_using_hierarchies();
    if (obj.controlled_by_parent() &&
        (obj.account_field < 0 || *o == p_.accounts)) {
      return Invalid("org-wide default for '", d.object(),
                     "': CONTROLLED_BY_PARENT needs an \"account\" field "
                     "(contacts, opportunities, cases)");
    }
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompileRoles() {
  std::map<std::string, int> index;
  for (const crm::v1::Role& r : state_.roles()) {
    if (!HasIdForm(r.name(), "roles/")) {
      return Invalid("role name '", r.name(), "' is not of the form roles/{id}");
    }
    if (!index.emplace(r.name(), static_cast<int>(p_.roles.size())).second) {
      return Invalid("role '", r.name(), "' is defined twice");
    }
    p_.roles.push_back(CompiledRole{r.name()});
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
      return Invalid("role '", p_.roles[i].name, "': unknown parent '", parent,
                     "'");
    }
    p_.roles[i].parent = it->second;
    p_.roles[it->second].children.push_back(i);
  }
  // Euler tour from the roots; a role not reached lies on a cycle.
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
  for (size_t i = 0; i < p_.roles.size(); ++i) {
    if (reached[i]) continue;
    std::vector<std::string> path;
    std::vector<bool> on_path(p_.roles.size());
    int r = static_cast<int>(i);
    while (!on_path[r]) {
      on_path[r] = true;
      path.push_back(p_.roles[r].name);
      r = p_.roles[r].parent;
    }
    path.push_back(p_.roles[r].name);
    return Invalid("role hierarchy has a cycle: ",
                   absl::StrJoin(path, " -> parent "));
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompileUsers() {
  std::map<absl::string_view, int> roles;
  for (size_t i = 0; i < p_.roles.size(); ++i) roles[p_.roles[i].name] = i;
  p_.users.reserve(state_.users_size());
  for (const crm::internal::PolicyUser& u : state_.users()) {
    if (u.id().empty() || absl::StrContains(u.id(), '/')) {
      return Invalid("user id '", u.id(), "' is empty or contains '/'");
    }
    int index = static_cast<int>(p_.users.size());
    if (!p_.user_index.emplace(u.id(), index).second) {
      return Invalid("user '", u.id(), "' is listed twice");
    }
    CompiledUser cu;
    cu.id = u.id();
    cu.resource_name = absl::StrCat("users/", u.id());
    cu.active = u.active();
    if (!u.role().empty()) {
      auto it = roles.find(u.role());
      if (it == roles.end()) {
        return Invalid("user '", u.id(), "': unknown role '", u.role(), "'");
      }
      cu.role = it->second;
      p_.roles[cu.role].users.push_back(index);
    }
    p_.owner_index[cu.resource_name] = index;
    p_.grantees[cu.resource_name] = {GranteeRef::Kind::kUser, index};
    p_.users.push_back(std::move(cu));
  }
  for (size_t i = 0; i < p_.roles.size(); ++i) {
    const std::string& name = p_.roles[i].name;
    p_.grantees[name] = {GranteeRef::Kind::kRole, static_cast<int>(i)};
    p_.grantees[absl::StrCat("roleAndSubordinates/",
                             absl::string_view(name).substr(6))] = {
        GranteeRef::Kind::kRoleAndSubordinates, static_cast<int>(i)};
  }
  return absl::OkStatus();
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

absl::Status Compiler::CompileGroups() {
  const size_t words = (p_.users.size() + 63) / 64;
  for (const crm::v1::Group& g : state_.groups()) {
    if (!HasIdForm(g.name(), "groups/")) {
      return Invalid("group name '", g.name(),
                     "' is not of the form groups/{id}");
    }
    GranteeRef ref{GranteeRef::Kind::kGroup, static_cast<int>(p_.groups.size())};
    if (!p_.grantees.emplace(g.name(), ref).second) {
      return Invalid("group '", g.name(), "' is defined twice");
    }
    p_.groups.push_back(CompiledGroup{g.name(), std::vector<uint64_t>(words)});
  }
  // Direct members; nested groups are folded in below, in dependency order.
  std::vector<std::vector<int>> nested(p_.groups.size());
  for (int gi = 0; gi < state_.groups_size(); ++gi) {
    std::vector<int> users;
    for (const crm::v1::Grantee& m : state_.groups(gi).members()) {
      auto ref = Resolve(m, absl::StrCat("group '", p_.groups[gi].name,
                                         "' member"));
      if (!ref.ok()) return ref.status();
      p_.groups[gi].direct.push_back(*ref);
      if (ref->kind == GranteeRef::Kind::kGroup) {
        nested[gi].push_back(ref->index);
      } else {
        p_.AppendUsers(*ref, &users);
      }
    }
    for (int u : users) p_.groups[gi].members[u >> 6] |= uint64_t{1} << (u & 63);
  }
  // Depth-first fold with cycle detection (0 new, 1 on stack, 2 done).
  std::vector<int> state(p_.groups.size());
  std::vector<int> path;
  std::function<absl::Status(int)> fold = [&](int g) -> absl::Status {
    if (state[g] == 2) return absl::OkStatus();
    if (state[g] == 1) {
      std::vector<std::string> names;
      auto from = std::find(path.begin(), path.end(), g);
      for (auto it = from; it != path.end(); ++it) {
        names.push_back(p_.groups[*it].name);
      }
      names.push_back(p_.groups[g].name);
      return Invalid("group membership has a cycle: ",
                     absl::StrJoin(names, " contains "));
    }
    state[g] = 1;
    path.push_back(g);
    for (int child : nested[g]) {
      if (absl::Status s = fold(child); !s.ok()) return s;
      auto& mine = p_.groups[g].members;
      const auto& theirs = p_.groups[child].members;
      for (size_t w = 0; w < mine.size(); ++w) mine[w] |= theirs[w];
    }
    path.pop_back();
    state[g] = 2;
    return absl::OkStatus();
  };
  for (size_t g = 0; g < p_.groups.size(); ++g) {
    if (absl::Status s = fold(static_cast<int>(g)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompilePermissionSets() {
  std::map<absl::string_view, bool> names;
  absl::flat_hash_map<std::string, bool> services;
  for (const auto& s : services_) services[s.name()] = true;
  for (const crm::v1::PermissionSet& set : state_.permission_sets()) {
    const std::string where = absl::StrCat("permission set '", set.name(), "'");
    if (!HasIdForm(set.name(), "permissionSets/")) {
      return Invalid(where, " is not of the form permissionSets/{id}");
    }
    if (!names.emplace(set.name(), true).second) {
      return Invalid(where, " is defined twice");
    }
    SetGrants g;
    g.objects.resize(p_.objects.size());
    g.fields.resize(p_.objects.size());
    for (const auto& op : set.object_permissions()) {
      auto o = Object(op.object(), where);
      if (!o.ok()) return o.status();
      ObjectPermissions perms{op.read(),     op.create(),   op.edit(),
                              op.delete_(),  op.view_all(), op.modify_all()};
      perms.Normalize();
      g.objects[*o].Merge(perms);
    }
    for (const auto& fp : set.field_permissions()) {
      auto o = Object(fp.object(), where);
      if (!o.ok()) return o.status();
      int f = p_.objects[*o].schema->FieldIndex(fp.field());
      if (f < 0) {
        return Invalid(where, ": unknown field '", fp.field(), "' of ",
                       fp.object());
      }
      auto& fields = g.fields[*o];
      if (fields.empty()) fields.resize(p_.objects[*o].schema->fields().size());
      fields[f].mentioned = true;
      fields[f].read |= fp.read() || fp.edit();
      fields[f].edit |= fp.edit();
    }
    for (int sp : set.system_permissions()) {
      if (sp <= 0 || sp >= 32) return Invalid(where, ": bad system permission");
      g.system |= 1u << sp;
    }
    int index = static_cast<int>(sets_.size());
    p_.permission_sets.push_back(CompiledPermissionSet{
        set.name(), g.system, g.objects, g.fields,
        {set.assignees().begin(), set.assignees().end()}});
    sets_.push_back(std::move(g));
    for (const std::string& a : set.assignees()) {
      bool ok = HasIdForm(a, "profiles/") ||
                (HasIdForm(a, "users/") && p_.user_index.contains(a.substr(6))) ||
                (HasIdForm(a, "services/") && services.contains(a.substr(9)));
      if (!ok) {
        return Invalid(where, ": assignee '", a,
                       "' is not a known user, a registered service or a "
                       "profile (profiles/{id})");
      }
      sets_by_assignee_[a].push_back(index);
    }
  }
  return absl::OkStatus();
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

absl::Status Compiler::CompileServices() {
  for (const crm::internal::ServiceConfig& service : services_) {
    CompiledService& cs = p_.services[service.name()];
    cs.resource_name = absl::StrCat("services/", service.name());
    cs.scope.resize(p_.objects.size());
    for (const std::string& name : service.system_permissions()) {
      auto p = SystemPermissionFromName(name);
      if (!p.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "service '", service.name(), "': system_permissions: ",
            p.status().message()));
      }
      cs.config_system |= SystemBit(*p);
    }
    for (const auto& grant : service.grants()) {
      std::vector<int> targets;
      if (grant.object() == "*") {
        for (size_t o = 0; o < p_.objects.size(); ++o) targets.push_back(o);
      } else if (int o = p_.ObjectIndex(grant.object()); o >= 0) {
        targets.push_back(o);
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "service '", service.name(), "': grant names unknown object '",
            grant.object(), "'"));
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
    for (size_t o = 0; o < p_.objects.size(); ++o) {
      cs.scope[o].Merge(cs.permissions->objects[o]);
    }
  }
  return absl::OkStatus();
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

absl::Status Compiler::CompileSharingRules() {
  std::map<absl::string_view, bool> names;
  for (const crm::v1::SharingRule& r : state_.sharing_rules()) {
    const std::string where = absl::StrCat("sharing rule '", r.name(), "'");
    if (!HasIdForm(r.name(), "sharingRules/")) {
      return Invalid(where, " is not of the form sharingRules/{id}");
    }
    if (!names.emplace(r.name(), true).second) {
      return Invalid(where, " is defined twice");
    }
    auto o = Object(r.object(), where);
    if (!o.ok()) return o.status();
    if (p_.objects[*o].controlled_by_parent()) {
      return Invalid(where, ": ", r.object(),
                     " is controlled by parent; share the account instead");
    }
    CompiledSharingRule c;
    c.name = r.name();
    c.object = *o;
    switch (r.source_case()) {
      case crm::v1::SharingRule::kOwnedBy: {
        auto g = Resolve(r.owned_by(), absl::StrCat(where, " owned_by"));
        if (!g.ok()) return g.status();
        c.owned_by = *g;
        break;
      }
      case crm::v1::SharingRule::kCriteria: {
        auto f = Criteria(r.criteria(), *o, where);
        if (!f.ok()) return f.status();
        c.criteria_based = true;
        c.criteria = *std::move(f);
        break;
      }
      case crm::v1::SharingRule::SOURCE_NOT_SET:
        return Invalid(where, ": neither owned_by nor criteria is set");
    }
    auto with = Resolve(r.shared_with(), absl::StrCat(where, " shared_with"));
    if (!with.ok()) return with.status();
    c.shared_with = *with;
    switch (r.access()) {
      case crm::v1::READ:
        c.level = Level::kRead;
        break;
      case crm::v1::READ_WRITE:
        c.level = Level::kReadWrite;
        break;
      default:
        return Invalid(where, ": access must be READ or READ_WRITE");
    }
    p_.sharing_rules.push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompileRestrictions() {
  std::map<absl::string_view, bool> names;
  for (const crm::v1::RestrictionRule& r : state_.restriction_rules()) {
    const std::string where = absl::StrCat("restriction rule '", r.name(), "'");
    if (!HasIdForm(r.name(), "restrictionRules/")) {
      return Invalid(where, " is not of the form restrictionRules/{id}");
    }
    if (!names.emplace(r.name(), true).second) {
      return Invalid(where, " is defined twice");
    }
    auto o = Object(r.object(), where);
    if (!o.ok()) return o.status();
    CompiledRestriction c;
    c.name = r.name();
    c.object = *o;
    auto g = Resolve(r.applies_to(), absl::StrCat(where, " applies_to"));
    if (!g.ok()) return g.status();
    c.applies_to = *g;
    auto f = Criteria(r.criteria(), *o, where);
    if (!f.ok()) return f.status();
    c.criteria = *std::move(f);
    p_.restrictions.push_back(std::move(c));
  }
  return absl::OkStatus();
}

absl::Status Compiler::CompileProfiles() {
  for (const crm::internal::PolicyProfile& profile : state_.profiles()) {
    if (!HasIdForm(profile.name(), "profiles/")) {
      return Invalid("profile '", profile.name(),
                     "' is not of the form profiles/{id}");
    }
    auto restrictions = CompileProfileRestrictions(profile);
    if (!restrictions.ok()) {
      // Keep the BadRequest: the admin service reports its violations.
      return base::WithMessage(
          restrictions.status(),
          absl::StrCat("policy: ", restrictions.status().message()));
    }
    const std::string id(profile.name().substr(sizeof("profiles/") - 1));
    auto [it, inserted] = p_.profiles.try_emplace(
        id, CompiledProfile{profile.name(), *std::move(restrictions)});
    if (!inserted) return Invalid("duplicate profile ", profile.name());
  }
  return absl::OkStatus();
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
  Compiler compiler(state, services, schemas, &snapshot->policy_);
  if (absl::Status s = compiler.Run(); !s.ok()) return s;
  return std::shared_ptr<const PolicySnapshot>(std::move(snapshot));
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
