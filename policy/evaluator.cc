#include "policy/evaluator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "policy/system_permission.h"

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

// Whether `account` ("accounts/{id}") names `parent` (without building the
// name).
bool NamesAccount(const std::string& account, const model::Record* parent) {
  constexpr absl::string_view kPrefix = "accounts/";
  return parent != nullptr && absl::StartsWith(account, kPrefix) &&
         absl::string_view(account).substr(kPrefix.size()) == parent->id;
}

// The record access a service acting as itself has on every record of an
// object, from its object permissions (see policy.proto, Resolutions).
Level ServiceRecordLevel(const ObjectPermissions& scope) {
  if (scope.remove || scope.modify_all) return Level::kFull;
  if (scope.edit) return Level::kReadWrite;
  if (scope.read) return Level::kRead;
  return Level::kNone;
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
  if (service_ != nullptr) purposes_ = service_->purposes;
  if (user_ != nullptr && !user_->purposes.empty()) {
    purposes_.insert(purposes_.end(), user_->purposes.begin(),
                     user_->purposes.end());
    std::sort(purposes_.begin(), purposes_.end());
    purposes_.erase(std::unique(purposes_.begin(), purposes_.end()),
                    purposes_.end());
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
  Decision d = ObjectDecision(schema, op, /*explain=*/true);
  if (shadow_ != nullptr) CompareObject(schema, op, d.allowed);
  return d;
}

bool Evaluator::AllowsObject(const model::ObjectSchema& schema,
                             Operation op) const {
  const bool allowed = ObjectDecision(schema, op, /*explain=*/false).allowed;
  if (shadow_ != nullptr) CompareObject(schema, op, allowed);
  return allowed;
}

// --- Shadow evaluation (policy/shadow.h) ----------------------------------

void Evaluator::AttachShadow(std::shared_ptr<const PolicySnapshot> candidate,
                             ShadowSink* sink) {
  if (candidate == nullptr || sink == nullptr) {
    shadow_.reset();
    shadow_sink_ = nullptr;
    return;
  }
  shadow_ = std::make_shared<const Evaluator>(std::move(candidate), principal_);
  shadow_sink_ = sink;
}

void Evaluator::CompareObject(const model::ObjectSchema& schema, Operation op,
                              bool live) const {
  if (shadow_->ObjectDecision(schema, op, /*explain=*/false).allowed == live) {
    shadow_sink_->Agreed();
    return;
  }
  ShadowDisagreement d;
  d.question = absl::StrCat("object:", OperationName(op));
  d.resource = schema.collection();
  d.live = ObjectDecision(schema, op, /*explain=*/true);
  d.shadow = shadow_->ObjectDecision(schema, op, /*explain=*/true);
  shadow_sink_->Disagreed(std::move(d));
}

void Evaluator::CompareRecord(const model::ObjectSchema& schema, Operation op,
                              const RecordFacts& facts, bool live) const {
  if (shadow_->RecordDecision(schema, op, facts, /*explain=*/false).allowed ==
      live) {
    shadow_sink_->Agreed();
    return;
  }
  ShadowDisagreement d;
  d.question = absl::StrCat("record:", OperationName(op));
  d.resource = facts.record != nullptr ? schema.ResourceName(facts.record->id)
                                       : schema.collection();
  d.live = RecordDecision(schema, op, facts, /*explain=*/true);
  d.shadow = shadow_->RecordDecision(schema, op, facts, /*explain=*/true);
  shadow_sink_->Disagreed(std::move(d));
}

namespace {

// "read: name, phone; edit: name" for a principal's field permissions.
std::string DescribeFields(const model::ObjectSchema& schema,
                           const FieldAccess& access) {
  std::vector<absl::string_view> read, edit;
  const auto& fields = schema.fields();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (access.CanRead(static_cast<int>(i))) read.push_back(fields[i].name);
    if (access.CanWrite(static_cast<int>(i))) edit.push_back(fields[i].name);
  }
  return absl::StrCat("read: ", read.empty() ? "-" : absl::StrJoin(read, ", "),
                      "; edit: ", edit.empty() ? "-" : absl::StrJoin(edit, ", "));
}

}  // namespace

