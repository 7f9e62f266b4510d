#include "policy/explain.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/system_permission.h"

namespace crm::policy {
namespace {

using crm::v1::AccessExplanation;
using crm::v1::AccessLayer;
using crm::v1::PermissionSource;
using google::protobuf::RepeatedPtrField;

const CompiledPolicy* PolicyOf(const Evaluator& eval) {
  return eval.snapshot() == nullptr ? nullptr : &eval.snapshot()->compiled();
}

const CompiledUser* UserOf(const Evaluator& eval) {
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr || !eval.principal().acting_for_user()) return nullptr;
  auto it = p->user_index.find(eval.principal().user_id);
  return it == p->user_index.end() ? nullptr : &p->users[it->second];
}

int UserIndexOf(const Evaluator& eval) {
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr) return -1;
  auto it = p->user_index.find(eval.principal().user_id);
  return it == p->user_index.end() ? -1 : it->second;
}

const CompiledService* ServiceOf(const Evaluator& eval) {
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr) return nullptr;
  auto it = p->services.find(eval.principal().service);
  return it == p->services.end() ? nullptr : &it->second;
}

// To whom of the user's own name and profile the set is assigned.
std::string AssignedTo(const CompiledPermissionSet& set,
                       const CompiledUser& user) {
  for (const std::string& a : set.assignees) {
    if (a == user.resource_name) return a;
  }
  return user.profile;
}

void AddString(RepeatedPtrField<std::string>* out, std::string value) {
  *out->Add() = std::move(value);
}

void AddSource(RepeatedPtrField<PermissionSource>* out, std::string grant,
               std::string assigned_to) {
  PermissionSource* s = out->Add();
  s->set_grant(std::move(grant));
  s->set_assigned_to(std::move(assigned_to));
}

using ObjectPredicate = std::function<bool(const ObjectPermissions&)>;

// The user's permission sets whose grant on `object` satisfies `pred`.
void UserObjectSources(const CompiledPolicy& p, const CompiledUser* user,
                       int object, const ObjectPredicate& pred,
                       RepeatedPtrField<PermissionSource>* out) {
  if (user == nullptr || object < 0) return;
  for (int s : user->sets) {
    const CompiledPermissionSet& set = p.permission_sets[s];
    if (pred(set.objects[object])) AddSource(out, set.name, AssignedTo(set, *user));
  }
}

// The service's configured grants and permission sets satisfying `pred`.
void ServiceObjectSources(const CompiledPolicy& p,
                          const CompiledService* service, int object,
                          const ObjectPredicate& pred,
                          RepeatedPtrField<PermissionSource>* out) {
  if (service == nullptr || object < 0) return;
  if (pred(service->config_scope[object])) {
    AddSource(out, service->resource_name, service->resource_name);
  }
  for (int s : service->sets) {
    const CompiledPermissionSet& set = p.permission_sets[s];
    if (pred(set.objects[object])) {
      AddSource(out, set.name, service->resource_name);
    }
  }
}

// Field grants of `sets` (read, or edit with `edit`) on object/field; a
// bundle that mentions the field nowhere grants a non-sensitive one by
// default (policy.proto).
void FieldSources(const CompiledPolicy& p, const std::vector<int>& sets,
                  const PermissionBundle* bundle, int object, int field,
                  bool sensitive, bool edit,
                  const std::function<std::string(const CompiledPermissionSet&)>&
                      assigned_to,
                  RepeatedPtrField<PermissionSource>* out) {
  for (int s : sets) {
    const CompiledPermissionSet& set = p.permission_sets[s];
    const auto& fields = set.fields[object];
    if (field >= static_cast<int>(fields.size())) continue;
    if (edit ? fields[field].edit : fields[field].read) {
      AddSource(out, set.name, assigned_to(set));
    }
  }
  if (bundle != nullptr && !sensitive &&
      !bundle->fields[object][field].mentioned) {
    AddSource(out, "default", "");
  }
}

