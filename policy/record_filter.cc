// Evaluator::RecordFilter: record access compiled into SQL. The shapes and
// when each is chosen are described in policy/README.md.
#include <algorithm>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "policy/evaluator.h"

namespace crm::policy {
namespace {

using model::QuoteIdentifier;
using model::SqlFragment;

SqlFragment Text(absl::string_view sql) {
  SqlFragment f;
  f.Append(sql);
  return f;
}

bool IsFalse(const SqlFragment& f) { return f.sql == "1 = 0"; }

// "(a) OR (b) OR ..."; an empty term is TRUE (so the whole is empty), a
// "1 = 0" term is dropped; no terms is "1 = 0".
SqlFragment AnyOf(const std::vector<SqlFragment>& terms) {
  std::vector<const SqlFragment*> kept;
  for (const SqlFragment& t : terms) {
    if (t.empty()) return {};
    if (!IsFalse(t)) kept.push_back(&t);
  }
  if (kept.empty()) return Text("1 = 0");
  if (kept.size() == 1) return *kept[0];
  SqlFragment out;
  for (size_t i = 0; i < kept.size(); ++i) {
    out.Append(i == 0 ? "(" : " OR (");
    out.Append(*kept[i]);
    out.Append(")");
  }
  return out;
}

// The `field = constant` comparisons every record matching `node` satisfies:
// those of its top-level conjunction (nested ANDs included; nothing under
// OR or NOT). Integer columns compared as doubles are left out.
void RequiredEqualities(const query::CheckedNode& node,
                        std::vector<const query::CheckedComparison*>* out) {
  if (node.kind == query::FilterExpr::Kind::kAnd) {
    for (const query::CheckedNode& child : node.children) {
      RequiredEqualities(child, out);
    }
  } else if (node.kind == query::FilterExpr::Kind::kComparison &&
             node.comparison.op == query::CompareOp::kEq &&
             !node.comparison.column_as_double) {
    out->push_back(&node.comparison);
  }
}

// True when no value equals both: two strings (byte equality in both
// databases, see query/checked_filter.h) or two integers that differ. Any
// other pair (doubles, mixed types) is not decided.
bool ProvablyDifferent(const model::SqlValue& a, const model::SqlValue& b) {
  const auto* sa = std::get_if<std::string>(&a);
  const auto* sb = std::get_if<std::string>(&b);
  if (sa != nullptr && sb != nullptr) return *sa != *sb;
  const auto* ia = std::get_if<int64_t>(&a);
  const auto* ib = std::get_if<int64_t>(&b);
  return ia != nullptr && ib != nullptr && *ia != *ib;
}

// True when no record can match both filters because each requires the same
// field to equal a different constant. False when unsure (sound, not
// complete): only such equalities are compared.
bool Contradict(const query::CheckedFilter& a, const query::CheckedFilter* b) {
  if (b == nullptr || a.empty() || b->empty() ||
      a.collection() != b->collection()) {
    return false;
  }
  std::vector<const query::CheckedComparison*> ea, eb;
  RequiredEqualities(*a.root(), &ea);
  if (ea.empty()) return false;
  RequiredEqualities(*b->root(), &eb);
  for (const query::CheckedComparison* x : ea) {
    for (const query::CheckedComparison* y : eb) {
      if (x->field_index == y->field_index &&
          ProvablyDifferent(x->value, y->value)) {
        return true;
      }
    }
  }
  return false;
}

// "col IN (?, ?, ...)" over `values`.
SqlFragment InList(absl::string_view column,
                   const std::vector<const std::string*>& values) {
  SqlFragment f;
  f.Append(absl::StrCat(QuoteIdentifier(column), " IN ("));
  for (size_t i = 0; i < values.size(); ++i) {
    f.Append(i == 0 ? "?" : ", ?", {*values[i]});
  }
  f.Append(")");
  return f;
}

}  // namespace

std::vector<int> Evaluator::OwnerSet(int object, Level needed) const {
  const ObjectPolicy& obj = policy_->objects[object];
  std::vector<int> owners = {user_index_};
  if ((obj.hierarchy || obj.controlled_by_parent()) && user_->role >= 0) {
    for (int child : policy_->roles[user_->role].children) {
      policy_->AppendUsers({GranteeRef::Kind::kRoleAndSubordinates, child},
                           &owners);
    }
  }
  if (!obj.controlled_by_parent()) {
    for (int r : user_->sharing_rules[object]) {
      const CompiledSharingRule& rule = policy_->sharing_rules[r];
      if (!rule.criteria_based && rule.level >= needed) {
        policy_->AppendUsers(rule.owned_by, &owners);
      }
    }
  }
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  return owners;
}

namespace {

// The owner set as SQL. Roles all of whose users are in the set become one
// subquery on the users table (whose role_id is where the snapshot's
// user -> role assignment comes from, see store::PolicyStore::LoadState),
// so that a manager over thousands of users sends the few roles instead of
// thousands of parameters, which PostgreSQL plans slowly (~3 us each); the
// remaining users stay an IN list.
SqlFragment OwnerSql(const CompiledPolicy& policy, const std::vector<int>& owners,
                     const SqlShape& shape, PlanInfo* plan) {
  std::vector<const std::string*> names;
  if (owners.size() < shape.role_join_min_owners) {
    for (int u : owners) names.push_back(&policy.users[u].resource_name);
    return names.empty() ? Text("1 = 0") : InList("owner", names);
  }
  std::vector<int> in_set(policy.roles.size(), 0);
  for (int u : owners) {
    if (policy.users[u].role >= 0) in_set[policy.users[u].role]++;
  }
  std::vector<std::string> role_ids;
  for (size_t r = 0; r < policy.roles.size(); ++r) {
    const auto& users = policy.roles[r].users;
    if (users.empty() || static_cast<size_t>(in_set[r]) != users.size()) {
      in_set[r] = 0;
      continue;
    }
    in_set[r] = 1;  // covered: every user of the role is an owner
    absl::string_view id = policy.roles[r].name;
    absl::ConsumePrefix(&id, "roles/");
    role_ids.emplace_back(id);
  }
  for (int u : owners) {
    int r = policy.users[u].role;
    if (r < 0 || in_set[r] == 0) names.push_back(&policy.users[u].resource_name);
  }
  if (plan) {
    absl::StrAppend(&plan->explanation, "owners as ", role_ids.size(),
                    " roles + ", names.size(), " users; ");
  }
  std::vector<SqlFragment> terms;
  if (!role_ids.empty()) {
    std::vector<const std::string*> ids;
    for (const std::string& id : role_ids) ids.push_back(&id);
    SqlFragment f;
    f.Append(
        "\"owner\" IN (SELECT 'users/' || \"id\" FROM \"users\" WHERE ");
    f.Append(InList("role_id", ids));
    f.Append(")");
    terms.push_back(std::move(f));
  }
  if (!names.empty()) terms.push_back(InList("owner", names));
  return AnyOf(terms);
}

}  // namespace

SqlFragment Evaluator::OwnAccessSql(
    int object, Level needed, const SqlShape& shape, PlanInfo* plan,
    const query::CheckedFilter* user_filter) const {
  const ObjectPolicy& obj = policy_->objects[object];
  const std::string& table = obj.schema->collection();
  if (!obj.controlled_by_parent() && obj.public_level() >= needed) {
    if (plan) absl::StrAppend(&plan->explanation, table, ": org-default; ");
    return {};
  }
  std::vector<SqlFragment> criteria;
  if (!obj.controlled_by_parent()) {
    for (int r : user_->sharing_rules[object]) {
      const CompiledSharingRule& rule = policy_->sharing_rules[r];
      if (!rule.criteria_based || rule.level < needed) continue;
      if (Contradict(rule.criteria, user_filter)) {
        if (plan) {
          absl::StrAppend(&plan->explanation, rule.name,
                          " contradicts the filter; ");
        }
        continue;
      }
      criteria.push_back(query::ToSql(rule.criteria));
    }
  }
  std::vector<int> owners;
  if (obj.owner_field >= 0) owners = OwnerSet(object, needed);
  // Manual shares give READ or READ_WRITE, never owner-level access.
  SqlFragment shares;
  if (needed <= Level::kReadWrite) {
    std::vector<const std::string*> keys;
    for (const std::string& k : user_->grantee_keys) keys.push_back(&k);
    shares.Append(
        "SELECT \"record_id\" FROM \"record_shares\" WHERE \"object\" = ? AND ",
        {table});
    shares.Append(InList("grantee", keys));
    if (needed == Level::kReadWrite) {
      shares.Append(" AND \"access\" >= ?", {int64_t{crm::v1::READ_WRITE}});
    }
    if (plan) plan->share_keys += keys.size();
  }
  if (plan) {
    plan->owners += owners.size();
    plan->criteria_rules += criteria.size();
  }
  bool drive = criteria.empty() &&
               (shape.form == SqlShape::Form::kDrive ||
                (shape.form == SqlShape::Form::kAuto &&
                 owners.size() <= shape.drive_max_owners));
  if (drive) {
    // Driven from the few owners and shares: a semi-join on the primary key.
    SqlFragment f;
    f.Append("\"id\" IN (");
    if (!owners.empty()) {
      f.Append(absl::StrCat("SELECT \"id\" FROM ", QuoteIdentifier(table),
                            " WHERE "));
      f.Append(OwnerSql(*policy_, owners, shape, plan));
      if (!shares.empty()) f.Append(" UNION ");
    }
    f.Append(shares);
    f.Append(")");
    if (owners.empty() && shares.empty()) f = Text("1 = 0");
    if (plan) {
      absl::StrAppend(&plan->explanation, table, ": drive from ",
                      owners.size(), " owners and ", plan->share_keys,
                      " share keys; ");
    }
    return f;
  }
  std::vector<SqlFragment> terms;
  if (!owners.empty()) terms.push_back(OwnerSql(*policy_, owners, shape, plan));
  if (!shares.empty()) {
    SqlFragment s;
    s.Append(shape.share_ids_as_array ? "\"id\" = ANY(ARRAY(" : "\"id\" IN (");
    s.Append(shares);
    s.Append(shape.share_ids_as_array ? "))" : ")");
    terms.push_back(std::move(s));
  }
  for (SqlFragment& c : criteria) terms.push_back(std::move(c));
  if (plan) {
    absl::StrAppend(&plan->explanation, table, ": scan with ", owners.size(),
                    " owners, shares, ", criteria.size(), " criteria rules; ");
  }
  return AnyOf(terms);
}

SqlFragment Evaluator::AccessSql(
    int object, Level needed, const SqlShape& shape, PlanInfo* plan,
    const query::CheckedFilter* user_filter) const {
  const ObjectPolicy& obj = policy_->objects[object];
  std::string rule;
  if (ViewAll(object, needed, /*explain=*/true, &rule)) {
    if (plan) absl::StrAppend(&plan->explanation, rule, "; ");
    return {};
  }
  SqlFragment access;
  if (obj.controlled_by_parent()) {
    if (plan) plan->via_parent = true;
    const std::string account = QuoteIdentifier(
        obj.schema->fields()[obj.account_field].name);
    // The filter is on this object, not on its accounts: no hint.
    SqlFragment parent =
        AccessSql(policy_->accounts, needed, shape, plan, nullptr);
    SqlFragment via;
    via.Append(absl::StrCat("(", account, " <> '' AND ", account,
                            " IN (SELECT 'accounts/' || \"id\" FROM "
                            "\"accounts\""));
    if (!parent.empty()) {
      via.Append(" WHERE ");
      via.Append(parent);
    }
    via.Append("))");
    SqlFragment fallback;
    fallback.Append(absl::StrCat("(", account, " = '' AND ("));
    fallback.Append(OwnAccessSql(object, needed, shape, plan, user_filter));
    fallback.Append("))");
    access = AnyOf({via, fallback});
  } else {
    access = OwnAccessSql(object, needed, shape, plan, user_filter);
  }
  if (IsFalse(access)) return access;
  for (int r : user_->restrictions[object]) {
    const query::CheckedFilter& criteria = policy_->restrictions[r].criteria;
    if (Contradict(criteria, user_filter)) {
      if (plan) {
        absl::StrAppend(&plan->explanation, policy_->restrictions[r].name,
                        " contradicts the filter; ");
      }
      return Text("1 = 0");
    }
    access = model::And(access, query::ToSql(criteria));
    if (plan) plan->restriction_rules++;
  }
  return access;
}

SqlFragment Evaluator::RecordFilter(const model::ObjectSchema& schema,
                                    Operation op, const SqlShape& shape,
                                    PlanInfo* plan,
                                    const query::CheckedFilter* user_filter)
    const {
  PlanInfo local;
  if (plan == nullptr) plan = &local;
  *plan = PlanInfo();
  if (!CheckObject(schema, op).allowed) {
    plan->shape = "none";
    return Text("1 = 0");
  }
  if (op == Operation::kCreate) {
    plan->shape = "service-scope";
    return {};
  }
  if (!principal_.acting_for_user()) {
    plan->shape = "service-scope";
    return WithConsentSql(schema, {}, plan);
  }
  const int object = ObjectOf(schema);
  SqlFragment f =
      AccessSql(object, RequiredLevel(op), shape, plan, user_filter);
  if (f.empty()) {
    plan->shape = "all";
  } else if (IsFalse(f)) {
    plan->shape = "none";
  } else if (absl::StrContains(plan->explanation, "scan")) {
    plan->shape = "scan";
  } else if (absl::StrContains(plan->explanation, "drive")) {
    plan->shape = "drive";
  } else {
    plan->shape = "restricted";  // a public default narrowed by restrictions
  }
  if (IsFalse(f)) return f;
  return WithConsentSql(schema, std::move(f), plan);
}

// The consent condition (policy.proto "Consent and purposes"): per
// purpose, a correlated EXISTS on the consents table that
// consents_subject_idx (migration 16) answers per row from the index, so a
// walk of the sort index checks only the rows it returns.
SqlFragment Evaluator::WithConsentSql(const model::ObjectSchema& schema,
                                      SqlFragment f, PlanInfo* plan) const {
  if (!ConsentApplies(schema)) return f;
  const std::string id =
      absl::StrCat(QuoteIdentifier(schema.collection()), ".\"id\"");
  for (const std::string& purpose : purposes_) {
    SqlFragment exists;
    exists.Append(absl::StrCat(
                      "EXISTS (SELECT 1 FROM \"consents\" WHERE "
                      "\"consents\".\"collection\" = ? AND "
                      "\"consents\".\"record_id\" = ",
                      id,
                      " AND \"consents\".\"purpose\" = ? AND "
                      "\"consents\".\"state\" = ?)"),
                  {schema.collection(), purpose, std::string("opted-in")});
    f = model::And(f, exists);
    absl::StrAppend(&plan->explanation, "consent: ", purpose, "; ");
    plan->consent_purposes++;
  }
  return f;
}

}  // namespace crm::policy