void Evaluator::CompareFields(const model::ObjectSchema& schema,
                              const FieldAccess& live) const {
  const FieldAccess shadow = shadow_->FieldsFor(schema, /*with_read=*/true);
  const int n = static_cast<int>(schema.fields().size());
  bool same = true;
  for (int i = 0; i < n && same; ++i) {
    same = live.CanRead(i) == shadow.CanRead(i) &&
           live.CanWrite(i) == shadow.CanWrite(i);
  }
  if (same) {
    shadow_sink_->Agreed();
    return;
  }
  ShadowDisagreement d;
  d.question = "fields";
  d.resource = schema.collection();
  d.live = Decision::Allow(DescribeFields(schema, live));
  d.shadow = Decision::Allow(DescribeFields(schema, shadow));
  shadow_sink_->Disagreed(std::move(d));
}

void Evaluator::CompareSystem(SystemPermission p, bool live) const {
  if (shadow_->SystemAllowed(p) == live) {
    shadow_sink_->Agreed();
    return;
  }
  ShadowDisagreement d;
  d.question = absl::StrCat("system:", SystemPermissionName(p));
  d.live = SystemDecision(p);
  d.shadow = shadow_->SystemDecision(p);
  shadow_sink_->Disagreed(std::move(d));
}

Decision Evaluator::ObjectDecision(const model::ObjectSchema& schema,
                                   Operation op, bool explain) const {
  if (policy_ == nullptr) {
    return explain ? Decision::Deny("no-policy", "no access policy is loaded")
                   : Decision{};
  }
  const int object = ObjectOf(schema);
  const char* op_name = OperationName(op);
  if (service_ == nullptr || object < 0) {
    if (!explain) return Decision{};
    return Decision::Deny(absl::StrCat("unknown-service:", principal_.service),
                          absl::StrCat("service ", principal_.service,
                                       " is not registered"));
  }
  if (!principal_.acting_for_user()) {
    if (!service_->scope[object].Allows(op)) {
      if (!explain) return Decision{};
      return Decision::Deny(
          absl::StrCat("no-grant:", schema.collection(), ":", op_name),
          absl::StrCat("service ", principal_.service,
                       " has no permission to ", op_name, " ",
                       schema.collection()));
    }
    if (!explain) return Decision{true};
    return Decision::Allow(absl::StrCat("service-grant:", principal_.service,
                                        ":", schema.collection(), ":",
                                        op_name));
  }
  if (user_ == nullptr || !user_->active) {
    if (!explain) return Decision{};
    return Decision::Deny(
        absl::StrCat(user_ == nullptr ? "unknown-user:" : "inactive-user:",
                     principal_.user_id),
        absl::StrCat("user ", principal_.user_id,
                     user_ == nullptr ? " is unknown" : " is not active"));
  }
  if (!user_->permissions->objects[object].Allows(op)) {
    if (!explain) return Decision{};
    return Decision::Deny(
        absl::StrCat("no-grant:", schema.collection(), ":", op_name),
        absl::StrCat("user ", principal_.user_id, " has no permission to ",
                     op_name, " ", schema.collection()));
  }
  if (!service_->scope[object].Allows(op)) {
    if (!explain) return Decision{};
    return Decision::Deny(
        absl::StrCat("service-scope:", principal_.service, ":",
                     schema.collection(), ":", op_name),
        absl::StrCat("service ", principal_.service, " may not ", op_name,
                     " ", schema.collection(), " (acting for user ",
                     principal_.user_id, ")"));
  }
  if (!explain) return Decision{true};
  return Decision::Allow(
      absl::StrCat("object-permission:", schema.collection(), ":", op_name));
}

