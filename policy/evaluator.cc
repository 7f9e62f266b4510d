#include "policy/evaluator.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace crm::policy {

using crm::v1::SystemPermission;

struct Evaluator::Grant {
  Level level = Level::kNone;
  std::string rule;  // the grant, or (level kNone) why there is none
};

namespace {

const std::string* StringValue(const model::Record& record, int field) {
  if (field < 0 || static_cast<size_t>(field) >= record.values.size()) {
    return nullptr;
  }
  return std::get_if<std::string>(&record.values[field]);
}

Level ShareLevel(crm::v1::AccessLevel level) {
  switch (level) {
    case crm::v1::READ:
      return Level::kRead;
    case crm::v1::READ_WRITE:
      return Level::kReadWrite;
    default:
      return Level::kNone;
  }
}

// The index of `field` in schema.fields() (by address when it is one of
// them), or -1.
int FieldOf(const model::ObjectSchema& schema,
            const model::FieldSchema& field) {
  const auto& fields = schema.fields();
  if (!fields.empty() && &field >= &fields.front() && &field <= &fields.back()) {
    return static_cast<int>(&field - &fields.front());
  }
  return schema.FieldIndex(field.name);
}

}  // namespace

int Evaluator::ObjectOf(const model::ObjectSchema& schema) const {
  return policy_ == nullptr ? -1 : policy_->ObjectOf(schema);
}

Evaluator::Evaluator(std::shared_ptr<const PolicySnapshot> snapshot,
                     Principal principal)
    : snapshot_(std::move(snapshot)), principal_(std::move(principal)) {
  if (snapshot_ == nullptr) return;
  policy_ = &snapshot_->compiled();
  auto s = policy_->services.find(principal_.service);
  if (s != policy_->services.end()) service_ = &s->second;
  if (principal_.acting_for_user()) {
    auto u = policy_->user_index.find(principal_.user_id);
    if (u != policy_->user_index.end()) {
      user_index_ = u->second;
      user_ = &policy_->users[user_index_];
    }
  }
}

ObjectPermissions Evaluator::Permissions(int object) const {
  if (service_ == nullptr || object < 0) return {};
  if (!principal_.acting_for_user()) return service_->scope[object];
  if (user_ == nullptr || !user_->active) return {};
  return user_->permissions->objects[object].Intersect(service_->scope[object]);
}

Decision Evaluator::CheckObject(const model::ObjectSchema& schema,
                                Operation op) const {
  if (policy_ == nullptr) {
    return Decision::Deny("no-policy", "no access policy is loaded");
  }
  const std::string object_rule =
      absl::StrCat(schema.collection(), ":", OperationName(op));
  int object = ObjectOf(schema);
  if (service_ == nullptr || object < 0) {
    return Decision::Deny(absl::StrCat("unknown-service:", principal_.service),
                          absl::StrCat("service ", principal_.service,
                                       " is not registered"));
  }
  if (!principal_.acting_for_user()) {
    if (!service_->scope[object].Allows(op)) {
      return Decision::Deny(
          absl::StrCat("no-grant:", object_rule),
          absl::StrCat("service ", principal_.service,
                       " has no permission to ", OperationName(op), " ",
                       schema.collection()));
    }
    return Decision::Allow(
        absl::StrCat("service-grant:", principal_.service, ":", object_rule));
  }
  if (user_ == nullptr || !user_->active) {
    return Decision::Deny(
        absl::StrCat(user_ == nullptr ? "unknown-user:" : "inactive-user:",
                     principal_.user_id),
        absl::StrCat("user ", principal_.user_id,
                     user_ == nullptr ? " is unknown" : " is not active"));
  }
  if (!user_->permissions->objects[object].Allows(op)) {
    return Decision::Deny(
        absl::StrCat("no-grant:", object_rule),
        absl::StrCat("user ", principal_.user_id, " has no permission to ",
                     OperationName(op), " ", schema.collection()));
  }
  if (!service_->scope[object].Allows(op)) {
    return Decision::Deny(
        absl::StrCat("service-scope:", principal_.service, ":", object_rule),
        absl::StrCat("service ", principal_.service, " may not ",
                     OperationName(op), " ", schema.collection(),
                     " (acting for user ", principal_.user_id, ")"));
  }
  return Decision::Allow(absl::StrCat("object-permission:", object_rule));
}