void AppendFields(const Evaluator& eval, const model::ObjectSchema& schema,
                  RepeatedPtrField<crm::v1::FieldAccessExplanation>* out) {
  const CompiledPolicy* p = PolicyOf(eval);
  const int object = p == nullptr ? -1 : p->ObjectOf(schema);
  if (object < 0) return;
  const CompiledUser* user = UserOf(eval);
  const CompiledService* service = ServiceOf(eval);
  const FieldAccess access = eval.Fields(schema);
  const auto& fields = schema.fields();
  for (int f = 0; f < static_cast<int>(fields.size()); ++f) {
    crm::v1::FieldAccessExplanation* e = out->Add();
    e->set_object(schema.collection());
    e->set_field(fields[f].name);
    e->set_readable(access.CanRead(f));
    e->set_writable(access.CanWrite(f));
    e->set_sensitive(fields[f].sensitive);
    for (bool edit : {false, true}) {
      if (user != nullptr) {
        FieldSources(*p, user->sets, user->permissions, object, f,
                     fields[f].sensitive, edit,
                     [&](const CompiledPermissionSet& s) {
                       return AssignedTo(s, *user);
                     },
                     edit ? e->mutable_user_edit_sources()
                          : e->mutable_user_read_sources());
      }
      if (service != nullptr) {
        FieldSources(*p, service->sets, service->permissions, object, f,
                     fields[f].sensitive, edit,
                     [&](const CompiledPermissionSet&) {
                       return service->resource_name;
                     },
                     edit ? e->mutable_service_edit_sources()
                          : e->mutable_service_read_sources());
      }
    }
  }
}

// The grantee `g`, then how `user` is in it, down to the user.
void MembershipPath(const CompiledPolicy& p, const GranteeRef& g, int user,
                    RepeatedPtrField<std::string>* out) {
  AddString(out, p.GranteeName(g));
  switch (g.kind) {
    case GranteeRef::Kind::kUser:
      return;
    case GranteeRef::Kind::kRole:
      break;
    case GranteeRef::Kind::kRoleAndSubordinates: {
      std::vector<std::string> chain;
      for (int r = p.users[user].role; r >= 0; r = p.roles[r].parent) {
        chain.push_back(p.roles[r].name);
        if (r == g.index) break;
      }
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) AddString(out, *it);
      break;
    }
    case GranteeRef::Kind::kGroup:
      for (const GranteeRef& m : p.groups[g.index].direct) {
        if (p.Contains(m, user)) {
          MembershipPath(p, m, user, out);
          return;
        }
      }
      return;
  }
  AddString(out, std::string(p.users[user].resource_name));
}

const char* KindName(TracedGrant::Kind kind) {
  switch (kind) {
    case TracedGrant::Kind::kOwner:
      return "owner";
    case TracedGrant::Kind::kHierarchy:
      return "hierarchy";
    case TracedGrant::Kind::kOrgDefault:
      return "org-default";
    case TracedGrant::Kind::kSharingRule:
      return "sharing-rule";
    case TracedGrant::Kind::kShare:
      return "manual-share";
    case TracedGrant::Kind::kViewAll:
      return "view-all";
    case TracedGrant::Kind::kModifyAll:
      return "modify-all";
    case TracedGrant::Kind::kViewAllData:
      return "view-all-data";
    case TracedGrant::Kind::kModifyAllData:
      return "modify-all-data";
    case TracedGrant::Kind::kServiceScope:
      return "service-scope";
  }
  return "unknown";
}

// "ACTION_READ" etc. -> the layer of a refused object decision.
AccessLayer ObjectLayer(const Decision& d) {
  for (const char* prefix :
       {"no-policy", "unknown-service:", "unknown-user:", "inactive-user:"}) {
    if (absl::StartsWith(d.rule, prefix)) return crm::v1::LAYER_PRINCIPAL;
  }
  return crm::v1::LAYER_OBJECT_PERMISSION;
}

ObjectPredicate NeedsFor(Operation op) {
  return [op](const ObjectPermissions& p) { return p.Allows(op); };
}

}  // namespace

bool OperationOf(crm::v1::AccessAction action, Operation* op) {
  switch (action) {
    case crm::v1::ACTION_READ:
      *op = Operation::kRead;
      return true;
    case crm::v1::ACTION_CREATE:
      *op = Operation::kCreate;
      return true;
    case crm::v1::ACTION_EDIT:
      *op = Operation::kEdit;
      return true;
    case crm::v1::ACTION_DELETE:
      *op = Operation::kDelete;
      return true;
    case crm::v1::ACTION_SHARE:
      *op = Operation::kShare;
      return true;
    case crm::v1::ACTION_TRANSFER:
      *op = Operation::kTransfer;
      return true;
    default:
      return false;
  }
}