bool Evaluator::ViewAll(int object, Level needed, bool explain,
                        std::string* rule, RecordTrace* trace) const {
  const PermissionBundle& b = *user_->permissions;
  const ObjectPermissions& p = b.objects[object];
  if (trace != nullptr) {
    const std::string& collection =
        policy_->objects[object].schema->collection();
    auto add = [&](TracedGrant::Kind kind, Level level, std::string name) {
      TracedGrant g;
      g.kind = kind;
      g.level = level;
      g.rule = std::move(name);
      g.parent = trace->parent;
      trace->grants.push_back(std::move(g));
    };
    using K = TracedGrant::Kind;
    if (p.modify_all) {
      add(K::kModifyAll, Level::kFull, absl::StrCat("modify-all:", collection));
    }
    if (b.HasSystem(crm::v1::MODIFY_ALL_DATA)) {
      add(K::kModifyAllData, Level::kFull, "system:MODIFY_ALL_DATA");
    }
    if (p.view_all && !p.modify_all) {
      add(K::kViewAll, Level::kRead, absl::StrCat("view-all:", collection));
    }
    if (b.HasSystem(crm::v1::VIEW_ALL_DATA) &&
        !b.HasSystem(crm::v1::MODIFY_ALL_DATA)) {
      add(K::kViewAllData, Level::kRead, "system:VIEW_ALL_DATA");
    }
  }
  const char* kind = nullptr;  // "modify-all" / "view-all" on the object
  const char* system = nullptr;
  if (p.modify_all) {
    kind = "modify-all:";
  } else if (b.HasSystem(crm::v1::MODIFY_ALL_DATA)) {
    system = "system:MODIFY_ALL_DATA";
  } else if (needed <= Level::kRead && p.view_all) {
    kind = "view-all:";
  } else if (needed <= Level::kRead && b.HasSystem(crm::v1::VIEW_ALL_DATA)) {
    system = "system:VIEW_ALL_DATA";
  } else {
    return false;
  }
  if (explain) {
    *rule = system != nullptr
                ? std::string(system)
                : absl::StrCat(kind,
                               policy_->objects[object].schema->collection());
  }
  return true;
}

Evaluator::Grant Evaluator::OwnAccess(int object, Level needed,
                                      const model::Record& record,
                                      const std::vector<ShareFact>& shares,
                                      bool explain, RecordTrace* trace) const {
  using K = TracedGrant::Kind;
  const ObjectPolicy& obj = policy_->objects[object];
  const bool by_parent = obj.controlled_by_parent();  // the no-account case
  int owner = -1;
  if (const std::string* o = StringValue(record, obj.owner_field)) {
    auto it = policy_->owner_index.find(*o);
    if (it != policy_->owner_index.end()) owner = it->second;
  }
  Grant g;
  // Takes a grant found at `level`: the first sufficient one decides. True
  // when the caller may stop looking (never while tracing: every grant is
  // recorded). `rule` builds the grant's name.
  auto take = [&](K kind, Level level, auto&& rule, int index,
                  const std::string* grantee) {
    const bool first = level >= needed && g.level == Level::kNone;
    if (first) {
      g.level = level;
      if (explain) g.rule = rule();
    }
    if (trace == nullptr) return first;
    TracedGrant t;
    t.kind = kind;
    t.level = level;
    t.rule = rule();
    t.index = index;
    if (grantee != nullptr) t.grantee = *grantee;
    t.parent = trace->parent;
    trace->grants.push_back(std::move(t));
    return false;
  };
  if (owner >= 0 && owner == user_index_) {
    if (take(K::kOwner, Level::kFull, [] { return std::string("owner"); },
             owner, nullptr)) {
      return g;
    }
  }
  if ((obj.hierarchy || by_parent) && owner >= 0 &&
      policy_->RoleAbove(user_->role, policy_->users[owner].role)) {
    if (take(K::kHierarchy, Level::kFull,
             [&] {
               return absl::StrCat(
                   "hierarchy:via ",
                   policy_->roles[policy_->users[owner].role].name);
             },
             owner, nullptr)) {
      return g;
    }
  }
  const Level public_level = obj.public_level();
  if (!by_parent && public_level > Level::kNone &&
      (trace != nullptr || public_level >= needed)) {
    if (take(K::kOrgDefault, public_level,
             [&] {
               return absl::StrCat(
                   "org-default:",
                   crm::v1::OrgWideDefault::Access_Name(obj.access));
             },
             -1, nullptr)) {
      return g;
    }
  }
  if (!by_parent) {
    for (int r : user_->sharing_rules[object]) {
      const CompiledSharingRule& rule = policy_->sharing_rules[r];
      if (trace == nullptr && rule.level < needed) continue;
      bool applies = rule.criteria_based
                         ? query::Matches(rule.criteria, record)
                         : owner >= 0 && policy_->Contains(rule.owned_by, owner);
      if (applies &&
          take(K::kSharingRule, rule.level,
               [&] { return absl::StrCat("sharing-rule:", rule.name); }, r,
               nullptr)) {
        return g;
      }
    }
  }
  for (const ShareFact& share : shares) {
    Level level = ShareLevel(share.level);
    if (level == Level::kNone || (trace == nullptr && level < needed)) continue;
    auto it = policy_->grantees.find(share.grantee);
    if (it != policy_->grantees.end() &&
        policy_->Contains(it->second, user_index_) &&
        take(K::kShare, level,
             [&] { return absl::StrCat("share:", share.grantee); }, -1,
             &share.grantee)) {
      return g;
    }
  }
  if (g.level == Level::kNone && explain) g.rule = "no-access";
  return g;
}

