// PolicyAdminService's shadow policy methods (crm/v1/admin_service.proto
// SetShadowPolicy, GetShadowPolicy, ClearShadowPolicy). The candidate is
// stored by store::PolicyStore::PutShadow with its audit event in the same
// transaction; this server loads it at once (ShadowPolicy::Refresh), the
// others on their next refresh round.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/call_scope.h"
#include "server/pipeline.h"
#include "server/policy_admin_service.h"
#include "server/policy_loader.h"
#include "server/policy_target.h"
#include "server/shadow_policy.h"
#include "store/policy_store.h"

namespace crm::server {
namespace {

constexpr size_t kMaxShadowMessageBytes = 1000;

template <typename Fn>
grpc::Status Run(grpc::ServerContext* context,
                 const google::protobuf::Message& request, ServerCore* core,
                 const char* method, Fn fn) {
  return RunPolicyAdminMethod(context, request, *core, method,
                              crm::v1::MANAGE_POLICY,
                              [&](const Call&) { return fn(); });
}

// Stores `row` (its audit event `action` in the same transaction) and loads
// it on this server.
absl::Status Store(ServerCore* core, store::ShadowPolicyRow row,
                   int64_t expect_revision, const std::string& action,
                   int64_t* revision) {
  if (const audit::CallInfo* call = audit::CurrentCall(); call != nullptr) {
    row.actor_user = call->actor_user;
    row.actor_service = call->actor_service;
  }
  row.time = absl::ToUnixMicros(core->clock->Now());
  store::PolicyStore store(core->database.get());
  absl::Status s = core->database->InTransaction(
      [&](store::Session& session) -> absl::Status {
        auto r = store.PutShadow(session, row, expect_revision);
        if (!r.ok()) return r.status();
        *revision = *r;
        crm::v1::AuditEvent e;
        e.set_action(action);
        e.set_resource("shadowPolicy");
        e.set_outcome(crm::v1::ALLOWED);
        auto& a = *e.mutable_attributes();
        a["revision"] = absl::StrCat(*revision);
        if (!row.message.empty()) a["message"] = row.message;
        if (row.active) a["prune"] = row.prune ? "true" : "false";
        audit::FillFromCall(&e);
        std::vector<crm::v1::AuditEvent> events;
        events.push_back(std::move(e));
        return core->audit->AppendInTransaction(session, std::move(events));
      });
  if (!s.ok()) return s;
  return core->shadow->Refresh(/*force=*/true);
}

// The status, with the candidate's changes against the live policy now.
absl::Status Describe(ServerCore* core, const PolicyLoader& loader,
                      crm::v1::ShadowPolicyStatus* out) {
  core->shadow->Describe(out);
  bool prune = false;
  std::shared_ptr<const policy::PolicyBundle> bundle =
      core->shadow->bundle(&prune);
  std::shared_ptr<const crm::internal::PolicyState> live =
      loader.CurrentState();
  if (bundle == nullptr || live == nullptr) return absl::OkStatus();
  auto target = MakeTarget(*live, *bundle, prune);
  if (!target.ok()) return target.status();
  AddChanges(*live, target->state, out->mutable_changes());
  return absl::OkStatus();
}

}  // namespace

grpc::Status PolicyAdminServiceImpl::SetShadowPolicy(
    grpc::ServerContext* context,
    const crm::v1::SetShadowPolicyRequest* request,
    crm::v1::ShadowPolicyStatus* response) {
  return Run(context, *request, core_, "SetShadowPolicy", [&] {
    if (request->message().size() > kMaxShadowMessageBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message: at most ", kMaxShadowMessageBytes, " bytes"));
    }
    auto bundle = CheckedBundle(request->bundle(), *core_);
    if (!bundle.ok()) return bundle.status();
    // It must compile against the live policy as it is now, as an apply
    // would (a candidate that cannot be enforced cannot be shadowed).
    std::shared_ptr<const crm::internal::PolicyState> live =
        loader_->CurrentState();
    if (live == nullptr) {
      return absl::UnavailableError("the live policy is not loaded yet; retry");
    }
    auto target = MakeTarget(*live, *bundle, request->prune());
    if (!target.ok()) return target.status();
    if (auto compiled = loader_->Compile(target->state); !compiled.ok()) {
      return compiled.status();
    }
    store::ShadowPolicyRow row;
    row.active = true;
    row.prune = request->prune();
    row.message = request->message();
    row.bundle = request->bundle().SerializeAsString();
    int64_t revision = 0;
    if (absl::Status s =
            Store(core_, std::move(row), 0, "policy.shadow_set", &revision);
        !s.ok()) {
      return s;
    }
    return Describe(core_, *loader_, response);
  });
}

grpc::Status PolicyAdminServiceImpl::GetShadowPolicy(
    grpc::ServerContext* context,
    const crm::v1::GetShadowPolicyRequest* request,
    crm::v1::ShadowPolicyStatus* response) {
  return Run(context, *request, core_, "GetShadowPolicy", [&] {
    // What the database holds now (another server may have set it a moment
    // ago), then this server's view of it.
    if (absl::Status s = core_->shadow->Refresh(); !s.ok()) return s;
    return Describe(core_, *loader_, response);
  });
}

grpc::Status PolicyAdminServiceImpl::ClearShadowPolicy(
    grpc::ServerContext* context,
    const crm::v1::ClearShadowPolicyRequest* request,
    crm::v1::ShadowPolicyStatus* response) {
  return Run(context, *request, core_, "ClearShadowPolicy", [&] {
    if (request->expect_revision() < 0) {
      return absl::InvalidArgumentError(
          "expect_revision: a revision (ShadowPolicyStatus.revision), or 0");
    }
    if (absl::Status s = core_->shadow->Refresh(); !s.ok()) return s;
    crm::v1::ShadowPolicyStatus now;
    core_->shadow->Describe(&now);
    if (!now.active() && (request->expect_revision() == 0 ||
                          request->expect_revision() == now.revision())) {
      *response = std::move(now);  // nothing to clear
      return absl::OkStatus();
    }
    int64_t revision = 0;
    if (absl::Status s = Store(core_, store::ShadowPolicyRow{},
                               request->expect_revision(),
                               "policy.shadow_clear", &revision);
        !s.ok()) {
      return s;
    }
    return Describe(core_, *loader_, response);
  });
}

}  // namespace crm::server
