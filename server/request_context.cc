#include "server/request_context.h"

#include "absl/status/status.h"
#include "server/identity.h"

namespace crm::server {

absl::StatusOr<RequestContext> AuthenticateRequest(
    const grpc::ServerContext& context, const auth::ServiceRegistry& services) {
  std::optional<std::string> service = CallerService(context, services);
  if (!service.has_value() || service->empty()) {
    return absl::UnauthenticatedError(
        "the caller has no registered service identity");
  }
  RequestContext out;
  out.principal.service = *service;
  out.peer = context.peer();
  return out;
}

}  // namespace crm::server