void AppendPaths(const Evaluator& eval, const model::ObjectSchema& schema,
                 const RecordTrace& trace, Level needed,
                 RepeatedPtrField<crm::v1::RecordAccessPath>* out) {
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr) return;
  const CompiledUser* user = UserOf(eval);
  const int user_index = UserIndexOf(eval);
  const CompiledService* service = ServiceOf(eval);
  for (const TracedGrant& g : trace.grants) {
    crm::v1::RecordAccessPath* path = out->Add();
    path->set_kind(KindName(g.kind));
    path->set_level(LevelName(g.level));
    path->set_sufficient(g.level >= needed);
    path->set_rule(g.rule);
    path->set_parent(g.parent);
    const int object = g.parent.empty() ? p->ObjectOf(schema) : p->accounts;
    auto* via = path->mutable_via();
    switch (g.kind) {
      case TracedGrant::Kind::kOwner:
        AddString(via, std::string(eval.principal().ResourceName()));
        break;
      case TracedGrant::Kind::kHierarchy: {
        AddString(via, std::string(p->users[g.index].resource_name));
        for (int r = p->users[g.index].role; r >= 0; r = p->roles[r].parent) {
          AddString(via, std::string(p->roles[r].name));
          if (user != nullptr && r == user->role) break;
        }
        break;
      }
      case TracedGrant::Kind::kOrgDefault:
        AddString(via, absl::StrCat("orgWideDefaults/",
                              p->objects[object].schema->collection()));
        break;
      case TracedGrant::Kind::kSharingRule:
        if (user_index >= 0) {
          MembershipPath(*p, p->sharing_rules[g.index].shared_with, user_index,
                         via);
        }
        break;
      case TracedGrant::Kind::kShare: {
        auto it = p->grantees.find(g.grantee);
        if (it != p->grantees.end() && user_index >= 0) {
          MembershipPath(*p, it->second, user_index, via);
        }
        break;
      }
      case TracedGrant::Kind::kViewAll:
      case TracedGrant::Kind::kModifyAll: {
        RepeatedPtrField<PermissionSource> sources;
        const bool modify = g.kind == TracedGrant::Kind::kModifyAll;
        UserObjectSources(*p, user, object,
                          [modify](const ObjectPermissions& o) {
                            return modify ? o.modify_all : o.view_all;
                          },
                          &sources);
        for (const auto& s : sources) {
          AddString(via, absl::StrCat(s.grant(), " (", s.assigned_to(), ")"));
        }
        break;
      }
      case TracedGrant::Kind::kViewAllData:
      case TracedGrant::Kind::kModifyAllData: {
        std::string grant = eval.UserSystemGrantOf(
            g.kind == TracedGrant::Kind::kViewAllData ? crm::v1::VIEW_ALL_DATA
                                                      : crm::v1::MODIFY_ALL_DATA);
        if (!grant.empty()) AddString(via, std::move(grant));
        break;
      }
      case TracedGrant::Kind::kServiceScope:
        if (service != nullptr) AddString(via, std::string(service->resource_name));
        break;
    }
  }
}

