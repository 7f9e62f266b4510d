// Who is acting in the current call, for audit events written deep in the
// call (in a record or policy transaction) without passing it through every
// layer: the request pipeline (server/pipeline.cc) sets it for the duration
// of a handler, like base::ScopedRequestId for log lines. Empty outside a
// call (background jobs: retention).
//
// Thread-safety: thread-local; a handler's own thread sees its call.
#ifndef CRM_AUDIT_CALL_SCOPE_H_
#define CRM_AUDIT_CALL_SCOPE_H_

#include <string>

#include "crm/v1/audit_service.pb.h"

namespace crm::audit {

struct CallInfo {
  std::string request_id;
  std::string actor_user;     // "users/{id}" or ""
  std::string actor_service;  // "services/{name}" or ""
  std::string client_address;
  std::string country;
  // The full gRPC method, "crm.v1.PolicyAdminService/ApplyPolicy" (for the
  // policy's history; events carry it as their action instead).
  std::string method;
};

// The current call, or nullptr.
const CallInfo* CurrentCall();

// Fills the actor, request and client fields of `event` that are empty from
// the current call (if any).
void FillFromCall(crm::v1::AuditEvent* event);

class ScopedCall {
 public:
  explicit ScopedCall(const CallInfo* info);
  ~ScopedCall();
  ScopedCall(const ScopedCall&) = delete;
  ScopedCall& operator=(const ScopedCall&) = delete;

 private:
  const CallInfo* previous_;
};

}  // namespace crm::audit

#endif  // CRM_AUDIT_CALL_SCOPE_H_
