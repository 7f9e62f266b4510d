#include "server/policy_admin_service.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "server/log.h"
#include "server/request_context.h"
#include "server/status_util.h"
#include "store/policy_store.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;
using crm::v1::PolicyObject;
using google::protobuf::Message;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxReferrersShown = 10;

// One kind of policy object: its name prefix, its case in PolicyObject and
// its list in PolicyState. OrgWideDefaults are keyed by their object field;
// every other kind by its name.
struct KindInfo {
  absl::string_view kind;
  int object_field;         // field number in PolicyObject
  const char* state_field;  // field name in PolicyState
  bool keyed_by_object;
};

constexpr KindInfo kKinds[] = {
    {store::kPermissionSetsKind, PolicyObject::kPermissionSetFieldNumber,
     "permission_sets", false},
    {store::kOrgWideDefaultsKind, PolicyObject::kOrgWideDefaultFieldNumber,
     "defaults", true},
    {store::kRolesKind, PolicyObject::kRoleFieldNumber, "roles", false},
    {store::kGroupsKind, PolicyObject::kGroupFieldNumber, "groups", false},
    {store::kSharingRulesKind, PolicyObject::kSharingRuleFieldNumber,
     "sharing_rules", false},
    {store::kRestrictionRulesKind, PolicyObject::kRestrictionRuleFieldNumber,
     "restriction_rules", false},
};

std::string KindList() {
  std::vector<std::string> names;
  for (const KindInfo& k : kKinds) names.emplace_back(k.kind);
  return absl::StrJoin(names, ", ");
}

const KindInfo* KindByName(absl::string_view kind) {
  for (const KindInfo& k : kKinds) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

const KindInfo* KindOf(const PolicyObject& object) {
  for (const KindInfo& k : kKinds) {
    if (k.object_field == static_cast<int>(object.kind_case())) return &k;
  }
  return nullptr;
}

std::string GetString(const Message& m, const char* field) {
  return m.GetReflection()->GetString(m, m.GetDescriptor()->FindFieldByName(field));
}

void SetString(Message* m, const char* field, const std::string& value) {
  m->GetReflection()->SetString(m, m->GetDescriptor()->FindFieldByName(field),
                                value);
}

const Message& Body(const PolicyObject& object, const KindInfo& kind) {
  return object.GetReflection()->GetMessage(
      object, object.GetDescriptor()->FindFieldByNumber(kind.object_field));
}

Message* MutableBody(PolicyObject* object, const KindInfo& kind) {
  return object->GetReflection()->MutableMessage(
      object, object->GetDescriptor()->FindFieldByNumber(kind.object_field));
}

// The id of a stored body (name and etag set as PolicyStore::LoadState does).
std::string IdOf(const KindInfo& kind, const Message& body) {
  if (kind.keyed_by_object) return GetString(body, "object");
  std::string name = GetString(body, "name");
  absl::string_view id = name;
  absl::ConsumePrefix(&id, absl::StrCat(kind.kind, "/"));
  return std::string(id);
}

void SetKey(const KindInfo& kind, const std::string& id, Message* body) {
  if (kind.keyed_by_object) {
    SetString(body, "object", id);
  } else {
    SetString(body, "name", absl::StrCat(kind.kind, "/", id));
  }
}

// "{kind}/{id}" -> kind and id, checking both.
absl::StatusOr<std::pair<const KindInfo*, std::string>> ParseName(
    absl::string_view name, absl::string_view what) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(name, absl::MaxSplits('/', 1));
  const KindInfo* kind = KindByName(parts.first);
  if (kind == nullptr || !model::IsValidRecordId(parts.second)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": '", name, "' is not a policy object name; expected "
        "{kind}/{id} with kind one of ", KindList(),
        " and id of 1-64 characters [A-Za-z0-9_-]"));
  }
  return std::make_pair(kind, std::string(parts.second));
}

// The repeated field of `kind` in PolicyState.
const google::protobuf::FieldDescriptor* StateField(const KindInfo& kind) {
  return PolicyState::descriptor()->FindFieldByName(kind.state_field);
}

int FindInState(const PolicyState& state, const KindInfo& kind,
                const std::string& id) {
  const auto* field = StateField(kind);
  const auto* reflection = state.GetReflection();
  for (int i = 0; i < reflection->FieldSize(state, field); ++i) {
    if (IdOf(kind, reflection->GetRepeatedMessage(state, field, i)) == id) {
      return i;
    }
  }
  return -1;
}