AccessExplanation ExplainAccess(const Evaluator& eval, const ExplainInput& in) {
  AccessExplanation out;
  const model::ObjectSchema& schema = *in.schema;
  const CompiledPolicy* p = PolicyOf(eval);
  const int object = p == nullptr ? -1 : p->ObjectOf(schema);
  auto refuse = [&](AccessLayer layer, const Decision& d) {
    if (!out.allowed() && out.refused_layer() != 0) return;  // first wins
    out.set_allowed(false);
    out.set_refused_layer(layer);
    out.set_rule(d.rule);
    out.set_reason(d.reason);
  };
  out.set_allowed(true);

  // Object permission, with the grants behind it.
  const Decision object_decision = eval.CheckObject(schema, in.op);
  auto* op_explained = out.mutable_object_permission();
  op_explained->set_allowed(object_decision.allowed);
  op_explained->set_rule(object_decision.rule);
  op_explained->set_reason(object_decision.reason);
  if (p != nullptr) {
    UserObjectSources(*p, UserOf(eval), object, NeedsFor(in.op),
                      op_explained->mutable_user_sources());
    ServiceObjectSources(*p, ServiceOf(eval), object, NeedsFor(in.op),
                         op_explained->mutable_service_sources());
  }
  // Layers in request-path order; the first refusal names the layer.
  if (!object_decision.allowed &&
      ObjectLayer(object_decision) == crm::v1::LAYER_PRINCIPAL) {
    refuse(crm::v1::LAYER_PRINCIPAL, object_decision);
  }
  if (in.login == nullptr) {
    out.set_login("not checked (no client_address)");
  } else if (in.login->ok()) {
    out.set_login("allowed");
  } else {
    out.set_login(std::string(in.login->message()));
    refuse(crm::v1::LAYER_LOGIN_RESTRICTION,
           Decision::Deny("login-restriction", std::string(in.login->message())));
  }
  if (!object_decision.allowed) {
    refuse(ObjectLayer(object_decision), object_decision);
  }

  // Record access: every grant (TraceRecord is CheckRecord, recording).
  if (in.facts != nullptr) {
    RecordTrace trace;
    const Decision record = eval.TraceRecord(schema, in.op, *in.facts, &trace);
    if (!record.allowed) refuse(crm::v1::LAYER_RECORD_ACCESS, record);
    if (record.allowed && out.allowed()) {
      out.set_rule(record.rule);
      out.set_reason(record.reason);
    }
    AppendPaths(eval, schema, trace, RequiredLevel(in.op), out.mutable_paths());
    for (const TracedRestriction& r : trace.restrictions) {
      auto* c = out.add_restrictions();
      c->set_rule(r.rule);
      c->set_passed(r.passed);
      c->set_parent(r.parent);
    }
    // The highest level the user is allowed (the same decisions).
    Level level = Level::kNone;
    for (Operation op :
         {Operation::kRead, Operation::kEdit, Operation::kDelete}) {
      if (eval.AllowsRecord(schema, op, *in.facts)) level = RequiredLevel(op);
    }
    out.set_record_level(LevelName(level));
  } else if (out.allowed()) {
    out.set_rule(object_decision.rule);
    out.set_reason(object_decision.reason);
  }

  AppendFields(eval, schema, out.mutable_fields());
  if (in.field != nullptr) {
    const FieldAccess access = eval.Fields(schema);
    const bool write = in.op == Operation::kEdit || in.op == Operation::kCreate;
    if (write) {
      Decision d = eval.CheckFieldWrite(schema, *in.field);
      if (!d.allowed) refuse(crm::v1::LAYER_FIELD, d);
    } else if (!access.CanRead(*in.field)) {
      refuse(crm::v1::LAYER_FIELD,
             Decision::Deny(
                 absl::StrCat("field-not-readable:", schema.collection(), ".",
                              in.field->name),
                 absl::StrCat("field ", schema.singular(), ".", in.field->name,
                              " is not readable by ",
                              eval.principal().ResourceName())));
    }
  }
  return out;
}

std::vector<std::string> GrantSummary(const Evaluator& eval,
                                      const model::ObjectSchema& schema) {
  std::vector<std::string> out;
  const CompiledPolicy* p = PolicyOf(eval);
  const int object = p == nullptr ? -1 : p->ObjectOf(schema);
  if (object < 0) return out;
  const CompiledUser* user = UserOf(eval);
  RepeatedPtrField<PermissionSource> sources;
  UserObjectSources(*p, user, object, NeedsFor(Operation::kRead), &sources);
  for (const auto& s : sources) {
    out.push_back(absl::StrCat("object permission read through ", s.grant(),
                               " (", s.assigned_to(), ")"));
  }
  if (user == nullptr) {
    const CompiledService* service = ServiceOf(eval);
    if (service != nullptr) {
      out.push_back(absl::StrCat("service scope of ", service->resource_name));
    }
    return out;
  }
  const ObjectPolicy& obj = p->objects[object];
  // The record grants come from the account for objects controlled by it.
  const int grants_object = obj.controlled_by_parent() ? p->accounts : object;
  const ObjectPolicy& g = p->objects[grants_object];
  const std::string& collection = g.schema->collection();
  if (obj.controlled_by_parent()) {
    out.push_back(absl::StrCat("controlled by parent: the access to ",
                               collection, " below"));
  }
  const ObjectPermissions& mine = user->permissions->objects[grants_object];
  if (mine.modify_all) out.push_back(absl::StrCat("modify-all:", collection));
  if (mine.view_all && !mine.modify_all) {
    out.push_back(absl::StrCat("view-all:", collection));
  }
  for (crm::v1::SystemPermission sp :
       {crm::v1::VIEW_ALL_DATA, crm::v1::MODIFY_ALL_DATA}) {
    if (user->permissions->HasSystem(sp)) {
      out.push_back(absl::StrCat("system:", SystemPermissionName(sp), " (",
                                 eval.UserSystemGrantOf(sp), ")"));
    }
  }
  if (g.public_level() > Level::kNone) {
    out.push_back(absl::StrCat(
        "org-default:", crm::v1::OrgWideDefault::Access_Name(g.access)));
  }
  out.push_back(absl::StrCat("owner: records owned by ", user->resource_name));
  if ((g.hierarchy || obj.controlled_by_parent()) && user->role >= 0) {
    std::vector<int> below;
    for (int child : p->roles[user->role].children) {
      p->AppendUsers({GranteeRef::Kind::kRoleAndSubordinates, child}, &below);
    }
    if (!below.empty()) {
      out.push_back(absl::StrCat("hierarchy: records of the ", below.size(),
                                 " users below ", p->roles[user->role].name));
    }
  }
  for (int r : user->sharing_rules[grants_object]) {
    const CompiledSharingRule& rule = p->sharing_rules[r];
    out.push_back(absl::StrCat("sharing-rule:", rule.name, " (",
                               LevelName(rule.level), ")"));
  }
  out.push_back(absl::StrCat("manual shares to ",
                             absl::StrJoin(user->grantee_keys, ", ")));
  for (int o : {object, grants_object}) {
    for (int r : user->restrictions[o]) {
      out.push_back(
          absl::StrCat("restriction-rule:", p->restrictions[r].name));
    }
    if (o == grants_object) break;
  }
  return out;
}

