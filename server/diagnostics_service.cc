#include "server/diagnostics_service.h"

#include "server/request_context.h"
#include "server/status_util.h"

namespace crm::server {

grpc::Status DiagnosticsServiceImpl::Echo(grpc::ServerContext* context,
                                          const crm::v1::EchoRequest* request,
                                          crm::v1::EchoResponse* response) {
  absl::StatusOr<RequestContext> rc = AuthenticateRequest(*context, *core_);
  if (!rc.ok()) return ToGrpcStatus(rc.status());
  response->set_payload(request->payload());
  response->set_caller(rc->principal.ResourceName());
  return grpc::Status::OK;
}

}  // namespace crm::server