// Adds `body` to the state, or replaces the entry with the same id.
void PutInState(const KindInfo& kind, const Message& body, PolicyState* state) {
  const auto* field = StateField(kind);
  int i = FindInState(*state, kind, IdOf(kind, body));
  Message* slot =
      i >= 0 ? state->GetReflection()->MutableRepeatedMessage(state, field, i)
             : state->GetReflection()->AddMessage(state, field);
  slot->CopyFrom(body);
}

void RemoveFromState(const KindInfo& kind, const std::string& id,
                     PolicyState* state) {
  const auto* field = StateField(kind);
  const auto* reflection = state->GetReflection();
  int i = FindInState(*state, kind, id);
  if (i < 0) return;
  int last = reflection->FieldSize(*state, field) - 1;
  for (int j = i; j < last; ++j) reflection->SwapElements(state, field, j, j + 1);
  reflection->RemoveLast(state, field);
}

absl::StatusOr<PolicyObject> FromRow(const KindInfo& kind,
                                     const store::PolicyObjectRow& row) {
  PolicyObject object;
  Message* body = MutableBody(&object, kind);
  if (!body->ParseFromString(row.body)) {
    return absl::InternalError(absl::StrCat(
        "stored policy object ", row.kind, "/", row.id, " does not parse"));
  }
  SetKey(kind, row.id, body);
  SetString(body, "etag", model::EtagOf(row.version));
  return object;
}

// --- Who may call --------------------------------------------------------

bool SetGrants(const crm::v1::PermissionSet& set, crm::v1::SystemPermission p) {
  for (int held : set.system_permissions()) {
    if (held == p) return true;
  }
  return false;
}

bool AssignedSetsGrant(const PolicyState& state, const std::string& assignee,
                       crm::v1::SystemPermission p) {
  for (const auto& set : state.permission_sets()) {
    if (!SetGrants(set, p)) continue;
    for (const auto& a : set.assignees()) {
      if (a == assignee) return true;
    }
  }
  return false;
}

// --- Referrers of a role or group ----------------------------------------

bool Names(const crm::v1::Grantee& g, const std::string& name) {
  return g.user() == name || g.role() == name ||
         g.role_and_subordinates() == name || g.group() == name;
}

std::vector<std::string> Referrers(const PolicyState& state,
                                   const std::string& name) {
  std::vector<std::string> out;
  for (const auto& role : state.roles()) {
    if (role.parent() == name) out.push_back(role.name() + " (parent)");
  }
  for (const auto& user : state.users()) {
    if (user.role() == name) out.push_back("users/" + user.id() + " (role)");
  }
  for (const auto& group : state.groups()) {
    for (const auto& member : group.members()) {
      if (Names(member, name)) {
        out.push_back(group.name() + " (member)");
        break;
      }
    }
  }
  for (const auto& rule : state.sharing_rules()) {
    if (Names(rule.shared_with(), name) ||
        (rule.has_owned_by() && Names(rule.owned_by(), name))) {
      out.push_back(rule.name());
    }
  }
  for (const auto& rule : state.restriction_rules()) {
    if (Names(rule.applies_to(), name)) out.push_back(rule.name());
  }
  return out;
}

}  // namespace

bool HoldsSystemPermission(const PolicyState& state,
                           const crm::internal::ServerConfig& config,
                           const policy::Principal& principal,
                           crm::v1::SystemPermission p) {
  const std::string lower =
      absl::AsciiStrToLower(crm::v1::SystemPermission_Name(p));
  bool service_holds =
      AssignedSetsGrant(state, absl::StrCat("services/", principal.service), p);
  for (const auto& service : config.services()) {
    if (service.name() != principal.service) continue;
    for (const auto& held : service.system_permissions()) {
      if (absl::AsciiStrToLower(held) == lower) service_holds = true;
    }
  }
  if (!service_holds) return false;
  if (!principal.acting_for_user()) return true;
  for (const auto& user : state.users()) {
    if (user.id() != principal.user_id) continue;
    if (!user.active()) return false;
    for (int held : user.profile_system_permissions()) {
      if (held == p) return true;
    }
    return AssignedSetsGrant(state, "users/" + user.id(), p) ||
           (!user.profile().empty() &&
            AssignedSetsGrant(state, user.profile(), p));
  }
  return false;
}