bool Evaluator::ViewAll(int object, Level needed, std::string* rule) const {
  const PermissionBundle& b = *user_->permissions;
  const ObjectPermissions& p = b.objects[object];
  const std::string& collection = policy_->objects[object].schema->collection();
  if (p.modify_all) {
    *rule = absl::StrCat("modify-all:", collection);
  } else if (b.HasSystem(crm::v1::MODIFY_ALL_DATA)) {
    *rule = "system:MODIFY_ALL_DATA";
  } else if (needed <= Level::kRead && p.view_all) {
    *rule = absl::StrCat("view-all:", collection);
  } else if (needed <= Level::kRead && b.HasSystem(crm::v1::VIEW_ALL_DATA)) {
    *rule = "system:VIEW_ALL_DATA";
  } else {
    return false;
  }
  return true;
}

Evaluator::Grant Evaluator::OwnAccess(
    int object, Level needed, const model::Record& record,
    const std::vector<ShareFact>& shares) const {
  const ObjectPolicy& obj = policy_->objects[object];
  const bool by_parent = obj.controlled_by_parent();  // the no-account case
  int owner = -1;
  if (const std::string* o = StringValue(record, obj.owner_field)) {
    auto it = policy_->owner_index.find(*o);
    if (it != policy_->owner_index.end()) owner = it->second;
  }
  if (owner >= 0 && owner == user_index_) return {Level::kFull, "owner"};
  if ((obj.hierarchy || by_parent) && owner >= 0 &&
      policy_->RoleAbove(user_->role, policy_->users[owner].role)) {
    return {Level::kFull,
            absl::StrCat("hierarchy:via ",
                         policy_->roles[policy_->users[owner].role].name)};
  }
  if (!by_parent && obj.public_level() >= needed) {
    return {obj.public_level(),
            absl::StrCat("org-default:",
                         crm::v1::OrgWideDefault::Access_Name(obj.access))};
  }
  if (!by_parent) {
    for (int r : user_->sharing_rules[object]) {
      const CompiledSharingRule& rule = policy_->sharing_rules[r];
      if (rule.level < needed) continue;
      bool applies = rule.criteria_based
                         ? query::Matches(rule.criteria, record)
                         : owner >= 0 && policy_->Contains(rule.owned_by, owner);
      if (applies) return {rule.level, absl::StrCat("sharing-rule:", rule.name)};
    }
  }
  for (const ShareFact& share : shares) {
    Level level = ShareLevel(share.level);
    if (level < needed) continue;
    auto it = policy_->grantees.find(share.grantee);
    if (it != policy_->grantees.end() &&
        policy_->Contains(it->second, user_index_)) {
      return {level, absl::StrCat("share:", share.grantee)};
    }
  }
  return {Level::kNone, "no-access"};
}

const char* Evaluator::FailedRestriction(int object,
                                         const model::Record& record) const {
  for (int r : user_->restrictions[object]) {
    const CompiledRestriction& rule = policy_->restrictions[r];
    if (!query::Matches(rule.criteria, record)) return rule.name.c_str();
  }
  return nullptr;
}

Evaluator::Grant Evaluator::RecordAccess(
    int object, Level needed, const model::Record& record,
    const std::vector<ShareFact>& shares) const {
  // Only the no-account case reaches here for objects controlled by parent.
  Grant g;
  if (ViewAll(object, needed, &g.rule)) {
    g.level = Level::kFull;
    return g;
  }
  g = OwnAccess(object, needed, record, shares);
  if (g.level < needed) return g;
  if (const char* r = FailedRestriction(object, record)) {
    return {Level::kNone, absl::StrCat("restriction-rule:", r)};
  }
  return g;
}

