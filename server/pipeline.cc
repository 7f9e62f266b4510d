#include "server/pipeline.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/consistency.h"
#include "base/decision_note.h"
#include "base/error.h"
#include "base/log.h"
#include "audit/call_scope.h"
#include "server/admin_support.h"
#include "server/metrics.h"
#include "server/server_core.h"
#include "server/shadow_policy.h"
#include "server/status_util.h"
#include "store/soci_util.h"

namespace crm::server {
namespace {

// The request's kMinPolicyVersionHeader, if any, honoured: `*snapshot`
// becomes a snapshot at least that new (ServerCore::await_policy_version),
// or the reason it cannot.
absl::Status AwaitPolicy(
    const grpc::ServerContext& context, const ServerCore& core,
    std::shared_ptr<const policy::PolicySnapshot>* snapshot) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(base::kMinPolicyVersionHeader);
  if (it == metadata.end()) return absl::OkStatus();
  const absl::string_view text(it->second.data(), it->second.size());
  int64_t min = 0;
  if (!absl::SimpleAtoi(text, &min) || min <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        base::kMinPolicyVersionHeader, ": '", absl::CHexEscape(text.substr(0, 40)),
        "' is not a policy version; send the value of a response's ",
        base::kPolicyVersionHeader));
  }
  if (*snapshot != nullptr && (*snapshot)->version() >= min) {
    return absl::OkStatus();
  }
  if (!core.await_policy_version) {
    return absl::UnavailableError(absl::StrCat(
        "this server cannot load policy version ", min, "; retry"));
  }
  if (absl::Status s = core.await_policy_version(min); !s.ok()) return s;
  *snapshot = core.policy->Current();
  return absl::OkStatus();
}

constexpr size_t kMaxRequestIdLength = 64;

bool ValidRequestId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  thread_local absl::BitGen bitgen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(bitgen));
}

// What kind of check refused a call that carries no decision note: the
// authentication step (UNAUTHENTICATED, or a login restriction's
// PERMISSION_DENIED before the handler ran) is "login".
absl::string_view RefusalKind(const absl::Status& status,
                              const std::optional<base::DecisionNote>& note,
                              bool authenticated) {
  if (note.has_value()) return note->kind;
  if (!authenticated) return "login";
  return "";
}

// The ErrorInfo reason of a refusal (google.rpc details), else its code.
std::string ReasonOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  std::string reason = base::GetReason(status);
  if (!reason.empty()) return reason;
  return std::string(absl::StatusCodeToString(status.code()));
}

}  // namespace

Pipeline::Pipeline(const ServerCore* core) : core_(core) {}

