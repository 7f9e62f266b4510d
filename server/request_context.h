// Step two of the request path: who is calling. Turns the transport facts
// (the mTLS identity established by ServiceIdentityProcessor, the peer
// address) into the principal that the policy evaluates.
#ifndef CRM_SERVER_REQUEST_CONTEXT_H_
#define CRM_SERVER_REQUEST_CONTEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "auth/service_registry.h"
#include "grpcpp/server_context.h"
#include "policy/principal.h"

namespace crm::server {

struct RequestContext {
  policy::Principal principal;
  std::string peer;  // gRPC peer string, for logs
};

// UNAUTHENTICATED if the call carries no registered service identity (the
// identity processor normally refuses those before any handler runs; this is
// the fail-closed second check).
absl::StatusOr<RequestContext> AuthenticateRequest(
    const grpc::ServerContext& context, const auth::ServiceRegistry& services);

}  // namespace crm::server

#endif  // CRM_SERVER_REQUEST_CONTEXT_H_
