#include "server/diagnostics_service.h"

#include "absl/strings/str_cat.h"
#include "server/request_context.h"
#include "server/status_util.h"
#include "store/statement.h"

namespace crm::server {

grpc::Status DiagnosticsServiceImpl::Echo(grpc::ServerContext* context,
                                          const crm::v1::EchoRequest* request,
                                          crm::v1::EchoResponse* response) {
  absl::StatusOr<RequestContext> rc = AuthenticateRequest(*context, *core_);
  if (!rc.ok()) return ToGrpcStatus(rc.status());
  if (request->ping_database()) {
    absl::Status ping = core_->database->WithSession([](store::Session& s) {
      static const model::SqlFragment kPing = {"SELECT 1", {}};
      return store::QueryInt(s, kPing, "pinging the database",
                             store::Reuse::kCached)
          .status();
    });
    if (!ping.ok()) {
      return ToGrpcStatus(absl::UnavailableError(absl::StrCat(
          "the database cannot be reached: ", ping.message())));
    }
  }
  response->set_payload(request->payload());
  response->set_caller(rc->principal.ResourceName());
  return grpc::Status::OK;
}

}  // namespace crm::server