absl::Status Pipeline::Audit(const grpc::ServerContext& context,
                             absl::string_view method,
                             const MethodPolicy& policy,
                             const google::protobuf::Message& request,
                             const absl::StatusOr<RequestContext>& rc,
                             const std::optional<base::DecisionNote>& note,
                             bool refused, absl::Status status,
                             crm::v1::AuditEvent event) const {
  const bool login = policy.audit_action == "login";
  const bool unaudited_reads =
      !policy.audit_read_object.empty() &&
      core_->audit_settings.ReadsOf(policy.audit_read_object) ==
          AuditReads::kNone;
  // A call that did nothing because the database or the client went away
  // (not a decision) is not an event.
  const bool nothing_happened =
      !refused && (status.code() == absl::StatusCode::kUnavailable ||
                   status.code() == absl::StatusCode::kDeadlineExceeded ||
                   status.code() == absl::StatusCode::kCancelled);
  bool record = ((refused && !unaudited_reads) || login) && !nothing_happened;
  if (!record && status.ok()) {
    record = !policy.audit_action.empty() ||
             (!policy.audit_read_object.empty() &&
              core_->audit_settings.ReadsOf(policy.audit_read_object) ==
                  AuditReads::kAll);
  }
  if (!record) return status;
  if (event.action().empty()) {
    event.set_action(policy.audit_action.empty() ? std::string(method)
                                                 : std::string(
                                                       policy.audit_action));
  }
  if (event.resource().empty()) {
    // The request's target, when it names one ("name", "record").
    const auto* d = request.GetDescriptor();
    for (const char* field : {"name", "record"}) {
      const auto* f = d->FindFieldByName(field);
      if (f != nullptr && !f->is_repeated() &&
          f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
        event.set_resource(request.GetReflection()->GetString(request, f));
        break;
      }
    }
  }
  if (status.ok()) {
    event.set_outcome(crm::v1::ALLOWED);
  } else {
    event.set_outcome(refused ? crm::v1::DENIED : crm::v1::FAILED);
    if (event.reason().empty()) {
      event.set_reason(note.has_value()
                           ? absl::StrCat(note->kind, ":", note->rule)
                           : ReasonOf(status));
    }
    (*event.mutable_attributes())["message"] = std::string(status.message());
  }
  if (event.actor_service().empty() && !rc.ok()) {
    // Refused before the caller was known: the peer is all there is.
    (*event.mutable_attributes())["peer"] = context.peer();
  }
  if (rc.ok() && core_->authn != nullptr && core_->authn->geo() != nullptr) {
    if (auto country = core_->authn->geo()->CountryOf(rc->client_address)) {
      event.set_country(*country);
    }
  }
  audit::FillFromCall(&event);  // the writer thread has no call scope
  absl::Time deadline = std::min(
      absl::FromChrono(context.deadline()), absl::Now() + absl::Seconds(30));
  if (!status.ok()) {
    // Refused or failed: the answer does not wait for the event, which the
    // writer keeps until it is written (through an outage too).
    absl::Status queued = core_->audit->Enqueue(std::move(event), deadline);
    if (!queued.ok()) {
      base::Log(base::LogLevel::kError, "audit.event_not_queued",
                {{"method", std::string(method)},
                 {"error", std::string(queued.message())}});
    }
    return status;
  }
  // Never serve a call that should be audited and was not.
  return core_->audit->Record(std::move(event), deadline);
}

namespace {

std::string Answer(const policy::Decision& d, bool fields) {
  if (fields) return d.rule;
  return absl::StrCat(d.allowed ? "allow " : "deny ", d.rule);
}

}  // namespace

void Pipeline::RecordShadow(const ShadowCall& call) const {
  core_->shadow->Finish(call);
  if (core_->metrics != nullptr) {
    core_->metrics->ObserveShadow(call.agreed(), call.disagreed(), false);
  }
  if (core_->audit == nullptr) return;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (size_t i = 0; i < call.kept().size(); ++i) {
    const policy::ShadowDisagreement& d = call.kept()[i];
    const bool fields = d.question == "fields";
    crm::v1::AuditEvent e;
    e.set_action("policy.shadow_disagreement");
    e.set_resource(d.resource);
    e.set_outcome(d.live.allowed ? crm::v1::ALLOWED : crm::v1::DENIED);
    e.set_reason(d.live.rule);
    auto& a = *e.mutable_attributes();
    a["question"] = d.question;
    a["live"] = Answer(d.live, fields);
    a["shadow"] = Answer(d.shadow, fields);
    a["live_version"] = absl::StrCat(call.live_version);
    a["shadow_revision"] = absl::StrCat(call.revision);
    if (i + 1 == call.kept().size() && call.dropped() > 0) {
      a["more"] = absl::StrCat(call.dropped());
    }
    audit::FillFromCall(&e);
    // Not waited for (as a refusal's event): the call's answer does not
    // depend on the shadow.
    if (absl::Status s = core_->audit->Enqueue(std::move(e), deadline);
        !s.ok()) {
      base::Log(base::LogLevel::kError, "audit.event_not_queued",
                {{"action", "policy.shadow_disagreement"},
                 {"error", std::string(s.message())}});
    }
  }
}