Decision Evaluator::CheckRecord(const model::ObjectSchema& schema,
                                Operation op, const RecordFacts& facts) const {
  const int object = ObjectOf(schema);
  // A service acting as itself is an integration user: its object grant
  // covers every record. Create is decided by the object permission.
  if (object < 0 || !principal_.acting_for_user() ||
      op == Operation::kCreate || !Permissions(object).Allows(op)) {
    return CheckObject(schema, op);
  }
  const ObjectPolicy& obj = policy_->objects[object];
  const Level needed = RequiredLevel(op);
  const model::Record& record = *facts.record;
  Grant g;
  const std::string* account = StringValue(record, obj.account_field);
  if (ViewAll(object, needed, &g.rule)) {
    return Decision::Allow(std::move(g.rule));
  }
  if (obj.controlled_by_parent() && account != nullptr && !account->empty()) {
    if (facts.parent == nullptr ||
        *account != absl::StrCat("accounts/", facts.parent->id)) {
      g.rule = absl::StrCat("parent-missing:", *account);
    } else {
      g = RecordAccess(policy_->accounts, needed, *facts.parent,
                       facts.parent_shares);
      g.rule = absl::StrCat("parent:", *account, " -> ", g.rule);
    }
  } else {
    g = OwnAccess(object, needed, record, facts.shares);
  }
  if (g.level >= needed) {
    if (const char* r = FailedRestriction(object, record)) {
      g = {Level::kNone, absl::StrCat("restriction-rule:", r)};
    }
  }
  if (g.level < needed) {
    return Decision::Deny(
        g.rule, absl::StrCat("user ", principal_.user_id, " has no ",
                             OperationName(op), " access to ",
                             schema.ResourceName(record.id)));
  }
  return Decision::Allow(std::move(g.rule));
}

Decision Evaluator::CheckRecord(const model::ObjectSchema& schema,
                                Operation op,
                                const model::Record& record) const {
  RecordFacts facts;
  facts.record = &record;
  return CheckRecord(schema, op, facts);
}

bool Evaluator::NeedsParent(const model::ObjectSchema& schema) const {
  if (policy_ == nullptr || !principal_.acting_for_user()) return false;
  int object = ObjectOf(schema);
  return object >= 0 && policy_->objects[object].controlled_by_parent();
}

uint8_t Evaluator::FieldBits(int object, int field) const {
  if (service_ == nullptr) return 0;
  uint8_t bits = service_->permissions->effective[object][field];
  if (!principal_.acting_for_user()) return bits;
  if (user_ == nullptr) return 0;
  return bits & user_->permissions->effective[object][field];
}

bool Evaluator::CanReadField(const model::ObjectSchema& schema,
                             const model::FieldSchema& field) const {
  int object = ObjectOf(schema);
  int index = FieldOf(schema, field);
  if (object < 0 || index < 0 || !Permissions(object).read) return false;
  return FieldBits(object, index) & PermissionBundle::kFieldRead;
}

bool Evaluator::CanWriteField(const model::ObjectSchema& schema,
                              const model::FieldSchema& field) const {
  int object = ObjectOf(schema);
  int index = FieldOf(schema, field);
  return object >= 0 && index >= 0 &&
         (FieldBits(object, index) & PermissionBundle::kFieldEdit);
}

Decision Evaluator::CheckFieldWrite(const model::ObjectSchema& schema,
                                    const model::FieldSchema& field) const {
  const std::string what = absl::StrCat(schema.collection(), ".", field.name);
  if (CanWriteField(schema, field)) {
    return Decision::Allow(absl::StrCat("field-edit:", what));
  }
  return Decision::Deny(
      absl::StrCat(field.sensitive ? "sensitive-field:" : "field-not-writable:",
                   what),
      absl::StrCat("field ", schema.singular(), ".", field.name,
                   " is not writable by ", principal_.ResourceName()));
}

}  // namespace crm::policy
