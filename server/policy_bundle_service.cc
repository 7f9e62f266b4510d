// PolicyAdminService's bundle methods (crm/v1/admin_service.proto, "Policy
// as files"): PlanPolicy, ApplyPolicy and the policy's history. The CRUD
// methods are in policy_admin_service.cc; both write through
// admin_support.h, so every write is validated, audited and recorded in the
// history the same way.
//
// A bundle is compared with the live policy object by object through
// policy::RenderObject (equal text: same object), so an object the bundle
// leaves as it is keeps its row, version and etag, and a bundle equal to
// the live policy changes nothing at all.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/policy_diff.h"
#include "base/error.h"
#include "google/protobuf/util/time_util.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/bundle.h"
#include "server/admin_support.h"
#include "server/pipeline.h"
#include "server/plan_impact_service.h"
#include "server/policy_admin_service.h"
#include "server/policy_target.h"
#include "server/profile_fields.h"
#include "store/identity_store.h"
#include "store/policy_store.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;
using google::protobuf::Message;

constexpr size_t kMaxMessageBytes = 1000;

// `fn` gets the calling service (plans evaluate users through it).
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, const Message& request,
                 ServerCore* core, const char* method,
                 crm::v1::SystemPermission permission, Fn fn) {
  return RunPolicyAdminMethod(
      context, request, *core, method, permission,
      [&](const Call& call) { return fn(call.principal().service); });
}

// The stored body of a bundle object: its message with the name set and the
// etag empty (policy_store.h).
std::string BodyOf(const policy::BundleObject& o) {
  const google::protobuf::OneofDescriptor* kind =
      o.object.GetDescriptor()->FindOneofByName("kind");
  const google::protobuf::FieldDescriptor* field =
      o.object.GetReflection()->GetOneofFieldDescriptor(o.object, kind);
  return o.object.GetReflection()->GetMessage(o.object, field)
      .SerializeAsString();
}

absl::Status VersionMismatch(int64_t expected, int64_t live) {
  return base::WithErrorInfo(
      absl::FailedPreconditionError(absl::StrCat(
          "the live policy is at version ", live, ", not ", expected,
          " as expected: it changed since the plan; run `crmctl policy plan` "
          "again and apply with the version it reports")),
      crm::v1::POLICY_VERSION_MISMATCH,
      {{"expected_version", absl::StrCat(expected)},
       {"live_version", absl::StrCat(live)}});
}

// Writes the rows that make the live policy `target` (inside the apply's
// transaction): objects added, replaced and removed; profiles likewise.
// Removing a role, group or profile that the target still names, or that
// record shares or users name, is FAILED_PRECONDITION (as Delete is).
absl::Status WriteRows(store::Session& session, store::PolicyStore& store,
                       store::IdentityStore& identities, const Target& target,
                       int64_t now) {
  std::set<std::string> names;
  for (const auto& [name, o] : target.live.objects()) names.insert(name);
  for (const auto& [name, o] : target.bundle.objects()) names.insert(name);
  for (const std::string& name : names) {
    const policy::BundleObject* was = target.live.Find(name);
    const policy::BundleObject* now_is = target.bundle.Find(name);
    if (was != nullptr && now_is != nullptr &&
        policy::RenderObject(*was) == policy::RenderObject(*now_is)) {
      continue;
    }
    const std::pair<std::string, std::string> kind_id =
        absl::StrSplit(name, absl::MaxSplits('/', 1));
    const std::string& kind = kind_id.first;
    const std::string& id = kind_id.second;
    if (now_is == nullptr) {
      // Removed (prune).
      if (kind == "profiles" || kind == store::kRolesKind ||
          kind == store::kGroupsKind) {
        std::vector<std::string> referrers =
            PolicyReferrers(target.state, name);
        if (kind == "profiles") {
          for (const auto& user : target.state.users()) {
            if (user.profile() == name) {
              referrers.push_back(absl::StrCat("users/", user.id(),
                                               " (profile)"));
            }
          }
        } else if (absl::Status a =
                       AddShareReferrers(session, store, name, &referrers);
                   !a.ok()) {
          return a;
        }
        if (absl::Status r = RefuseIfReferenced(name, std::move(referrers));
            !r.ok()) {
          return r;
        }
      }
      if (kind == "profiles") {
        auto row = identities.FindProfileById(session, id);
        if (!row.ok()) return row.status();
        if (!row->has_value()) return ChangedMeanwhile(name);
        auto done = identities.DeleteProfile(session, id, (*row)->version);
        if (!done.ok()) return done.status();
        if (!*done) return ChangedMeanwhile(name);
        continue;
      }
      auto row = store.GetObject(session, kind, id);
      if (!row.ok()) return row.status();
      if (!row->has_value()) return ChangedMeanwhile(name);
      auto done = store.DeleteObjectIfVersion(session, kind, id,
                                              (*row)->version);
      if (!done.ok()) return done.status();
      if (!*done) return ChangedMeanwhile(name);
      continue;
    }
    if (kind == "profiles") {
      const store::ProfileRow& row = target.profile_rows.at(name);
      if (was == nullptr) {
        if (absl::Status s = identities.CreateProfile(session, row); !s.ok()) {
          return s;
        }
        continue;
      }
      auto live = identities.FindProfileById(session, id);
      if (!live.ok()) return live.status();
      if (!live->has_value()) return ChangedMeanwhile(name);
      auto done = identities.UpdateProfile(session, row, (*live)->version);
      if (!done.ok()) return done.status();
      if (!*done) return ChangedMeanwhile(name);
      continue;
    }
    const std::string body = BodyOf(*now_is);
    if (was == nullptr) {
      if (absl::Status s =
              store.InsertObject(session, {kind, id, 1, body, now});
          !s.ok()) {
        return s;
      }
      continue;
    }
    auto row = store.GetObject(session, kind, id);
    if (!row.ok()) return row.status();
    if (!row->has_value()) return ChangedMeanwhile(name);
    auto done = store.UpdateObjectIfVersion(session, kind, id,
                                            (*row)->version, body, now);
    if (!done.ok()) return done.status();
    if (!*done) return ChangedMeanwhile(name);
  }
  return absl::OkStatus();
}

