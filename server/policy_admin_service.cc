#include "server/policy_admin_service.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "google/protobuf/util/field_mask_util.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "policy/bundle.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/request_context.h"
#include "server/status_util.h"
#include "store/policy_store.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;
using crm::v1::PolicyObject;
using google::protobuf::Message;

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
    {store::kDataSourcesKind, PolicyObject::kDataSourceFieldNumber,
     "data_sources", false},
};

std::string KindList() {
  std::vector<std::string> names;
  for (const KindInfo& k : kKinds) names.emplace_back(k.kind);
  return absl::StrJoin(names, ", ");
}

// The configured services' own scopes: listed and read here, written only
// in the configuration file (policy::ServiceScopeOf).
constexpr absl::string_view kServicesKind = "services";

bool IsServiceName(absl::string_view name) {
  return absl::StartsWith(name, absl::StrCat(kServicesKind, "/"));
}

absl::Status ReadOnlyService(absl::string_view name) {
  return base::WithErrorInfo(
      absl::FailedPreconditionError(absl::StrCat(
          name.empty() ? "a service's scope" : name,
          " is read-only: a service's own scope is set in the server's "
          "configuration file (services { name: ... }), not through the "
          "API; change the configuration and restart the servers (to grant "
          "a service more, assign it a permission set instead)")),
      crm::v1::READ_ONLY_OBJECT, {{"resource", std::string(name)}});
}

// The configured services in name order.
std::vector<const crm::internal::ServiceConfig*> ServicesByName(
    const ServerCore& core) {
  std::vector<const crm::internal::ServiceConfig*> out;
  for (const auto& s : core.config.services()) out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return a->name() < b->name();
  });
  return out;
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