crm::v1::EffectivePermissionsResponse EffectivePermissions(
    const Evaluator& eval) {
  crm::v1::EffectivePermissionsResponse out;
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr) return out;
  const CompiledUser* user = UserOf(eval);
  const CompiledService* service = ServiceOf(eval);
  if (user != nullptr) {
    out.set_active(user->active);
    out.set_profile(user->profile);
    if (user->role >= 0) out.set_role(p->roles[user->role].name);
  }
  struct Named {
    const char* name;
    bool ObjectPermissions::*member;
  };
  static constexpr Named kPermissions[] = {
      {"read", &ObjectPermissions::read},
      {"create", &ObjectPermissions::create},
      {"edit", &ObjectPermissions::edit},
      {"delete", &ObjectPermissions::remove},
      {"view_all", &ObjectPermissions::view_all},
      {"modify_all", &ObjectPermissions::modify_all}};
  auto grants = [&](const ObjectPermissions& o, PermissionSource source,
                    RepeatedPtrField<crm::v1::ObjectGrant>* list) {
    crm::v1::ObjectGrant g;
    for (const Named& n : kPermissions) {
      if (o.*n.member) g.add_permissions(n.name);
    }
    if (g.permissions_size() == 0) return;
    *g.mutable_source() = std::move(source);
    *list->Add() = std::move(g);
  };
  for (int object = 0; object < static_cast<int>(p->objects.size());
       ++object) {
    const model::ObjectSchema& schema = *p->objects[object].schema;
    const ObjectPermissions eff = eval.EffectiveObjectPermissions(schema);
    auto* s = out.add_objects();
    s->set_object(schema.collection());
    s->set_read(eff.read);
    s->set_create(eff.create);
    s->set_edit(eff.edit);
    s->set_delete_(eff.remove);
    s->set_view_all(eff.view_all);
    s->set_modify_all(eff.modify_all);
    if (user != nullptr) {
      for (int set : user->sets) {
        const CompiledPermissionSet& ps = p->permission_sets[set];
        PermissionSource src;
        src.set_grant(ps.name);
        src.set_assigned_to(AssignedTo(ps, *user));
        grants(ps.objects[object], std::move(src), s->mutable_user_grants());
      }
    }
    if (service != nullptr) {
      PermissionSource config;
      config.set_grant(service->resource_name);
      config.set_assigned_to(service->resource_name);
      grants(service->config_scope[object], std::move(config),
             s->mutable_service_grants());
      for (int set : service->sets) {
        const CompiledPermissionSet& ps = p->permission_sets[set];
        PermissionSource src;
        src.set_grant(ps.name);
        src.set_assigned_to(service->resource_name);
        grants(ps.objects[object], std::move(src), s->mutable_service_grants());
      }
    }
    AppendFields(eval, schema, out.mutable_fields());
  }
  for (crm::v1::SystemPermission sp : AllSystemPermissions()) {
    auto* s = out.add_system_permissions();
    s->set_permission(sp);
    s->set_held(eval.AllowsSystem(sp));
    s->set_user_grant(eval.UserSystemGrantOf(sp));
    s->set_service_grant(eval.ServiceSystemGrantOf(sp));
  }
  return out;
}