void ToInfo(const store::PolicyHistoryRow& row,
            crm::v1::PolicyVersionInfo* out) {
  out->set_version(row.version);
  *out->mutable_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(row.time);
  out->set_actor_user(row.actor_user);
  out->set_actor_service(row.actor_service);
  out->set_request_id(row.request_id);
  out->set_method(row.method);
  out->set_message(row.message);
  for (const std::string& name : row.changed) out->add_changed(name);
}

// The policy of one version from the history; NOT_FOUND naming what there
// is.
absl::StatusOr<std::pair<store::PolicyHistoryRow, PolicyState>> ReadVersion(
    ServerCore* core, int64_t version, absl::string_view field) {
  if (version <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": a policy version is 1 or more"));
  }
  store::PolicyStore store(core->database.get());
  std::optional<store::PolicyHistoryRow> row;
  absl::Status s = core->database->WithSession([&](store::Session& session) {
    auto got = store.GetHistory(session, version);
    if (!got.ok()) return got.status();
    row = *std::move(got);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!row.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        field, ": policy version ", version,
        " is not in the history; list the versions with `crmctl policy "
        "history`"));
  }
  PolicyState state;
  if (!state.ParseFromString(row->state)) {
    return absl::InternalError(absl::StrCat(
        "the stored policy of version ", version, " does not parse"));
  }
  return std::make_pair(*std::move(row), std::move(state));
}

}  // namespace

grpc::Status PolicyAdminServiceImpl::PlanPolicy(
    grpc::ServerContext* context, const crm::v1::PlanPolicyRequest* request,
    crm::v1::PolicyPlan* response) {
  return Run(context, *request, core_, "PlanPolicy", crm::v1::MANAGE_POLICY,
             [&](const std::string& service) -> absl::Status {
    auto bundle = CheckedBundle(request->bundle(), *core_);
    if (!bundle.ok()) return bundle.status();
    // The live policy: the one this server has installed when it is the
    // stored version (already read and compiled: no need to read and
    // compile every user again), else read from the database.
    store::PolicyStore store(core_->database.get());
    auto stored = store.PolicyVersion();
    if (!stored.ok()) return stored.status();
    std::shared_ptr<const PolicyState> live = loader_->CurrentState();
    std::shared_ptr<const policy::PolicySnapshot> compiled =
        core_->policy->Current();
    if (live == nullptr || live->version() != *stored ||
        compiled == nullptr || compiled->version() != *stored) {
      auto loaded = store.LoadState();
      if (!loaded.ok()) return loaded.status();
      live = std::make_shared<const PolicyState>(*std::move(loaded));
      compiled = nullptr;
    }
    auto target = MakeTarget(*live, *bundle, request->prune());
    if (!target.ok()) return target.status();
    response->set_base_version(live->version());
    AddChanges(*live, target->state, response->mutable_changes());
    response->set_no_change(response->changes().empty());
    return PlanImpact(*core_, *loader_, service, *live, target->state,
                      *request, response, std::move(compiled));
  });
}

