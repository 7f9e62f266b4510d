#include "audit/call_scope.h"

namespace crm::audit {
namespace {
thread_local const CallInfo* current_call = nullptr;
}  // namespace

const CallInfo* CurrentCall() { return current_call; }

void FillFromCall(crm::v1::AuditEvent* event) {
  const CallInfo* call = current_call;
  if (call == nullptr) return;
  if (event->request_id().empty()) event->set_request_id(call->request_id);
  if (event->actor_user().empty()) event->set_actor_user(call->actor_user);
  if (event->actor_service().empty()) {
    event->set_actor_service(call->actor_service);
  }
  if (event->client_address().empty()) {
    event->set_client_address(call->client_address);
  }
  if (event->country().empty()) event->set_country(call->country);
}

ScopedCall::ScopedCall(const CallInfo* info) : previous_(current_call) {
  current_call = info;
}

ScopedCall::~ScopedCall() { current_call = previous_; }

}  // namespace crm::audit