namespace {

crm::v1::RecordScope ScopeOf(const PlanInfo& plan) {
  if (plan.shape == "none") return crm::v1::SCOPE_NONE;
  if (plan.shape == "all" || plan.shape == "service-scope") {
    return crm::v1::SCOPE_ALL;
  }
  if (plan.shape == "restricted") return crm::v1::SCOPE_ALL_RESTRICTED;
  return crm::v1::SCOPE_GRANTED;  // "scan" or "drive"
}

}  // namespace

crm::v1::AccessMatrixRow AccessMatrixRow(const Evaluator& eval) {
  crm::v1::AccessMatrixRow row;
  const CompiledPolicy* p = PolicyOf(eval);
  if (p == nullptr) return row;
  for (const ObjectPolicy& obj : p->objects) {
    const model::ObjectSchema& schema = *obj.schema;
    const ObjectPermissions eff = eval.EffectiveObjectPermissions(schema);
    crm::v1::AccessMatrixCell* cell = row.add_objects();
    cell->set_object(schema.collection());
    cell->set_read(eff.read);
    cell->set_create(eff.create);
    cell->set_edit(eff.edit);
    cell->set_delete_(eff.remove);
    cell->set_view_all(eff.view_all);
    cell->set_modify_all(eff.modify_all);
    // The scope is the request path's own: the shape of the predicate List
    // would AND into its SQL.
    PlanInfo read;
    PlanInfo edit;
    eval.RecordFilter(schema, Operation::kRead, {}, &read);
    eval.RecordFilter(schema, Operation::kEdit, {}, &edit);
    cell->set_read_scope(ScopeOf(read));
    cell->set_edit_scope(ScopeOf(edit));
    if (cell->read_scope() == crm::v1::SCOPE_GRANTED) {
      cell->set_owner_users(static_cast<int32_t>(read.owners));
      cell->set_share_keys(static_cast<int32_t>(read.share_keys));
      cell->set_criteria_rules(static_cast<int32_t>(read.criteria_rules));
    }
    cell->set_restriction_rules(static_cast<int32_t>(read.restriction_rules));
    for (const model::FieldSchema& field : schema.fields()) {
      if (!field.sensitive) continue;
      crm::v1::SensitiveFieldAccess* f = row.add_sensitive_fields();
      f->set_field(absl::StrCat(schema.collection(), ".", field.name));
      f->set_read(eff.read && eval.CanReadField(schema, field));
      f->set_edit(eff.edit && eval.CanWriteField(schema, field));
    }
  }
  return row;
}

std::vector<crm::v1::PrivilegeGrant> UserPrivileges(const Evaluator& eval) {
  std::vector<crm::v1::PrivilegeGrant> out;
  const CompiledPolicy* p = PolicyOf(eval);
  const CompiledUser* user = UserOf(eval);
  if (p == nullptr || user == nullptr || !user->active) return out;
  for (crm::v1::SystemPermission sp :
       {crm::v1::VIEW_ALL_DATA, crm::v1::MODIFY_ALL_DATA,
        crm::v1::MANAGE_POLICY, crm::v1::MANAGE_USERS, crm::v1::VIEW_AUDIT,
        crm::v1::PRIVACY_OPERATIONS}) {
    std::string grant = eval.UserSystemGrantOf(sp);
    if (grant.empty()) continue;
    crm::v1::PrivilegeGrant g;
    g.set_privilege(crm::v1::SystemPermission_Name(sp));
    g.add_sources(std::move(grant));
    out.push_back(std::move(g));
  }
  struct Wide {
    const char* name;
    bool ObjectPermissions::*member;
  };
  for (const Wide& w : {Wide{"modify_all", &ObjectPermissions::modify_all},
                        Wide{"view_all", &ObjectPermissions::view_all}}) {
    for (int object = 0; object < static_cast<int>(p->objects.size());
         ++object) {
      RepeatedPtrField<PermissionSource> sources;
      UserObjectSources(
          *p, user, object,
          [&](const ObjectPermissions& o) { return o.*w.member; }, &sources);
      if (sources.empty()) continue;
      crm::v1::PrivilegeGrant g;
      g.set_privilege(absl::StrCat(
          w.name, ":", p->objects[object].schema->collection()));
      for (const PermissionSource& s : sources) {
        g.add_sources(absl::StrCat("permission-set:", s.grant(),
                                   " (assigned to ", s.assigned_to(), ")"));
      }
      out.push_back(std::move(g));
    }
  }
  return out;
}

}  // namespace crm::policy