const char* Evaluator::FailedRestriction(int object,
                                         const model::Record& record,
                                         RecordTrace* trace) const {
  const char* failed = nullptr;
  for (int r : user_->restrictions[object]) {
    const CompiledRestriction& rule = policy_->restrictions[r];
    const bool passed = query::Matches(rule.criteria, record);
    if (trace != nullptr) {
      trace->restrictions.push_back({rule.name, passed, trace->parent});
    }
    if (!passed && failed == nullptr) {
      failed = rule.name.c_str();
      if (trace == nullptr) return failed;
    }
  }
  return failed;
}

Evaluator::Grant Evaluator::RecordAccess(int object, Level needed,
                                         const model::Record& record,
                                         const std::vector<ShareFact>& shares,
                                         bool explain,
                                         RecordTrace* trace) const {
  // Only the no-account case reaches here for objects controlled by parent.
  Grant g;
  if (ViewAll(object, needed, explain, &g.rule, trace)) {
    g.level = Level::kFull;
    if (trace != nullptr) {  // decided; record the other grants too
      OwnAccess(object, needed, record, shares, false, trace);
      FailedRestriction(object, record, trace);
    }
    return g;
  }
  g = OwnAccess(object, needed, record, shares, explain, trace);
  if (g.level < needed) {
    if (trace != nullptr) FailedRestriction(object, record, trace);
    return g;
  }
  if (const char* r = FailedRestriction(object, record, trace)) {
    g.level = Level::kNone;
    if (explain) g.rule = absl::StrCat("restriction-rule:", r);
  }
  return g;
}

Decision Evaluator::CheckRecord(const model::ObjectSchema& schema,
                                Operation op, const RecordFacts& facts) const {
  Decision d = RecordDecision(schema, op, facts, /*explain=*/true);
  if (shadow_ != nullptr) CompareRecord(schema, op, facts, d.allowed);
  return d;
}

bool Evaluator::AllowsRecord(const model::ObjectSchema& schema, Operation op,
                             const RecordFacts& facts) const {
  const bool allowed =
      RecordDecision(schema, op, facts, /*explain=*/false).allowed;
  if (shadow_ != nullptr) CompareRecord(schema, op, facts, allowed);
  return allowed;
}

Decision Evaluator::ServiceRecordDecision(const model::ObjectSchema& schema,
                                          int object, Operation op,
                                          bool explain) const {
  const Level level = ServiceRecordLevel(service_->scope[object]);
  const Level needed = RequiredLevel(op);
  if (level >= needed) {
    return ObjectDecision(schema, op, explain);
  }
  if (!explain) return Decision{};
  return Decision::Deny(
      absl::StrCat("service-access:", LevelName(level)),
      absl::StrCat("service ", principal_.service, " has ", LevelName(level),
                   " access to ", schema.collection(), " records; ",
                   OperationName(op), " needs ", LevelName(needed),
                   " (the delete or modify_all permission on ",
                   schema.collection(), ")"));
}

Decision Evaluator::TraceRecord(const model::ObjectSchema& schema,
                                Operation op, const RecordFacts& facts,
                                RecordTrace* trace) const {
  return RecordDecision(schema, op, facts, /*explain=*/true, trace);
}

Decision Evaluator::RecordDecision(const model::ObjectSchema& schema,
                                   Operation op, const RecordFacts& facts,
                                   bool explain, RecordTrace* trace) const {
  Decision d = AccessDecision(schema, op, facts, explain, trace);
  if (!d.allowed || op == Operation::kCreate || !ConsentApplies(schema)) {
    return d;
  }
  // Consent narrows whatever granted access (view-all included), as a
  // restriction rule does: every purpose needs an opt-in on some channel.
  for (const std::string& purpose : purposes_) {
    bool opted_in = false;
    for (const ConsentFact& c : facts.consents) {
      if (c.opted_in && c.purpose == purpose) {
        opted_in = true;
        break;
      }
    }
    if (opted_in) continue;
    if (!explain) return Decision{};
    return Decision::Deny(
        absl::StrCat("consent:", purpose),
        absl::StrCat(schema.ResourceName(facts.record->id),
                     " has not opted in to purpose '", purpose,
                     "' on any channel, and ", principal_.ResourceName(),
                     " is marked with that purpose"));
  }
  return d;
}