namespace {

// The shared prologue of every method: who is calling, and may they manage
// policy.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 PolicyLoader& loader, const char* method, Fn fn) {
  auto rc = AuthenticateRequest(*context, *core);
  if (!rc.ok()) return ToGrpcStatus(rc.status());
  auto state = loader.CurrentState();
  if (state == nullptr ||
      !HoldsSystemPermission(*state, core->config, rc->principal,
                             crm::v1::MANAGE_POLICY)) {
    return ToGrpcStatus(absl::PermissionDeniedError(absl::StrCat(
        "manage_policy is required to call PolicyAdminService.", method,
        "; ", rc->principal.ResourceName(), " does not hold it")));
  }
  absl::Status s = fn(rc->principal);
  if (s.ok()) {
    if (absl::StartsWith(method, "Create") ||
        absl::StartsWith(method, "Update") ||
        absl::StartsWith(method, "Delete")) {
      LogInfo("policy.changed", {{"method", method},
                                 {"principal", rc->principal.ResourceName()},
                                 {"version", absl::StrCat(loader.version())}});
    }
  }
  return ToGrpcStatus(s);
}

// One policy write in one transaction: bump the version first (serialising
// policy writers), load the current state, apply `change` to the state and
// the store, compile the result; installed after the commit.
absl::Status WritePolicy(
    ServerCore* core, PolicyLoader& loader,
    const std::function<absl::Status(store::Session&, store::PolicyStore&,
                                     PolicyState&)>& change) {
  store::PolicyStore store(core->database.get());
  std::shared_ptr<const policy::PolicySnapshot> snapshot;
  PolicyState committed;
  absl::Status s = core->database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto version = store.BumpPolicyVersion(session);
        if (!version.ok()) return version.status();
        auto state = store.LoadState(session);
        if (!state.ok()) return state.status();
        if (absl::Status c = change(session, store, *state); !c.ok()) return c;
        auto compiled = loader.Compile(*state);
        if (!compiled.ok()) {
          return absl::InvalidArgumentError(compiled.status().message());
        }
        snapshot = *std::move(compiled);
        committed = *std::move(state);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  loader.Install(std::move(snapshot), std::move(committed));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseOptionalEtag(const std::string& etag) {
  if (etag.empty()) return -1;
  return model::ParseEtag(etag);
}

absl::Status CheckEtag(const std::string& name, int64_t expected,
                       int64_t current) {
  if (expected >= 0 && expected != current) {
    return absl::AbortedError(absl::StrCat(
        name, " was changed since etag ", model::EtagOf(expected),
        " (current: ", model::EtagOf(current), "); read it again and retry"));
  }
  return absl::OkStatus();
}

// The id a Create request names, checked against the object's own key.
absl::StatusOr<std::string> CreateId(const KindInfo& kind, const Message& body,
                                     const std::string& requested) {
  std::string own;
  if (kind.keyed_by_object) {
    own = GetString(body, "object");
  } else if (std::string name = GetString(body, "name"); !name.empty()) {
    auto parsed = ParseName(name, "object.name");
    if (!parsed.ok()) return parsed.status();
    if (parsed->first != &kind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "object.name: '", name, "' is not a name of kind ", kind.kind));
    }
    own = parsed->second;
  }
  if (!own.empty() && !requested.empty() && own != requested) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id: '", requested, "' does not match the object's own ",
        kind.keyed_by_object ? "object" : "name", " ('", own, "')"));
  }
  std::string id = requested.empty() ? own : requested;
  if (!model::IsValidRecordId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id: '", id, "' is not a valid id; use 1-64 characters "
        "[A-Za-z0-9_-]", kind.keyed_by_object ? " (the object's collection)"
                                               : ""));
  }
  return id;
}

}  // namespace