grpc::Status PolicyAdminServiceImpl::ApplyPolicy(
    grpc::ServerContext* context, const crm::v1::ApplyPolicyRequest* request,
    crm::v1::ApplyPolicyResponse* response) {
  return Run(context, *request, core_, "ApplyPolicy", crm::v1::MANAGE_POLICY,
             [&](const std::string&) -> absl::Status {
    if (request->expect_version() < 0) {
      return absl::InvalidArgumentError(
          "expect_version: a policy version (PolicyPlan.base_version), or 0");
    }
    if (request->message().size() > kMaxMessageBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message: at most ", kMaxMessageBytes, " bytes"));
    }
    auto bundle = CheckedBundle(request->bundle(), *core_);
    if (!bundle.ok()) return bundle.status();
    const int64_t now = absl::ToUnixMicros(core_->clock->Now());
    store::IdentityStore identities(core_->database.get());
    bool changed = false;
    int64_t version = 0;
    int64_t live_version = 0;
    absl::Status s = ApplyPolicyState(
        core_, *loader_,
        [&](store::Session& session, store::PolicyStore& store,
            const PolicyState& before, PolicyState& after) -> absl::Status {
          // `before` is read after the bump: the live version is one less.
          live_version = before.version() - 1;
          if (request->expect_version() != 0 &&
              request->expect_version() != live_version) {
            return VersionMismatch(request->expect_version(), live_version);
          }
          auto target = MakeTarget(before, *bundle, request->prune());
          if (!target.ok()) return target.status();
          response->clear_changes();
          AddChanges(before, target->state, response->mutable_changes());
          if (response->changes().empty()) {
            after = before;  // nothing to write: rolled back as unchanged
            return absl::OkStatus();
          }
          if (absl::Status w =
                  WriteRows(session, store, identities, *target, now);
              !w.ok()) {
            return w;
          }
          after = std::move(target->state);
          after.set_version(before.version());
          return absl::OkStatus();
        },
        {.message = request->message(),
         .skip_if_unchanged = true,
         .changed = &changed,
         .version = &version});
    if (!s.ok()) return s;
    response->set_changed(changed);
    response->set_version(changed ? version : live_version);
    if (!changed) response->clear_changes();
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::ListPolicyVersions(
    grpc::ServerContext* context,
    const crm::v1::ListPolicyVersionsRequest* request,
    crm::v1::ListPolicyVersionsResponse* response) {
  return Run(context, *request, core_, "ListPolicyVersions",
             crm::v1::MANAGE_POLICY, [&](const std::string&) -> absl::Status {
    auto page_size = PageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    auto after = DecodePageToken(request->page_token(), "policyVersions",
                                 "ListPolicyVersions");
    if (!after.ok()) return after.status();
    int64_t before_version = 0;
    if (!after->empty() && !absl::SimpleAtoi(*after, &before_version)) {
      return absl::InvalidArgumentError(
          "page_token: not a token ListPolicyVersions issued");
    }
    store::PolicyStore store(core_->database.get());
    std::vector<store::PolicyHistoryRow> rows;
    absl::Status s = core_->database->WithSession([&](store::Session& session) {
      auto page = store.ListHistory(session, before_version, *page_size + 1);
      if (!page.ok()) return page.status();
      rows = *std::move(page);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    const bool more = static_cast<int>(rows.size()) > *page_size;
    if (more) rows.resize(*page_size);
    for (const auto& row : rows) ToInfo(row, response->add_versions());
    if (more) {
      response->set_next_page_token(EncodePageToken(
          "policyVersions", absl::StrCat(rows.back().version)));
    }
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::GetPolicyVersion(
    grpc::ServerContext* context,
    const crm::v1::GetPolicyVersionRequest* request,
    crm::v1::PolicyVersionBundle* response) {
  return Run(context, *request, core_, "GetPolicyVersion",
             crm::v1::MANAGE_POLICY, [&](const std::string&) -> absl::Status {
    auto got = ReadVersion(core_, request->version(), "version");
    if (!got.ok()) return got.status();
    ToInfo(got->first, response->mutable_info());
    for (auto& [path, text] :
         policy::RenderBundle(policy::BundleFromState(got->second))) {
      (*response->mutable_bundle()->mutable_files())[path] = std::move(text);
    }
    return absl::OkStatus();
  });
}

grpc::Status PolicyAdminServiceImpl::DiffPolicyVersions(
    grpc::ServerContext* context,
    const crm::v1::DiffPolicyVersionsRequest* request,
    crm::v1::DiffPolicyVersionsResponse* response) {
  return Run(context, *request, core_, "DiffPolicyVersions",
             crm::v1::MANAGE_POLICY, [&](const std::string&) -> absl::Status {
    auto from = ReadVersion(core_, request->from_version(), "from_version");
    if (!from.ok()) return from.status();
    auto to = ReadVersion(core_, request->to_version(), "to_version");
    if (!to.ok()) return to.status();
    AddChanges(from->second, to->second, response->mutable_changes());
    return absl::OkStatus();
  });
}

}  // namespace crm::server