bool Evaluator::NeedsConsent(const model::ObjectSchema& schema) const {
  return ConsentApplies(schema) ||
         (shadow_ != nullptr && shadow_->NeedsConsent(schema));
}

std::vector<std::string> Evaluator::MaskedChannels(
    const model::ObjectSchema& schema,
    const std::vector<ConsentFact>& consents) const {
  std::vector<std::string> out;
  if (!ConsentApplies(schema)) return out;
  for (const ConsentFact& c : consents) {
    if (!c.opted_out) continue;
    if (!std::binary_search(purposes_.begin(), purposes_.end(), c.purpose)) {
      continue;
    }
    if (std::find(out.begin(), out.end(), c.channel) == out.end()) {
      out.push_back(c.channel);
    }
  }
  return out;
}

Decision Evaluator::CheckConsentSource(
    const model::ObjectSchema& schema) const {
  const int object = ObjectOf(schema);
  if (service_ != nullptr && object >= 0 &&
      !service_->consent_source_of.empty() &&
      service_->consent_source_of[object] >= 0) {
    return Decision::Allow(absl::StrCat(
        "source:",
        policy_->data_sources[service_->consent_source_of[object]].name));
  }
  return Decision::Deny(
      absl::StrCat("no-consent-source:services/", principal_.service, ":",
                   schema.collection()),
      absl::StrCat("services/", principal_.service,
                   " has no data source that may record consent of ",
                   schema.collection(),
                   " (a dataSources/ entry with writes { object: \"",
                   schema.collection(), "\" consent: true })"));
}

Decision Evaluator::AccessDecision(const model::ObjectSchema& schema,
                                   Operation op, const RecordFacts& facts,
                                   bool explain, RecordTrace* trace) const {
  const int object = ObjectOf(schema);
  // Create is decided by the object permission.
  if (object < 0 || op == Operation::kCreate ||
      !Permissions(object).Allows(op)) {
    return ObjectDecision(schema, op, explain);
  }
  // A service acting as itself is an integration user: it reaches every
  // record, with the access its object permissions give.
  if (!principal_.acting_for_user()) {
    if (trace != nullptr) {
      TracedGrant t;
      t.kind = TracedGrant::Kind::kServiceScope;
      t.level = ServiceRecordLevel(service_->scope[object]);
      t.rule = absl::StrCat("service-scope:", principal_.service);
      trace->grants.push_back(std::move(t));
    }
    return ServiceRecordDecision(schema, object, op, explain);
  }
  const ObjectPolicy& obj = policy_->objects[object];
  const Level needed = RequiredLevel(op);
  const model::Record& record = *facts.record;
  Grant view;
  const bool view_all = ViewAll(object, needed, explain, &view.rule, trace);
  if (view_all && trace == nullptr) {
    return explain ? Decision::Allow(std::move(view.rule)) : Decision{true};
  }
  // Tracing goes on past view-all to record the other grants.
  Grant g;
  const std::string* account = StringValue(record, obj.account_field);
  if (obj.controlled_by_parent() && account != nullptr && !account->empty()) {
    if (!NamesAccount(*account, facts.parent)) {
      if (explain) g.rule = absl::StrCat("parent-missing:", *account);
      if (trace != nullptr) trace->parent_missing = *account;
    } else {
      if (trace != nullptr) trace->parent = *account;
      g = RecordAccess(policy_->accounts, needed, *facts.parent,
                       facts.parent_shares, explain, trace);
      if (trace != nullptr) trace->parent.clear();
      if (explain) g.rule = absl::StrCat("parent:", *account, " -> ", g.rule);
    }
  } else {
    g = OwnAccess(object, needed, record, facts.shares, explain, trace);
  }
  if (g.level >= needed || trace != nullptr) {
    const char* r = FailedRestriction(object, record, trace);
    if (r != nullptr && g.level >= needed) {
      g.level = Level::kNone;
      if (explain) g.rule = absl::StrCat("restriction-rule:", r);
    }
  }
  if (view_all) return Decision::Allow(std::move(view.rule));  // tracing
  if (g.level < needed) {
    if (!explain) return Decision{};
    return Decision::Deny(
        std::move(g.rule),
        absl::StrCat("user ", principal_.user_id, " has no ",
                     OperationName(op), " access to ",
                     schema.ResourceName(record.id)));
  }
  return explain ? Decision::Allow(std::move(g.rule)) : Decision{true};
}

