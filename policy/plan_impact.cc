#include "policy/plan_impact.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"
#include "policy/system_permission.h"
#include "query/checked_filter.h"

namespace crm::policy {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using model::SqlFragment;

constexpr Operation kObjectOps[] = {Operation::kRead, Operation::kCreate,
                                    Operation::kEdit, Operation::kDelete};
constexpr Operation kRecordOps[] = {Operation::kRead, Operation::kEdit,
                                    Operation::kDelete};

bool IsNone(const SqlFragment& f) { return f.sql == "1 = 0"; }

bool SameSql(const SqlFragment& a, const SqlFragment& b) {
  return a.sql == b.sql && a.params == b.params;
}

SqlFragment None() {
  SqlFragment f;
  f.Append("1 = 0");
  return f;
}

// What the end points alone say about a changed filter.
AccessDirection EndPoints(const SqlFragment& before, const SqlFragment& after) {
  if (IsNone(before) || after.empty()) return AccessDirection::kGained;
  if (IsNone(after) || before.empty()) return AccessDirection::kLost;
  return AccessDirection::kUnknown;
}

// The Evaluator wants a shared_ptr; the caller owns the snapshot and it
// outlives every Evaluator made here (no control block, so copies are free).
std::shared_ptr<const PolicySnapshot> Unowned(const PolicySnapshot& s) {
  return std::shared_ptr<const PolicySnapshot>(
      std::shared_ptr<const PolicySnapshot>(), &s);
}

// `users` (indexes of one policy) as indexes of the other through `map`,
// sorted and unique; false if one of them is not in the other.
bool MapUsers(std::vector<int> users, const std::vector<int>& map,
              std::vector<int>* out) {
  out->clear();
  for (int u : users) {
    if (map[u] < 0) return false;
    out->push_back(map[u]);
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return true;
}

std::vector<int> SortedUsers(const CompiledPolicy& p, const GranteeRef& g) {
  std::vector<int> out;
  p.AppendUsers(g, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The users strictly below `role`: what Evaluator::OwnerSet adds through
// the role hierarchy.
std::vector<int> UsersBelow(const CompiledPolicy& p, int role) {
  std::vector<int> out;
  for (int child : p.roles[role].children) {
    p.AppendUsers({GranteeRef::Kind::kRoleAndSubordinates, child}, &out);
  }
  return out;
}

// The two compiled policies matched by name, and whether the inputs of
// Evaluator::RecordFilter are the same in both for a user and an object.
// Reading evaluator.cc / record_filter.cc, RecordFilter(op) of a principal
// acting for user U on object O is, once CheckObject(op) allows, a function
// of (AccessSql):
//   - ViewAll: view_all / modify_all of U's bundle on O and its system
//     bits VIEW_ALL_DATA / MODIFY_ALL_DATA;
//   - O's ObjectPolicy (default, hierarchy, owner and account fields);
//   - OwnerSet: U itself, the users below U's role when the hierarchy
//     applies (or O is controlled by parent), the users of the owned_by
//     sources of U's owner-based rules on O;
//   - U's sharing rules on O (criteria SQL, level, owner sources);
//   - U's grantee keys (the shares branch);
//   - U's restriction rules on O (criteria SQL);
//   - for an object controlled by parent, all of the above for accounts.
// The same inputs (users compared by id, rules by name and content) give
// predicates selecting the same records (not necessarily the same text:
// owners are listed in index order, which may differ). Used only to skip
// rebuilding predicates, never to decide anything.
class InputMatch {
 public:
  InputMatch(const CompiledPolicy& before, const CompiledPolicy& after)
      : b_(before), a_(after) {
    user_.assign(b_.users.size(), -1);
    for (size_t i = 0; i < b_.users.size(); ++i) {
      auto it = a_.user_index.find(b_.users[i].id);
      if (it != a_.user_index.end()) user_[i] = it->second;
    }
    object_.assign(b_.objects.size(), -1);
    object_same_.assign(b_.objects.size(), false);
    for (size_t o = 0; o < b_.objects.size(); ++o) {
      const ObjectPolicy& x = b_.objects[o];
      const int oa = a_.ObjectIndex(x.schema->collection());
      object_[o] = oa;
      if (oa < 0) continue;
      const ObjectPolicy& y = a_.objects[oa];
      // The hierarchy flag is compared per user (it only matters to users
      // with someone below them).
      object_same_[o] = x.access == y.access &&
                        x.owner_field == y.owner_field &&
                        x.account_field == y.account_field;
    }
    absl::flat_hash_map<absl::string_view, int> roles;
    for (size_t r = 0; r < a_.roles.size(); ++r) roles[a_.roles[r].name] = r;
    role_.assign(b_.roles.size(), -1);
    for (size_t r = 0; r < b_.roles.size(); ++r) {
      auto it = roles.find(b_.roles[r].name);
      if (it != roles.end()) role_[r] = it->second;
    }
    role_below_same_.assign(b_.roles.size(), kUnknown);
    absl::flat_hash_map<absl::string_view, int> rules;
    for (size_t r = 0; r < a_.sharing_rules.size(); ++r) {
      rules[a_.sharing_rules[r].name] = r;
    }
    rule_.assign(b_.sharing_rules.size(), -1);
    for (size_t r = 0; r < b_.sharing_rules.size(); ++r) {
      auto it = rules.find(b_.sharing_rules[r].name);
      if (it != rules.end()) rule_[r] = it->second;
    }
    rule_same_.assign(b_.sharing_rules.size(), kUnknown);
    absl::flat_hash_map<absl::string_view, int> restrictions;
    for (size_t r = 0; r < a_.restrictions.size(); ++r) {
      restrictions[a_.restrictions[r].name] = r;
    }
    restriction_.assign(b_.restrictions.size(), -1);
    for (size_t r = 0; r < b_.restrictions.size(); ++r) {
      auto it = restrictions.find(b_.restrictions[r].name);
      if (it != restrictions.end()) restriction_[r] = it->second;
    }
    restriction_same_.assign(b_.restrictions.size(), kUnknown);
    const uint32_t all_data =
        SystemBit(crm::v1::VIEW_ALL_DATA) | SystemBit(crm::v1::MODIFY_ALL_DATA);
    all_data_ = all_data;
  }

  int ObjectInAfter(int object) const { return object_[object]; }

  // True when user `ub` of before and `ua` of after have the same
  // RecordFilter inputs for object `ob` (of before), see above.
  bool RecordInputsSame(int ub, int ua, int ob) const {
    const int oa = object_[ob];
    if (oa < 0 || !object_same_[ob]) return false;
    const CompiledUser& x = b_.users[ub];
    const CompiledUser& y = a_.users[ua];
    // ViewAll reads view_all / modify_all and the two system bits; the
    // other object permissions only reach RecordFilter through
    // CheckObject, whose verdict the caller compares.
    const ObjectPermissions& xp = x.permissions->objects[ob];
    const ObjectPermissions& yp = y.permissions->objects[oa];
    if (xp.view_all != yp.view_all || xp.modify_all != yp.modify_all ||
        ((x.permissions->system ^ y.permissions->system) & all_data_) != 0) {
      return false;
    }
    const ObjectPolicy& obj = b_.objects[ob];
    // OwnerSet adds the users below U's role where the hierarchy applies.
    const bool hb = obj.hierarchy || obj.controlled_by_parent();
    const bool ha =
        a_.objects[oa].hierarchy || a_.objects[oa].controlled_by_parent();
    if (hb && ha) {
      if ((x.role < 0) != (y.role < 0)) return false;
      if (x.role >= 0 && (role_[x.role] != y.role || !RoleBelowSame(x.role))) {
        return false;
      }
    } else if (hb != ha) {
      // Applies on one side only: the same if nobody is below U there.
      if (hb && x.role >= 0 && HasUsersBelow(b_, x.role, &below_b_)) {
        return false;
      }
      if (ha && y.role >= 0 && HasUsersBelow(a_, y.role, &below_a_)) {
        return false;
      }
    }
    if (x.grantee_keys != y.grantee_keys) return false;
    const auto& xr = x.sharing_rules[ob];
    const auto& yr = y.sharing_rules[oa];
    if (xr.size() != yr.size()) return false;
    for (size_t i = 0; i < xr.size(); ++i) {
      if (rule_[xr[i]] != yr[i] || !SharingRuleSame(xr[i])) return false;
    }
    const auto& xs = x.restrictions[ob];
    const auto& ys = y.restrictions[oa];
    if (xs.size() != ys.size()) return false;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (restriction_[xs[i]] != ys[i] || !RestrictionSame(xs[i])) {
        return false;
      }
    }
    if (obj.controlled_by_parent()) {
      // Through the account: the account's inputs too. Accounts are never
      // controlled by parent (Build refuses it), so this recursion ends.
      if (b_.accounts < 0 || b_.accounts == ob ||
          object_[b_.accounts] != a_.accounts) {
        return false;
      }
      return RecordInputsSame(ub, ua, b_.accounts);
    }
    return true;
  }

 private:
  static constexpr int8_t kUnknown = -1;

  bool RoleBelowSame(int rb) const {
    int8_t& memo = role_below_same_[rb];
    if (memo == kUnknown) {
      std::vector<int> mapped;
      memo = role_[rb] >= 0 &&
             MapUsers(UsersBelow(b_, rb), user_, &mapped) &&
             [&] {
               std::vector<int> theirs = UsersBelow(a_, role_[rb]);
               std::sort(theirs.begin(), theirs.end());
               theirs.erase(std::unique(theirs.begin(), theirs.end()),
                            theirs.end());
               return mapped == theirs;
             }();
    }
    return memo == 1;
  }

  static bool HasUsersBelow(const CompiledPolicy& p, int role,
                            std::vector<int8_t>* memo) {
    if (memo->empty()) memo->assign(p.roles.size(), kUnknown);
    int8_t& m = (*memo)[role];
    if (m == kUnknown) m = !UsersBelow(p, role).empty();
    return m == 1;
  }

  bool SharingRuleSame(int rb) const {
    int8_t& memo = rule_same_[rb];
    if (memo != kUnknown) return memo == 1;
    memo = 0;
    const int ra = rule_[rb];
    if (ra < 0) return false;
    const CompiledSharingRule& x = b_.sharing_rules[rb];
    const CompiledSharingRule& y = a_.sharing_rules[ra];
    if (object_[x.object] != y.object || x.criteria_based != y.criteria_based ||
        x.level != y.level) {
      return false;
    }
    if (x.criteria_based) {
      memo = SameSql(query::ToSql(x.criteria), query::ToSql(y.criteria));
    } else {
      std::vector<int> mapped;
      memo = MapUsers(SortedUsers(b_, x.owned_by), user_, &mapped) &&
             mapped == SortedUsers(a_, y.owned_by);
    }
    return memo == 1;
  }

  bool RestrictionSame(int rb) const {
    int8_t& memo = restriction_same_[rb];
    if (memo != kUnknown) return memo == 1;
    const int ra = restriction_[rb];
    memo = ra >= 0 &&
           object_[b_.restrictions[rb].object] == a_.restrictions[ra].object &&
           SameSql(query::ToSql(b_.restrictions[rb].criteria),
                   query::ToSql(a_.restrictions[ra].criteria));
    return memo == 1;
  }

  const CompiledPolicy& b_;
  const CompiledPolicy& a_;
  uint32_t all_data_ = 0;
  std::vector<int> user_;         // before user -> after user, or -1
  std::vector<int> object_;       // before object -> after object, or -1
  std::vector<bool> object_same_;
  std::vector<int> role_;         // by name
  std::vector<int> rule_;         // sharing rules by name
  std::vector<int> restriction_;  // by name
  // Memos: kUnknown, 0 or 1.
  mutable std::vector<int8_t> role_below_same_;
  mutable std::vector<int8_t> rule_same_;
  mutable std::vector<int8_t> restriction_same_;
  mutable std::vector<int8_t> below_b_, below_a_;  // HasUsersBelow, per side
};

std::string DescribeRestrictions(const login::LoginRestrictions& r) {
  if (r.unrestricted()) return "any address, any country, any time";
  std::vector<std::string> parts;
  parts.push_back(r.ip_ranges().empty() ? "any address"
                                        : r.ip_ranges().ToString());
  parts.push_back(r.countries().empty()
                      ? "any country"
                      : absl::StrCat("countries ",
                                     absl::StrJoin(r.countries(), ", ")));
  const login::LoginHours& hours = r.login_hours();
  if (hours.unrestricted()) {
    parts.push_back("any time");
  } else if (r.hours_in_user_zone()) {
    parts.push_back(
        absl::StrCat(hours.Describe(), " in the user's time zone"));
  } else {
    parts.push_back(absl::StrCat(hours.Describe(), " ", hours.time_zone_name()));
  }
  return absl::StrJoin(parts, "; ");
}

// LoginSummary of the user at `index` of the snapshot (-1: unknown).
std::string LoginSummaryAt(const PolicySnapshot& snapshot, int index) {
  if (index < 0) return "refused: unknown user";
  const CompiledUser& u = snapshot.compiled().users[index];
  if (!u.active) return "refused: inactive user";
  absl::string_view id = u.profile;
  if (!absl::ConsumePrefix(&id, "profiles/") || id.empty()) {
    return "refused: no profile";
  }
  const login::LoginRestrictions* r = snapshot.ProfileRestrictions(id);
  if (r == nullptr) return absl::StrCat("refused: ", u.profile,
                                        " is not in the policy");
  return DescribeRestrictions(*r);
}

int UserIndex(const CompiledPolicy& p, absl::string_view id) {
  auto it = p.user_index.find(id);
  return it == p.user_index.end() ? -1 : it->second;
}

// One object type for one user; `ub`/`ua` are the user's indexes (-1 when
// absent from that side).
ObjectAccessChange DiffObject(const Evaluator& eb, const Evaluator& ea,
                              const model::ObjectSchema& schema,
                              const SqlShape& shape, const InputMatch& match,
                              int ob, int ub, int ua) {
  ObjectAccessChange c;
  c.object = schema.collection();
  bool allowed_before[4], allowed_after[4];
  for (int k = 0; k < 4; ++k) {
    allowed_before[k] = eb.AllowsObject(schema, kObjectOps[k]);
    allowed_after[k] = ea.AllowsObject(schema, kObjectOps[k]);
    if (allowed_before[k] != allowed_after[k]) {
      (allowed_after[k] ? c.operations_gained : c.operations_lost)
          .push_back(OperationName(kObjectOps[k]));
    }
  }
  const FieldAccess fb = eb.Fields(schema);
  const FieldAccess fa = ea.Fields(schema);
  const auto& fields = schema.fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    const int f = static_cast<int>(i);
    if (fb.CanRead(f) != fa.CanRead(f)) {
      (fa.CanRead(f) ? c.readable_fields_gained : c.readable_fields_lost)
          .push_back(fields[i].name);
    }
    if (fb.CanWrite(f) != fa.CanWrite(f)) {
      (fa.CanWrite(f) ? c.writable_fields_gained : c.writable_fields_lost)
          .push_back(fields[i].name);
    }
  }
  int same_inputs = -1;  // computed once, when first needed
  for (Operation op : kRecordOps) {
    const int k = op == Operation::kRead ? 0 : op == Operation::kEdit ? 2 : 3;
    if (!allowed_before[k] && !allowed_after[k]) continue;  // "1 = 0" twice
    if (allowed_before[k] && allowed_after[k] && ub >= 0 && ua >= 0 &&
        ob >= 0) {
      if (same_inputs < 0) same_inputs = match.RecordInputsSame(ub, ua, ob);
      if (same_inputs == 1) continue;
    }
    SqlFragment before = eb.RecordFilter(schema, op, shape);
    SqlFragment after = ea.RecordFilter(schema, op, shape);
    if (SameSql(before, after)) continue;
    ObjectAccessChange::RecordFilterChange r;
    r.op = op;
    r.direction = EndPoints(before, after);
    r.before = std::move(before);
    r.after = std::move(after);
    c.records.push_back(std::move(r));
  }
  return c;
}

}  // namespace

const char* AccessDirectionName(AccessDirection d) {
  switch (d) {
    case AccessDirection::kUnknown:
      return "unknown";
    case AccessDirection::kGained:
      return "gained";
    case AccessDirection::kLost:
      return "lost";
  }
  return "unknown";
}

bool ObjectAccessChange::empty() const {
  return operations_gained.empty() && operations_lost.empty() &&
         readable_fields_gained.empty() && readable_fields_lost.empty() &&
         writable_fields_gained.empty() && writable_fields_lost.empty() &&
         records.empty();
}

bool UserAccessChange::empty() const {
  return objects.empty() && system_gained.empty() && system_lost.empty() &&
         !login_changed;
}

SqlShape ImpactSqlShape(const PolicySnapshot& before,
                        const PolicySnapshot& after) {
  // Same (user -> role) pairs on both sides, users without a role aside.
  auto assignment = [](const CompiledPolicy& p) {
    std::vector<std::pair<absl::string_view, absl::string_view>> out;
    for (const CompiledUser& u : p.users) {
      if (u.role >= 0) out.emplace_back(u.id, p.roles[u.role].name);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  SqlShape shape;
  if (assignment(before.compiled()) != assignment(after.compiled())) {
    shape.role_join_min_owners = std::numeric_limits<size_t>::max();
  }
  return shape;
}

std::string LoginSummary(const PolicySnapshot& snapshot,
                         absl::string_view user_id) {
  absl::ConsumePrefix(&user_id, "users/");
  return LoginSummaryAt(snapshot, UserIndex(snapshot.compiled(), user_id));
}

std::vector<UserAccessChange> DiffUserAccess(
    const PolicySnapshot& before, const PolicySnapshot& after,
    absl::string_view service, const model::SchemaRegistry& schemas,
    const std::vector<std::string>* only_users) {
  const CompiledPolicy& b = before.compiled();
  const CompiledPolicy& a = after.compiled();
  absl::flat_hash_set<std::string> only;
  if (only_users != nullptr) {
    for (absl::string_view u : *only_users) {
      absl::ConsumePrefix(&u, "users/");
      only.insert(std::string(u));
    }
  }
  struct Pair {
    std::string name;  // "users/{id}"
    const std::string* id;
    int ub, ua;
  };
  std::vector<Pair> users;
  for (size_t i = 0; i < b.users.size(); ++i) {
    const CompiledUser& u = b.users[i];
    if (only_users != nullptr && !only.contains(u.id)) continue;
    users.push_back({u.resource_name, &u.id, static_cast<int>(i),
                     UserIndex(a, u.id)});
  }
  for (size_t i = 0; i < a.users.size(); ++i) {
    const CompiledUser& u = a.users[i];
    if (only_users != nullptr && !only.contains(u.id)) continue;
    if (b.user_index.contains(u.id)) continue;
    users.push_back({u.resource_name, &u.id, -1, static_cast<int>(i)});
  }
  std::sort(users.begin(), users.end(),
            [](const Pair& x, const Pair& y) { return x.name < y.name; });

  const InputMatch match(b, a);
  const SqlShape shape = ImpactSqlShape(before, after);
  const std::vector<const model::ObjectSchema*> objects = schemas.All();
  std::vector<int> object_index;
  for (const model::ObjectSchema* schema : objects) {
    object_index.push_back(b.ObjectOf(*schema));
  }
  const std::shared_ptr<const PolicySnapshot> pb = Unowned(before);
  const std::shared_ptr<const PolicySnapshot> pa = Unowned(after);
  std::vector<UserAccessChange> out;
  for (const Pair& p : users) {
    const Evaluator eb(pb, Principal{std::string(service), *p.id});
    const Evaluator ea(pa, Principal{std::string(service), *p.id});
    UserAccessChange c;
    c.user = p.name;
    const std::vector<crm::v1::SystemPermission> sb = eb.SystemPermissions();
    const std::vector<crm::v1::SystemPermission> sa = ea.SystemPermissions();
    std::set_difference(sa.begin(), sa.end(), sb.begin(), sb.end(),
                        std::back_inserter(c.system_gained));
    std::set_difference(sb.begin(), sb.end(), sa.begin(), sa.end(),
                        std::back_inserter(c.system_lost));
    std::string lb = LoginSummaryAt(before, p.ub);
    std::string la = LoginSummaryAt(after, p.ua);
    if (lb != la) {
      c.login_changed = true;
      c.login_before = std::move(lb);
      c.login_after = std::move(la);
    }
    for (size_t o = 0; o < objects.size(); ++o) {
      ObjectAccessChange oc =
          DiffObject(eb, ea, *objects[o], shape, match, object_index[o], p.ub,
                     p.ua);
      if (!oc.empty()) c.objects.push_back(std::move(oc));
    }
    if (!c.empty()) out.push_back(std::move(c));
  }
  return out;
}

namespace {

// One policy object of a PolicyState (an element of one of its repeated
// message fields) on each side.
struct StateObject {
  const FieldDescriptor* field = nullptr;  // users, roles, profiles, ...
  std::string name;
  const Message* before = nullptr;  // null: absent
  const Message* after = nullptr;
  // Profiles: the system permissions the profile's users carry after, when
  // they changed (PolicyUser.profile_system_permissions; see ImpactByGrant).
  const std::vector<int>* profile_system = nullptr;
};

// The object's name as the policy names it: its `name`; a user
// "users/{id}"; an org-wide default "orgWideDefaults/{object}" (as
// policy/bundle.h names them).
std::string ObjectName(const Message& m) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  if (const FieldDescriptor* f = d->FindFieldByName("name")) {
    return r->GetString(m, f);
  }
  if (const FieldDescriptor* f = d->FindFieldByName("id")) {
    return absl::StrCat("users/", r->GetString(m, f));
  }
  if (const FieldDescriptor* f = d->FindFieldByName("object")) {
    return absl::StrCat("orgWideDefaults/", r->GetString(m, f));
  }
  return "";
}

// Equal as policy: etags (which a bundle never has) and the profile's
// system permissions copied onto users (the profile's, not the user's)
// are left out.
bool SamePolicy(const Message& x, const Message& y) {
  google::protobuf::util::MessageDifferencer differ;
  const auto* d = x.GetDescriptor();
  for (const char* ignored : {"etag", "profile_system_permissions"}) {
    if (const FieldDescriptor* f = d->FindFieldByName(ignored)) {
      differ.IgnoreField(f);
    }
  }
  return differ.Compare(x, y);
}

std::vector<int> SortedSystem(const crm::internal::PolicyUser& u) {
  std::vector<int> out(u.profile_system_permissions().begin(),
                       u.profile_system_permissions().end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Every object that differs, in PolicyState field order then name order.
// `profile_system` receives, per profile, the system permissions its users
// carry after where a user who kept that profile carries others before.
std::vector<StateObject> ChangedObjects(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after,
    std::map<std::string, std::vector<int>>* profile_system) {
  absl::flat_hash_map<absl::string_view, const crm::internal::PolicyUser*>
      after_users;
  for (const auto& u : after.users()) after_users[u.id()] = &u;
  for (const auto& u : before.users()) {
    auto it = after_users.find(u.id());
    if (it == after_users.end() || u.profile().empty() ||
        it->second->profile() != u.profile()) {
      continue;
    }
    std::vector<int> x = SortedSystem(u), y = SortedSystem(*it->second);
    if (x != y) profile_system->emplace(u.profile(), std::move(y));
  }
  std::vector<StateObject> out;
  const auto* d = crm::internal::PolicyState::descriptor();
  const auto* rb = before.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    if (!field->is_repeated() ||
        field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    std::map<std::string, StateObject> objects;
    for (int k = 0; k < rb->FieldSize(before, field); ++k) {
      const Message& m = rb->GetRepeatedMessage(before, field, k);
      StateObject& o = objects[ObjectName(m)];
      o.before = &m;
    }
    for (int k = 0; k < rb->FieldSize(after, field); ++k) {
      const Message& m = rb->GetRepeatedMessage(after, field, k);
      StateObject& o = objects[ObjectName(m)];
      o.after = &m;
    }
    if (field->message_type() == crm::internal::PolicyProfile::descriptor()) {
      for (const auto& [name, system] : *profile_system) {
        objects[name].profile_system = &system;
      }
    }
    for (auto& [name, o] : objects) {
      o.field = field;
      o.name = name;
      const bool same = o.before != nullptr && o.after != nullptr &&
                        SamePolicy(*o.before, *o.after);
      const bool both_absent = o.before == nullptr && o.after == nullptr;
      if ((same || both_absent) && o.profile_system == nullptr) continue;
      out.push_back(std::move(o));
    }
  }
  return out;
}

// `before` with only `o`'s change applied.
crm::internal::PolicyState ApplyOne(const crm::internal::PolicyState& before,
                                    const StateObject& o) {
  crm::internal::PolicyState s = before;
  const auto* r = s.GetReflection();
  int at = -1;
  const int n = r->FieldSize(s, o.field);
  for (int k = 0; k < n && at < 0; ++k) {
    if (ObjectName(r->GetRepeatedMessage(s, o.field, k)) == o.name) at = k;
  }
  if (o.after != nullptr) {
    Message* m = at >= 0 ? r->MutableRepeatedMessage(&s, o.field, at)
                         : r->AddMessage(&s, o.field);
    // A user who keeps their profile keeps its system permissions as they
    // were: a change of them is the profile's (see ImpactByGrant).
    auto* user = dynamic_cast<crm::internal::PolicyUser*>(m);
    const auto* now = dynamic_cast<const crm::internal::PolicyUser*>(o.after);
    const bool keep_system =
        at >= 0 && user != nullptr && now != nullptr &&
        user->profile() == now->profile();
    google::protobuf::RepeatedField<int> kept;
    if (keep_system) kept = user->profile_system_permissions();
    m->CopyFrom(*o.after);
    if (keep_system) *user->mutable_profile_system_permissions() = kept;
  } else if (o.before != nullptr && at >= 0) {
    // Remove, keeping the order of the others.
    for (int k = at; k + 1 < n; ++k) r->SwapElements(&s, o.field, k, k + 1);
    r->RemoveLast(&s, o.field);
  }
  if (o.profile_system != nullptr) {
    for (crm::internal::PolicyUser& u : *s.mutable_users()) {
      if (u.profile() != o.name) continue;
      u.clear_profile_system_permissions();
      for (int p : *o.profile_system) {
        u.add_profile_system_permissions(
            static_cast<crm::v1::SystemPermission>(p));
      }
    }
  }
  return s;
}

// The direction of every record access change a group's change alone
// makes (`before` and `changed` differ only in groups; users are the same
// and in the same order, so user indexes agree). Group membership reaches
// record access through shares, rules' shared_with and owned_by (each only
// adds access) and restriction rules' applies_to (only removes it).
AccessDirection GroupChangeDirection(const CompiledPolicy& before,
                                     const CompiledPolicy& changed) {
  if (before.users.size() != changed.users.size()) {
    return AccessDirection::kUnknown;
  }
  bool grew = false, shrank = false;
  absl::flat_hash_set<absl::string_view> moved;  // groups whose members changed
  auto any = [](const CompiledGroup& g) {
    for (uint64_t w : g.members) {
      if (w != 0) return true;
    }
    return false;
  };
  // A group added or removed alone is named by no rule, restriction or
  // other group (else one side would not compile), but its members gain or
  // lose its grantee key, which shares may name.
  for (const CompiledGroup& h : changed.groups) {
    auto it = before.grantees.find(h.name);
    if (it == before.grantees.end() && any(h)) grew = true;
  }
  for (const CompiledGroup& g : before.groups) {
    auto it = changed.grantees.find(g.name);
    if (it == changed.grantees.end() ||
        it->second.kind != GranteeRef::Kind::kGroup) {
      shrank |= any(g);
      continue;
    }
    const CompiledGroup& h = changed.groups[it->second.index];
    bool differs = false;
    for (size_t w = 0; w < g.members.size() && w < h.members.size(); ++w) {
      grew |= (h.members[w] & ~g.members[w]) != 0;
      shrank |= (g.members[w] & ~h.members[w]) != 0;
      differs |= h.members[w] != g.members[w];
    }
    if (differs) moved.insert(g.name);
  }
  if (grew == shrank) return AccessDirection::kUnknown;
  for (const CompiledPolicy* p : {&before, &changed}) {
    for (const CompiledRestriction& r : p->restrictions) {
      if (r.applies_to.kind == GranteeRef::Kind::kGroup &&
          moved.contains(p->groups[r.applies_to.index].name)) {
        return AccessDirection::kUnknown;
      }
    }
  }
  return grew ? AccessDirection::kGained : AccessDirection::kLost;
}

// Files the user under gaining, losing or changing (see GrantImpact);
// `direction`, the kind of change's, fills record changes whose end points
// did not tell.
void Classify(UserAccessChange& c, AccessDirection direction, GrantImpact* g) {
  bool gains = !c.system_gained.empty(), losses = !c.system_lost.empty();
  bool unknown = c.login_changed;
  for (ObjectAccessChange& o : c.objects) {
    gains |= !o.operations_gained.empty() ||
             !o.readable_fields_gained.empty() ||
             !o.writable_fields_gained.empty();
    losses |= !o.operations_lost.empty() || !o.readable_fields_lost.empty() ||
              !o.writable_fields_lost.empty();
    for (ObjectAccessChange::RecordFilterChange& r : o.records) {
      if (r.direction == AccessDirection::kUnknown) r.direction = direction;
      gains |= r.direction == AccessDirection::kGained;
      losses |= r.direction == AccessDirection::kLost;
      unknown |= r.direction == AccessDirection::kUnknown;
    }
  }
  if (gains && !losses && !unknown) {
    g->users_gaining.push_back(c.user);
  } else if (losses && !gains && !unknown) {
    g->users_losing.push_back(c.user);
  } else {
    g->users_changing.push_back(c.user);
  }
}

}  // namespace

absl::StatusOr<std::vector<GrantImpact>> ImpactByGrant(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after,
    const PolicySnapshot::Services& services, absl::string_view service,
    const model::SchemaRegistry& schemas, int max_objects) {
  auto base = PolicySnapshot::Build(before, services, schemas);
  if (!base.ok()) return base.status();
  std::map<std::string, std::vector<int>> profile_system;
  const std::vector<StateObject> changed =
      ChangedObjects(before, after, &profile_system);
  std::vector<GrantImpact> out;
  for (size_t i = 0; i < changed.size(); ++i) {
    const StateObject& o = changed[i];
    GrantImpact g;
    g.object = o.name;
    g.change = o.before == nullptr && o.after != nullptr   ? "added"
               : o.after == nullptr && o.before != nullptr ? "removed"
                                                           : "changed";
    if (static_cast<int>(i) >= max_objects) {
      g.examined = false;
      out.push_back(std::move(g));
      continue;
    }
    auto alone =
        PolicySnapshot::Build(ApplyOne(before, o), services, schemas);
    if (!alone.ok()) {
      g.evaluable_alone = false;
      g.reason = std::string(alone.status().message());
      out.push_back(std::move(g));
      continue;
    }
    // What the kind of change says about record access (see GrantImpact).
    AccessDirection direction = AccessDirection::kUnknown;
    const std::string& kind = o.field->name();
    if (kind == "sharing_rules" && g.change != "changed") {
      direction = g.change == "added" ? AccessDirection::kGained
                                      : AccessDirection::kLost;
    } else if (kind == "restriction_rules" && g.change != "changed") {
      direction = g.change == "added" ? AccessDirection::kLost
                                      : AccessDirection::kGained;
    } else if (kind == "groups") {
      direction = GroupChangeDirection((*base)->compiled(),
                                       (*alone)->compiled());
    }
    g.changes = DiffUserAccess(**base, **alone, service, schemas);
    for (UserAccessChange& c : g.changes) Classify(c, direction, &g);
    out.push_back(std::move(g));
  }
  return out;
}

std::optional<model::SqlFragment> SharingRuleSource(
    const PolicySnapshot& snapshot, absl::string_view rule_name) {
  const CompiledPolicy& p = snapshot.compiled();
  for (const CompiledSharingRule& rule : p.sharing_rules) {
    if (rule.name != rule_name) continue;
    if (rule.criteria_based) return query::ToSql(rule.criteria);
    const ObjectPolicy& obj = p.objects[rule.object];
    const std::vector<int> owners = SortedUsers(p, rule.owned_by);
    if (obj.owner_field < 0 || owners.empty()) return None();
    SqlFragment f;
    f.Append(absl::StrCat(
        model::QuoteIdentifier(obj.schema->fields()[obj.owner_field].name),
        " IN ("));
    for (size_t i = 0; i < owners.size(); ++i) {
      f.Append(i == 0 ? "?" : ", ?", {p.users[owners[i]].resource_name});
    }
    f.Append(")");
    return f;
  }
  return std::nullopt;
}

}  // namespace crm::policy