// The object methods need MANAGE_POLICY; a change is logged.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, const Message& request,
                 ServerCore* core, PolicyLoader& loader, const char* method,
                 Fn fn) {
  return RunPolicyAdminMethod(
      context, request, *core, method, crm::v1::MANAGE_POLICY,
      [&](const Call& call) -> absl::Status {
        absl::Status s = fn(call.principal());
        if (s.ok() && (absl::StartsWith(method, "Create") ||
                       absl::StartsWith(method, "Update") ||
                       absl::StartsWith(method, "Delete"))) {
          LogInfo("policy.changed",
                  {{"method", method},
                   {"principal", call.principal().ResourceName()},
                   {"version", absl::StrCat(loader.version())}});
        }
        return s;
      });
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

// An update mask's paths must name fields of the kind's message; the key
// (name, or an OrgWideDefault's object) and the etag cannot be masked.
absl::Status CheckMask(const KindInfo& kind, const Message& body,
                       const google::protobuf::FieldMask& mask) {
  for (const std::string& path : mask.paths()) {
    const bool key = path == (kind.keyed_by_object ? "object" : "name");
    if (key || path == "etag" ||
        !google::protobuf::util::FieldMaskUtil::GetFieldDescriptors(
            body.GetDescriptor(), path, nullptr)) {
      return base::WithErrorInfo(
          absl::InvalidArgumentError(absl::StrCat(
              "update_mask: '", path, "' is not ",
              key || path == "etag" ? "a field an update may set"
                                    : "a field",
              " of ", body.GetDescriptor()->name(),
              "; name fields of the object (e.g. display_name, criteria) or "
              "leave the mask empty to replace the whole object")),
          crm::v1::UNKNOWN_FIELD, {{"field", path}});
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status RunPolicyAdminMethod(grpc::ServerContext* context,
                                  const google::protobuf::Message& request,
                                  const ServerCore& core,
                                  absl::string_view method,
                                  crm::v1::SystemPermission permission,
                                  Pipeline::Handler handler) {
  return core.pipeline->Run(
      context, absl::StrCat("crm.v1.PolicyAdminService/", method), request,
      handler, {.requires_permission = permission, .decision_kind = "system"});
}

grpc::Status PolicyAdminServiceImpl::CreatePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::CreatePolicyObjectRequest* request,
    crm::v1::PolicyObject* response) {
  return Run(context, *request, core_, *loader_, "CreatePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    if (request->object().has_service()) {
      return ReadOnlyService(request->object().service().name());
    }
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
  return Run(context, *request, core_, *loader_, "GetPolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    if (IsServiceName(request->name())) {
      for (const auto& service : core_->config.services()) {
        if (absl::StrCat(kServicesKind, "/", service.name()) ==
            request->name()) {
          *response->mutable_service() = policy::ServiceScopeOf(service);
          return absl::OkStatus();
        }
      }
      return absl::NotFoundError(absl::StrCat(
          request->name(), " not found: no service of that name is in the "
          "server's configuration"));
    }
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
  return Run(context, *request, core_, *loader_, "ListPolicyObjects",
             [&](const policy::Principal&) -> absl::Status {
    const KindInfo* kind = KindByName(request->kind());
    if (kind == nullptr && request->kind() != kServicesKind) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kind: '", request->kind(), "' is not a policy kind; use one of ",
          KindList(), ", ", kServicesKind));
    }
    auto page_size = PageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    if (kind == nullptr) {  // services: from the configuration
      auto after = DecodePageToken(request->page_token(), kServicesKind,
                                   "ListPolicyObjects");
      if (!after.ok()) return after.status();
      std::string last;
      for (const auto* service : ServicesByName(*core_)) {
        if (!after->empty() && service->name() <= *after) continue;
        if (response->objects_size() == *page_size) {
          response->set_next_page_token(
              EncodePageToken(kServicesKind, last));
          break;
        }
        *response->add_objects()->mutable_service() =
            policy::ServiceScopeOf(*service);
        last = service->name();
      }
      return absl::OkStatus();
    }
    auto after = DecodePageToken(request->page_token(), kind->kind,
                                 "ListPolicyObjects");
    if (!after.ok()) return after.status();
    store::PolicyStore store(core_->database.get());
    std::vector<store::PolicyObjectRow> rows;
    absl::Status s = core_->database->WithSession([&](store::Session& session) {
      auto page =
          store.ListObjects(session, kind->kind, *after, *page_size + 1);
      if (!page.ok()) return page.status();
      rows = *std::move(page);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    bool more = static_cast<int>(rows.size()) > *page_size;
    if (more) rows.resize(*page_size);
    for (const auto& row : rows) {
      auto object = FromRow(*kind, row);
      if (!object.ok()) return object.status();
      *response->add_objects() = *std::move(object);
    }
    if (more) {
      response->set_next_page_token(
          EncodePageToken(kind->kind, rows.back().id));
    }
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::UpdatePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::UpdatePolicyObjectRequest* request,
    crm::v1::PolicyObject* response) {
  return Run(context, *request, core_, *loader_, "UpdatePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    if (request->object().has_service()) {
      return ReadOnlyService(request->object().service().name());
    }
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
    const google::protobuf::FieldMask& mask = request->update_mask();
    if (absl::Status m = CheckMask(*kind, input, mask); !m.ok()) return m;
    const std::string name = absl::StrCat(kind->kind, "/", id);
    PolicyObject stored = request->object();
    Message* body = MutableBody(&stored, *kind);
    SetString(body, "etag", "");
    int64_t now = absl::ToUnixMicros(core_->clock->Now());
    int64_t new_version = 0;
    int64_t old_version = 0;
    bool changed = true;
    absl::Status s = WritePolicy(
        core_, *loader_,
        [&](store::Session& session, store::PolicyStore& store,
            PolicyState& state) -> absl::Status {
          auto current = store.GetObject(session, kind->kind, id);
          if (!current.ok()) return current.status();
          if (!current->has_value()) {
            return absl::NotFoundError(absl::StrCat(name, " not found"));
          }
          old_version = (*current)->version;
          if (absl::Status e = CheckEtag(name, *expected, old_version);
              !e.ok()) {
            return e;
          }
          if (mask.paths_size() > 0) {
            // The stored object with the masked fields replaced.
            auto live = FromRow(*kind, **current);
            if (!live.ok()) return live.status();
            std::unique_ptr<Message> merged(Body(*live, *kind).New());
            merged->CopyFrom(Body(*live, *kind));
            google::protobuf::util::FieldMaskUtil::MergeOptions replace;
            replace.set_replace_message_fields(true);
            replace.set_replace_repeated_fields(true);
            google::protobuf::util::FieldMaskUtil::MergeMessageTo(
                input, mask, replace, merged.get());
            body->CopyFrom(*merged);
            SetString(body, "etag", "");
          }
          new_version = old_version + 1;
          std::unique_ptr<Message> entry(body->New());
          entry->CopyFrom(*body);
          SetString(entry.get(), "etag", model::EtagOf(new_version));
          PutInState(*kind, *entry, &state);
          auto ok = store.UpdateObjectIfVersion(session, kind->kind, id,
                                                old_version,
                                                body->SerializeAsString(), now);
          if (!ok.ok()) return ok.status();
          if (!*ok) return ChangedMeanwhile(name);
          return absl::OkStatus();
        },
        {.skip_if_unchanged = true, .changed = &changed});
    if (!s.ok()) return s;
    // Unchanged: nothing was written, the etag stays.
    SetString(body, "etag", model::EtagOf(changed ? new_version : old_version));
    *response = std::move(stored);
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::DeletePolicyObject(
    grpc::ServerContext* context,
    const crm::v1::DeletePolicyObjectRequest* request,
    google::protobuf::Empty*) {
  return Run(context, *request, core_, *loader_, "DeletePolicyObject",
             [&](const policy::Principal&) -> absl::Status {
    if (IsServiceName(request->name())) return ReadOnlyService(request->name());
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
            std::vector<std::string> referrers = PolicyReferrers(state, name);
            if (absl::Status a =
                    AddShareReferrers(session, store, name, &referrers);
                !a.ok()) {
              return a;
            }
            if (absl::Status r = RefuseIfReferenced(name, std::move(referrers));
                !r.ok()) {
              return r;
            }
          }
          RemoveFromState(kind, id, &state);
          auto ok = store.DeleteObjectIfVersion(session, kind.kind, id,
                                                (*current)->version);
          if (!ok.ok()) return ok.status();
          if (!*ok) return ChangedMeanwhile(name);
          return absl::OkStatus();
        });
  });
}

}  // namespace crm::server