Decision Evaluator::CheckRecord(const model::ObjectSchema& schema,
                                Operation op,
                                const model::Record& record) const {
  RecordFacts facts;
  facts.record = &record;
  return CheckRecord(schema, op, facts);
}

bool Evaluator::NeedsParent(const model::ObjectSchema& schema) const {
  // A shadow decides from the same facts: load what either needs.
  if (shadow_ != nullptr && shadow_->NeedsParent(schema)) return true;
  if (policy_ == nullptr || !principal_.acting_for_user()) return false;
  int object = ObjectOf(schema);
  return object >= 0 && policy_->objects[object].controlled_by_parent();
}

int FieldAccess::IndexOf(const model::FieldSchema& field) const {
  if (schema_ == nullptr) return -1;
  return FieldOf(*schema_, field);
}

FieldAccess Evaluator::Fields(const model::ObjectSchema& schema) const {
  FieldAccess access = FieldsFor(schema, /*with_read=*/true);
  if (shadow_ != nullptr) CompareFields(schema, access);
  return access;
}

FieldAccess Evaluator::FieldsFor(const model::ObjectSchema& schema,
                                 bool with_read) const {
  FieldAccess access;
  const int object = ObjectOf(schema);
  if (object < 0 || service_ == nullptr) return access;
  const std::vector<uint8_t>& service_bits =
      service_->permissions->effective[object];
  access.schema_ = &schema;
  access.service_ = service_bits.data();
  access.size_ = static_cast<int>(service_bits.size());
  if (principal_.acting_for_user()) {
    if (user_ == nullptr) return FieldAccess();
    const std::vector<uint8_t>& user_bits =
        user_->permissions->effective[object];
    access.user_ = user_bits.data();
    access.size_ = std::min(access.size_, static_cast<int>(user_bits.size()));
  }
  access.object_read_ = with_read && Permissions(object).read;
  return access;
}

bool Evaluator::CanReadField(const model::ObjectSchema& schema,
                             const model::FieldSchema& field) const {
  return Fields(schema).CanRead(field);
}

bool Evaluator::CanWriteField(const model::ObjectSchema& schema,
                              const model::FieldSchema& field) const {
  const bool allowed = FieldsFor(schema, /*with_read=*/false).CanWrite(field);
  if (shadow_ != nullptr) {
    const bool other =
        shadow_->FieldsFor(schema, /*with_read=*/false).CanWrite(field);
    if (other == allowed) {
      shadow_sink_->Agreed();
    } else {
      ShadowDisagreement d;
      d.question = absl::StrCat("field-edit:", field.name);
      d.resource = schema.collection();
      d.live = FieldWriteDecision(schema, field, allowed);
      d.shadow = shadow_->FieldWriteDecision(schema, field, other);
      shadow_sink_->Disagreed(std::move(d));
    }
  }
  return allowed;
}

Decision Evaluator::CheckFieldWrite(const model::ObjectSchema& schema,
                                    const model::FieldSchema& field) const {
  return FieldWriteDecision(schema, field, CanWriteField(schema, field));
}

Decision Evaluator::FieldWriteDecision(const model::ObjectSchema& schema,
                                       const model::FieldSchema& field,
                                       bool allowed) const {
  const std::string what = absl::StrCat(schema.collection(), ".", field.name);
  if (allowed) {
    return Decision::Allow(absl::StrCat("field-edit:", what));
  }
  return Decision::Deny(
      absl::StrCat(field.sensitive ? "sensitive-field:" : "field-not-writable:",
                   what),
      absl::StrCat("field ", schema.singular(), ".", field.name,
                   " is not writable by ", principal_.ResourceName()));
}

