// The one request pipeline. Every RPC of every CRM service (resource,
// sharing, admin, user admin, auth, diagnostics, and any service added
// later) runs its handler through Pipeline::Run, which in order:
//
//   1. gives the call a request id: the caller's "x-request-id" when the
//      calling service is a trusted gateway and the value is 1-64 characters
//      of [A-Za-z0-9._-], else a new random one; returned to the caller in
//      the response's initial metadata ("x-request-id") and added to every
//      log line the call writes (base::ScopedRequestId);
//   2. takes the current policy snapshot, once for the whole call, and
//      authenticates the caller against it (AuthenticateRequest: service
//      identity, client address, login restrictions of the service and of
//      the session user's profile as compiled in that snapshot, session);
//   3. applies the request limits (limits.max_request_bytes, to every
//      method);
//   4. binds a policy::Evaluator to that same snapshot (so a restriction
//      change and a permission change take effect on the same call), and
//      checks the method's system permission if it needs one
//      (Evaluator::CheckSystem: the same decision WhoAmI reports); when a
//      shadow policy is set (admin_service.proto SetShadowPolicy), attaches
//      its candidate to the evaluator, which then compares every decision
//      it makes with the candidate's, never enforcing it; after the handler
//      the comparisons are counted and each disagreement recorded in the
//      audit trail (server/shadow_policy.h);
//   5. runs the handler (an exception becomes INTERNAL with an error id:
//      fail closed);
//   6. records the call in the audit trail when it must (crm/v1/
//      audit_service.proto): every refusal (with the rule that refused),
//      every login attempt, the session and lockout actions named by
//      MethodPolicy.audit_action, and allowed reads of objects whose
//      AuditConfig.reads is "all". Group commit: the call answers once its
//      event is committed; if it cannot be written in time an allowed call
//      is answered UNAVAILABLE instead (never served unaudited). Writes
//      record their own events in their transactions (records/,
//      admin_support.h), with the actor set here (audit::ScopedCall);
//   7. writes one structured log line ("rpc": method, code, principal,
//      peer, duration, and for a refusal its message and the rule that
//      refused) and records the call's metrics (server/metrics.h);
//   8. maps the absl::Status to the grpc::Status the caller sees, with its
//      google.rpc.Status details (server/status_util.h).
//
// tests/pipeline_test.cc enumerates every method of every registered
// service from the descriptors and proves each passes the pipeline (limits,
// log line, request id): a handler that skips it fails that test.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_PIPELINE_H_
#define CRM_SERVER_PIPELINE_H_

#include <optional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crm/v1/audit_service.pb.h"
#include "crm/v1/policy.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "base/decision_note.h"
#include "policy/evaluator.h"
#include "server/request_context.h"

namespace crm::server {

struct ServerCore;
class Metrics;
class ShadowCall;

inline constexpr char kRequestIdHeader[] = "x-request-id";

// What a method needs from the pipeline beyond authentication.
struct MethodPolicy {
  // The system permission the caller must hold, if any.
  std::optional<crm::v1::SystemPermission> requires_permission;
  // What an allowed call was decided by, for crm_decisions_total: "record"
  // (resource and sharing methods), "system" (admin methods), "login",
  // "none" (no access decision: Echo, WhoAmI, Logout).
  absl::string_view decision_kind = "none";
  // Audit (step 6): "login" records every attempt; another non-empty action
  // ("logout", "sessions.revoke", "users.unlock") records an OK call.
  absl::string_view audit_action;
  // The collection a read method reads; an OK call is recorded when
  // AuditConfig.reads is "all" for it.
  absl::string_view audit_read_object;
};

// What the handler of one call gets. Valid for the handler's duration.
class Call {
 public:
  const RequestContext& context() const { return *context_; }
  const policy::Principal& principal() const { return context_->principal; }
  const policy::Evaluator& evaluator() const { return *evaluator_; }
  const std::string& request_id() const { return request_id_; }
  grpc::ServerContext& server_context() const { return *server_context_; }
  // The draft of the call's audit event, for the handler to add what only
  // it knows (the resource, the logged-in user, attributes). Recorded by
  // the pipeline only when step 6 says so.
  crm::v1::AuditEvent& audit() const { return *audit_; }

 private:
  friend class Pipeline;
  Call(grpc::ServerContext* server_context, const std::string& request_id,
       const RequestContext* context, const policy::Evaluator* evaluator,
       crm::v1::AuditEvent* audit)
      : server_context_(server_context),
        request_id_(request_id),
        context_(context),
        evaluator_(evaluator),
        audit_(audit) {}

  grpc::ServerContext* server_context_;
  const std::string& request_id_;
  const RequestContext* context_;
  const policy::Evaluator* evaluator_;
  crm::v1::AuditEvent* audit_;
};

class Pipeline {
 public:
  using Handler = absl::FunctionRef<absl::Status(const Call&)>;

  // `core` (and its metrics, which may be null) must outlive the pipeline.
  explicit Pipeline(const ServerCore* core);

  // `method` is the full gRPC name, "crm.v1.AccountService/GetAccount".
  grpc::Status Run(grpc::ServerContext* context, absl::string_view method,
                   const google::protobuf::Message& request, Handler handler,
                   const MethodPolicy& policy = {}) const;

 private:
  // Step 4b: counts a call's shadow comparisons and records its
  // disagreements in the audit trail.
  void RecordShadow(const ShadowCall& call) const;
  std::string RequestId(const grpc::ServerContext& context,
                        const RequestContext* caller) const;
  // Step 6: whether the call is recorded, and recording it. Returns the
  // status the call answers with.
  absl::Status Audit(const grpc::ServerContext& context,
                     absl::string_view method, const MethodPolicy& policy,
                     const google::protobuf::Message& request,
                     const absl::StatusOr<RequestContext>& rc,
                     const std::optional<base::DecisionNote>& note,
                     bool refused, absl::Status status,
                     crm::v1::AuditEvent event) const;

  const ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_PIPELINE_H_