grpc::Status PolicyAdminServiceImpl::CreatePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::CreatePolicyObjectRequest* request,
    crm::v1::PolicyObject* response) {
  return Run(context, core_, *loader_, "CreatePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    const KindInfo* kind = KindOf(request->object());
    if (kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "object: set exactly one kind (", KindList(), ")"));
    }
    auto id = CreateId(*kind, Body(request->object(), *kind), request->id());
    if (!id.ok()) return id.status();
    PolicyObject stored = request->object();
    Message* body = MutableBody(&stored, *kind);
    SetKey(*kind, *id, body);
    SetString(body, "etag", "");
    const std::string name = absl::StrCat(kind->kind, "/", *id);
    int64_t now = absl::ToUnixMicros(core_->clock->Now());
    absl::Status s = WritePolicy(
        core_, *loader_,
        [&](store::Session& session, store::PolicyStore& store,
            PolicyState& state) -> absl::Status {
          if (FindInState(state, *kind, *id) >= 0) {
            return absl::AlreadyExistsError(
                absl::StrCat(name, " already exists"));
          }
          std::unique_ptr<Message> entry(body->New());
          entry->CopyFrom(*body);
          SetString(entry.get(), "etag", model::EtagOf(1));
          PutInState(*kind, *entry, &state);
          return store.InsertObject(
              session, {std::string(kind->kind), *id, 1,
                        body->SerializeAsString(), now});
        });
    if (!s.ok()) return s;
    SetString(body, "etag", model::EtagOf(1));
    *response = std::move(stored);
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::GetPolicyObject(
    grpc::ServerContext* context,
    const crm::v1::GetPolicyObjectRequest* request,
    crm::v1::PolicyObject* response) {
  return Run(context, core_, *loader_, "GetPolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    auto parsed = ParseName(request->name(), "name");
    if (!parsed.ok()) return parsed.status();
    store::PolicyStore store(core_->database.get());
    std::optional<store::PolicyObjectRow> row;
    absl::Status s = core_->database->WithSession([&](store::Session& session) {
      auto got = store.GetObject(session, parsed->first->kind, parsed->second);
      if (!got.ok()) return got.status();
      row = *std::move(got);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (!row.has_value()) {
      return absl::NotFoundError(absl::StrCat(request->name(), " not found"));
    }
    auto object = FromRow(*parsed->first, *row);
    if (!object.ok()) return object.status();
    *response = *std::move(object);
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::ListPolicyObjects(
    grpc::ServerContext* context,
    const crm::v1::ListPolicyObjectsRequest* request,
    crm::v1::ListPolicyObjectsResponse* response) {
  return Run(context, core_, *loader_, "ListPolicyObjects",
             [&](const policy::Principal&) -> absl::Status {
    const KindInfo* kind = KindByName(request->kind());
    if (kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kind: '", request->kind(), "' is not a policy kind; use one of ",
          KindList()));
    }
    int page_size = request->page_size();
    if (page_size < 0 || page_size > kMaxPageSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size: ", page_size, " is out of range; use 1-",
                       kMaxPageSize, " (0 means ", kDefaultPageSize, ")"));
    }
    if (page_size == 0) page_size = kDefaultPageSize;
    std::string after;
    if (!request->page_token().empty()) {
      std::string raw;
      absl::string_view rest;
      if (!absl::WebSafeBase64Unescape(request->page_token(), &raw) ||
          !absl::StartsWith(raw, absl::StrCat(kind->kind, "/"))) {
        return absl::InvalidArgumentError(
            "page_token: not a token from ListPolicyObjects for this kind; "
            "start again without it");
      }
      rest = raw;
      rest.remove_prefix(kind->kind.size() + 1);
      after = std::string(rest);
    }
    store::PolicyStore store(core_->database.get());
    std::vector<store::PolicyObjectRow> rows;
    absl::Status s = core_->database->WithSession([&](store::Session& session) {
      auto page = store.ListObjects(session, kind->kind, after, page_size + 1);
      if (!page.ok()) return page.status();
      rows = *std::move(page);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    bool more = static_cast<int>(rows.size()) > page_size;
    if (more) rows.resize(page_size);
    for (const auto& row : rows) {
      auto object = FromRow(*kind, row);
      if (!object.ok()) return object.status();
      *response->add_objects() = *std::move(object);
    }
    if (more) {
      response->set_next_page_token(absl::WebSafeBase64Escape(
          absl::StrCat(kind->kind, "/", rows.back().id)));
    }
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::UpdatePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::UpdatePolicyObjectRequest* request,
    crm::v1::PolicyObject* response) {
  return Run(context, core_, *loader_, "UpdatePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    const KindInfo* kind = KindOf(request->object());
    if (kind == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "object: set exactly one kind (", KindList(), ")"));
    }
    const Message& input = Body(request->object(), *kind);
    std::string id;
    if (kind->keyed_by_object) {
      id = GetString(input, "object");
      if (!model::IsValidRecordId(id)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "object.org_wide_default.object: '", id,
            "' is not a collection name"));
      }
    } else {
      auto parsed = ParseName(GetString(input, "name"), "object.name");
      if (!parsed.ok()) return parsed.status();
      if (parsed->first != kind) {
        return absl::InvalidArgumentError(
            absl::StrCat("object.name: '", GetString(input, "name"),
                         "' is not a name of kind ", kind->kind));
      }
      id = parsed->second;
    }
    auto expected = ParseOptionalEtag(GetString(input, "etag"));
    if (!expected.ok()) return expected.status();
    const std::string name = absl::StrCat(kind->kind, "/", id);
    PolicyObject stored = request->object();
    Message* body = MutableBody(&stored, *kind);
    SetString(body, "etag", "");
    int64_t now = absl::ToUnixMicros(core_->clock->Now());
    int64_t new_version = 0;
    absl::Status s = WritePolicy(
        core_, *loader_,
        [&](store::Session& session, store::PolicyStore& store,
            PolicyState& state) -> absl::Status {
          auto current = store.GetObject(session, kind->kind, id);
          if (!current.ok()) return current.status();
          if (!current->has_value()) {
            return absl::NotFoundError(absl::StrCat(name, " not found"));
          }
          int64_t version = (*current)->version;
          if (absl::Status e = CheckEtag(name, *expected, version); !e.ok()) {
            return e;
          }
          new_version = version + 1;
          std::unique_ptr<Message> entry(body->New());
          entry->CopyFrom(*body);
          SetString(entry.get(), "etag", model::EtagOf(new_version));
          PutInState(*kind, *entry, &state);
          auto ok = store.UpdateObjectIfVersion(session, kind->kind, id,
                                                version,
                                                body->SerializeAsString(), now);
          if (!ok.ok()) return ok.status();
          if (!*ok) {
            return absl::AbortedError(absl::StrCat(
                name, " was changed by another writer; read it again"));
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    SetString(body, "etag", model::EtagOf(new_version));
    *response = std::move(stored);
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::DeletePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::DeletePolicyObjectRequest* request,
    google::protobuf::Empty*) {
  return Run(context, core_, *loader_, "DeletePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    auto parsed = ParseName(request->name(), "name");
    if (!parsed.ok()) return parsed.status();
    const KindInfo& kind = *parsed->first;
    const std::string& id = parsed->second;
    auto expected = ParseOptionalEtag(request->etag());
    if (!expected.ok()) return expected.status();
    const std::string name = absl::StrCat(kind.kind, "/", id);
    return WritePolicy(
        core_, *loader_,
        [&](store::Session& session, store::PolicyStore& store,
            PolicyState& state) -> absl::Status {
          auto current = store.GetObject(session, kind.kind, id);
          if (!current.ok()) return current.status();
          if (!current->has_value()) {
            return absl::NotFoundError(absl::StrCat(name, " not found"));
          }
          if (absl::Status e = CheckEtag(name, *expected, (*current)->version);
              !e.ok()) {
            return e;
          }
          if (kind.kind == store::kRolesKind ||
              kind.kind == store::kGroupsKind) {
            std::vector<std::string> referrers = Referrers(state, name);
            std::vector<std::string> keys = {name};
            if (kind.kind == store::kRolesKind) {
              keys.push_back(absl::StrCat("roleAndSubordinates/", id));
            }
            auto shares = store.CountSharesWithGrantee(session, keys);
            if (!shares.ok()) return shares.status();
            if (*shares > 0) {
              referrers.push_back(absl::StrCat(*shares, " record share(s)"));
            }
            if (!referrers.empty()) {
              size_t total = referrers.size();
              if (total > kMaxReferrersShown) {
                referrers.resize(kMaxReferrersShown);
                referrers.push_back(
                    absl::StrCat("and ", total - kMaxReferrersShown, " more"));
              }
              return absl::FailedPreconditionError(absl::StrCat(
                  name, " is still referenced by ",
                  absl::StrJoin(referrers, ", "), "; change them first"));
            }
          }
          RemoveFromState(kind, id, &state);
          auto ok = store.DeleteObjectIfVersion(session, kind.kind, id,
                                                (*current)->version);
          if (!ok.ok()) return ok.status();
          if (!*ok) {
            return absl::AbortedError(absl::StrCat(
                name, " was changed by another writer; read it again"));
          }
          return absl::OkStatus();
        });
  });
}

}  // namespace crm::server