int Evaluator::SourceIndex(const model::ObjectSchema& schema,
                           const model::FieldSchema& field) const {
  if (policy_ == nullptr || service_ == nullptr) return kNoSource;
  if (policy_->data_sources.empty()) return kUnenforced;
  if (service_->source_of.empty()) {
    return principal_.acting_for_user() ? kImplicitInteractions : kNoSource;
  }
  const int object = ObjectOf(schema);
  if (object < 0) return kNoSource;
  const std::vector<int>& fields = service_->source_of[object];
  const int f = FieldOf(schema, field);
  if (f < 0 || static_cast<size_t>(f) >= fields.size()) return kNoSource;
  return fields[f];
}

bool Evaluator::AllowsSourceWrite(const model::ObjectSchema& schema,
                                  const model::FieldSchema& field) const {
  const int source = SourceIndex(schema, field);
  const bool allowed = source != kNoSource;
  if (shadow_ != nullptr) {
    const int other = shadow_->SourceIndex(schema, field);
    if ((other != kNoSource) == allowed) {
      shadow_sink_->Agreed();
    } else {
      ShadowDisagreement d;
      d.question = absl::StrCat("source-write:", field.name);
      d.resource = schema.collection();
      d.live = SourceDecision(schema, field, source);
      d.shadow = shadow_->SourceDecision(schema, field, other);
      shadow_sink_->Disagreed(std::move(d));
    }
  }
  return allowed;
}

Decision Evaluator::CheckSourceWrite(const model::ObjectSchema& schema,
                                     const model::FieldSchema& field) const {
  AllowsSourceWrite(schema, field);  // compares with the shadow, if any
  return SourceDecision(schema, field, SourceIndex(schema, field));
}

std::string Evaluator::SourceOf(const model::ObjectSchema& schema,
                                const model::FieldSchema& field) const {
  const int source = SourceIndex(schema, field);
  switch (source) {
    case kNoSource:
      return "";
    case kUnenforced:
      return "unregistered";
    case kImplicitInteractions:
      return "interactions";
    default:
      return policy_->data_sources[source].name;
  }
}

Decision Evaluator::SourceDecision(const model::ObjectSchema& schema,
                                   const model::FieldSchema& field,
                                   int source) const {
  const std::string service = absl::StrCat("services/", principal_.service);
  switch (source) {
    case kUnenforced:
      return Decision::Allow("source:unregistered",
                             "the policy registers no data source");
    case kImplicitInteractions:
      return Decision::Allow(
          absl::StrCat("source:interactions:", service),
          absl::StrCat(principal_.ResourceName(), " writes through ", service,
                       ", which has no data source of its own: the implicit "
                       "source \"interactions\" of that service"));
    case kNoSource:
      break;
    default:
      return Decision::Allow(
          absl::StrCat("source:", policy_->data_sources[source].name));
  }
  const std::string what = absl::StrCat(schema.collection(), ".", field.name);
  std::string why;
  if (policy_ == nullptr) {
    why = "no access policy is loaded";
  } else if (service_ == nullptr) {
    why = absl::StrCat(service, " is not a registered service");
  } else if (service_->source_of.empty()) {
    why = absl::StrCat(service, " is not registered as a data source");
  } else {
    why = absl::StrCat("no data source of ", service, " lists ", what);
  }
  return Decision::Deny(
      absl::StrCat("no-source:", service, ":", what),
      absl::StrCat(
          "source rule: ", service, " may not write ", what, ": ", why,
          " (the policy registers data sources, so every write needs one); "
          "register it in a dataSources/ policy object with service: \"",
          service, "\" listing ", schema.collection(), " and ", field.name));
}

uint32_t Evaluator::SystemMask() const {
  if (service_ == nullptr) return 0;
  if (!principal_.acting_for_user()) return service_->system;
  if (user_ == nullptr || !user_->active) return 0;
  return user_->permissions->system & service_->system;
}

bool Evaluator::AllowsSystem(SystemPermission p) const {
  const bool allowed = SystemAllowed(p);
  if (shadow_ != nullptr) CompareSystem(p, allowed);
  return allowed;
}

bool Evaluator::SystemAllowed(SystemPermission p) const {
  const uint32_t bit = SystemBit(p);
  return bit != 0 && (SystemMask() & bit) != 0;
}