std::string Pipeline::RequestId(const grpc::ServerContext& context,
                                const RequestContext* caller) const {
  if (caller != nullptr && caller->service != nullptr &&
      caller->service->trusted_gateway()) {
    const auto& metadata = context.client_metadata();
    auto it = metadata.find(kRequestIdHeader);
    if (it != metadata.end()) {
      absl::string_view given(it->second.data(), it->second.size());
      if (ValidRequestId(given)) return std::string(given);
    }
  }
  return NewRequestId();
}

grpc::Status Pipeline::Run(grpc::ServerContext* context,
                           absl::string_view method,
                           const google::protobuf::Message& request,
                           Handler handler, const MethodPolicy& policy) const {
  const absl::Time start = absl::Now();
  // One snapshot for the whole call: the session's login restrictions
  // (step 2) and every decision of the Evaluator (step 4) read the same
  // policy version.
  std::shared_ptr<const policy::PolicySnapshot> snapshot =
      core_->policy->Current();
  // 1b. Consistency: a request naming the policy version its client has
  // seen is decided by a snapshot at least that new (base/consistency.h).
  // Refused only after authentication, so an unauthenticated caller learns
  // nothing else first.
  const absl::Status consistency = AwaitPolicy(*context, *core_, &snapshot);
  // 2. Authenticate first: a trusted gateway's own id can only be honoured
  // once the caller is known to be that gateway.
  absl::StatusOr<RequestContext> rc =
      AuthenticateRequest(*context, *core_, snapshot.get());
  // 1. The request id, on the response whatever happens next.
  const std::string request_id =
      RequestId(*context, rc.ok() ? &*rc : nullptr);
  context->AddInitialMetadata(kRequestIdHeader, request_id);
  base::ScopedRequestId log_scope(request_id);

  // Who is acting, for audit events written anywhere in the call.
  audit::CallInfo call_info;
  call_info.request_id = request_id;
  call_info.method = std::string(method);
  if (rc.ok()) {
    call_info.actor_service = absl::StrCat("services/", rc->principal.service);
    if (rc->principal.acting_for_user()) {
      call_info.actor_user = rc->principal.ResourceName();
    }
    call_info.client_address = rc->client_address.ToString();
  } else {
    call_info.client_address = context->peer();
  }
  audit::ScopedCall audit_scope(&call_info);
  crm::v1::AuditEvent event;
  ShadowCall shadow_call;
  bool shadow_compared = false;

  absl::Status status = rc.status();
  if (status.ok()) status = consistency;
  // The version this call is decided with, for the response's token.
  const int64_t decided_version = snapshot != nullptr ? snapshot->version() : 0;
  if (status.ok()) {
    // 3. Limits, for every method.
    const size_t size = request.ByteSizeLong();
    const uint32_t limit = core_->config.limits().max_request_bytes();
    if (size > limit) {
      status = absl::InvalidArgumentError(absl::StrCat(
          "request is ", size, " bytes; the limit is ", limit,
          " (see FieldBehavior.max_length in resources.proto for field "
          "limits)"));
    }
  }
  if (status.ok()) {
    // 4. One evaluator, bound to one snapshot, for the whole call; with the
    // shadow policy's candidate attached when one is set (shadow_policy.h):
    // compared, never enforced.
    policy::Evaluator evaluator(std::move(snapshot), rc->principal);
    if (core_->shadow != nullptr && evaluator.snapshot() != nullptr) {
      ShadowPolicy::ForCall shadow =
          core_->shadow->CandidateFor(*evaluator.snapshot());
      if (shadow.candidate != nullptr) {
        shadow_call.revision = shadow.revision;
        shadow_call.live_version = evaluator.snapshot()->version();
        evaluator.AttachShadow(std::move(shadow.candidate), &shadow_call);
        shadow_compared = true;
      } else if (shadow.not_compared) {
        core_->shadow->NotCompared();
        if (core_->metrics != nullptr) {
          core_->metrics->ObserveShadow(0, 0, /*not_compared=*/true);
        }
      }
    }
    if (policy.requires_permission.has_value()) {
      // "crm.v1.UserAdminService/CreateUser" -> "UserAdminService.CreateUser"
      std::string rpc(method);
      if (size_t dot = rpc.rfind('.', rpc.find('/')); dot != std::string::npos) {
        rpc = rpc.substr(dot + 1);
      }
      std::replace(rpc.begin(), rpc.end(), '/', '.');
      status = CheckSystemPermission(evaluator, *policy.requires_permission,
                                     rpc);
    }
    if (status.ok()) {
      // 5. The handler; nothing it throws escapes unclassified.
      const Call call(context, request_id, &*rc, &evaluator, &event);
      try {
        status = handler(call);
      } catch (const std::exception& e) {
        status = store::InternalErrorWithId(method, e.what());
      } catch (...) {
        status = store::InternalErrorWithId(method, "unknown exception");
      }
    }
  }

  // 4b. The shadow policy's comparisons, counted and (disagreements)
  // recorded whatever the call's outcome.
  if (shadow_compared) RecordShadow(shadow_call);

  // 6. The audit trail.
  const std::optional<base::DecisionNote> note = base::DecisionNoteOf(status);
  const bool refused = status.code() == absl::StatusCode::kPermissionDenied ||
                       status.code() == absl::StatusCode::kUnauthenticated ||
                       note.has_value();
  if (core_->audit != nullptr) {
    status = Audit(*context, method, policy, request, rc, note, refused,
                   std::move(status), std::move(event));
  }

  // 7. One log line and the metrics.
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (Metrics* metrics = core_->metrics.get(); metrics != nullptr) {
    metrics->ObserveCall(method, status.code(), seconds);
    if (refused) {
      metrics->ObserveDecision(false, RefusalKind(status, note, rc.ok()));
    } else if (status.ok() && policy.decision_kind != "none") {
      metrics->ObserveDecision(true, policy.decision_kind);
    }
    if (policy.decision_kind == "login") {
      metrics->ObserveLogin(status.ok(), ReasonOf(status));
    }
  }
  const base::LogLevel level =
      status.ok() ? base::LogLevel::kInfo
      : status.code() == absl::StatusCode::kInternal ||
              status.code() == absl::StatusCode::kUnknown ||
              status.code() == absl::StatusCode::kDataLoss
          ? base::LogLevel::kError
          : base::LogLevel::kInfo;
  if (base::LogEnabled(level)) {
    const std::string principal =
        rc.ok() ? rc->principal.ResourceName() : std::string("-");
    const std::string duration = absl::StrFormat("%.3f", seconds * 1e3);
    const std::string code(absl::StatusCodeToString(status.code()));
    if (status.ok()) {
      base::Log(level, "rpc",
                {{"method", std::string(method)},
                 {"code", code},
                 {"principal", principal},
                 {"peer", context->peer()},
                 {"duration_ms", duration}});
    } else {
      base::Log(level, "rpc",
                {{"method", std::string(method)},
                 {"code", code},
                 {"principal", principal},
                 {"peer", context->peer()},
                 {"duration_ms", duration},
                 {"message", std::string(status.message())},
                 {"decided_by",
                  note.has_value()
                      ? absl::StrCat(note->kind, ":", note->rule)
                      : std::string()}});
    }
  }
  // 8. The status the caller sees, with the consistency token: the newer of
  // the version decided with and the one installed now (a policy write on
  // this server installs the version it made before answering).
  const std::shared_ptr<const policy::PolicySnapshot> now =
      core_->policy->Current();
  const int64_t token =
      std::max(decided_version, now != nullptr ? now->version() : 0);
  if (token > 0) {
    context->AddTrailingMetadata(base::kPolicyVersionHeader,
                                 absl::StrCat(token));
  }
  return ToGrpcStatus(status);
}

}  // namespace crm::server