std::vector<SystemPermission> Evaluator::SystemPermissions() const {
  std::vector<SystemPermission> out;
  const uint32_t mask = SystemMask();
  for (SystemPermission p : AllSystemPermissions()) {
    if ((mask & SystemBit(p)) != 0) out.push_back(p);
  }
  return out;
}

std::string Evaluator::ServiceSystemGrant(uint32_t bit) const {
  if ((service_->config_system & bit) != 0) {
    return absl::StrCat("config:", service_->resource_name);
  }
  for (int set : service_->sets) {
    const CompiledPermissionSet& s = policy_->permission_sets[set];
    if ((s.system & bit) != 0) return absl::StrCat("permission-set:", s.name);
  }
  return "";
}

std::string Evaluator::UserSystemGrant(uint32_t bit) const {
  if ((user_->profile_system & bit) != 0) {
    return absl::StrCat("profile:", user_->profile);
  }
  for (int set : user_->sets) {
    const CompiledPermissionSet& s = policy_->permission_sets[set];
    if ((s.system & bit) != 0) return absl::StrCat("permission-set:", s.name);
  }
  return "";
}

std::string Evaluator::UserSystemGrantOf(SystemPermission p) const {
  if (policy_ == nullptr || user_ == nullptr || !user_->active) return "";
  const uint32_t bit = SystemBit(p);
  return bit == 0 ? "" : UserSystemGrant(bit);
}

std::string Evaluator::ServiceSystemGrantOf(SystemPermission p) const {
  if (policy_ == nullptr || service_ == nullptr) return "";
  const uint32_t bit = SystemBit(p);
  return bit == 0 ? "" : ServiceSystemGrant(bit);
}

Decision Evaluator::CheckSystem(SystemPermission p) const {
  Decision d = SystemDecision(p);
  if (shadow_ != nullptr) CompareSystem(p, d.allowed);
  return d;
}

Decision Evaluator::SystemDecision(SystemPermission p) const {
  const std::string name = SystemPermissionName(p);
  const uint32_t bit = SystemBit(p);
  if (policy_ == nullptr) {
    return Decision::Deny("no-policy", "no access policy is loaded");
  }
  if (service_ == nullptr) {
    return Decision::Deny(absl::StrCat("unknown-service:", principal_.service),
                          absl::StrCat("service ", principal_.service,
                                       " is not registered"));
  }
  if (name.empty()) {
    return Decision::Deny(
        absl::StrCat("unknown-system-permission:", static_cast<int>(p)),
        absl::StrCat("system permission ", static_cast<int>(p),
                     " is not known to this server"));
  }
  const std::string service_grant = ServiceSystemGrant(bit);
  if (!principal_.acting_for_user()) {
    if (service_grant.empty()) {
      return Decision::Deny(
          absl::StrCat("no-system:", name),
          absl::StrCat(service_->resource_name, " does not hold ", name,
                       " (ServiceConfig.system_permissions or a permission "
                       "set assigned to the service)"));
    }
    return Decision::Allow(
        absl::StrCat("system:", service_grant),
        absl::StrCat(service_->resource_name, " holds ", name, " through ",
                     service_grant));
  }
  if (user_ == nullptr || !user_->active) {
    return Decision::Deny(
        absl::StrCat(user_ == nullptr ? "unknown-user:" : "inactive-user:",
                     principal_.user_id),
        absl::StrCat("user ", principal_.user_id,
                     user_ == nullptr ? " is unknown" : " is not active",
                     " and holds no system permission"));
  }
  const std::string user_grant = UserSystemGrant(bit);
  if (user_grant.empty()) {
    return Decision::Deny(
        absl::StrCat("no-system:", name),
        absl::StrCat(user_->resource_name, " does not hold ", name,
                     " (a user needs it through their profile or a "
                     "permission set)"));
  }
  if (service_grant.empty()) {
    return Decision::Deny(
        absl::StrCat("service-scope:", principal_.service, ":", name),
        absl::StrCat(user_->resource_name, " holds ", name, " through ",
                     user_grant, ", but ", service_->resource_name,
                     " does not (a user acting through a service needs the "
                     "service to hold it as well)"));
  }
  return Decision::Allow(
      absl::StrCat("system:", user_grant),
      absl::StrCat(user_->resource_name, " holds ", name, " through ",
                   user_grant, "; ", service_->resource_name, " through ",
                   service_grant));
}

}  // namespace crm::policy
