#include "server/diagnostics_service.h"

#include "absl/strings/str_cat.h"
#include "server/pipeline.h"
#include "store/statement.h"

namespace crm::server {

grpc::Status DiagnosticsServiceImpl::Echo(grpc::ServerContext* context,
                                          const crm::v1::EchoRequest* request,
                                          crm::v1::EchoResponse* response) {
  return core_->pipeline->Run(
      context, "crm.v1.DiagnosticsService/Echo", *request,
      [&](const Call& call) -> absl::Status {
        if (request->ping_database()) {
          absl::Status ping =
              core_->database->WithSession([](store::Session& s) {
                static const model::SqlFragment kPing = {"SELECT 1", {}};
                return store::QueryInt(s, kPing, "pinging the database",
                                       store::Reuse::kCached)
                    .status();
              });
          if (!ping.ok()) {
            return absl::UnavailableError(absl::StrCat(
                "the database cannot be reached: ", ping.message()));
          }
        }
        response->set_payload(request->payload());
        response->set_caller(call.principal().ResourceName());
        return absl::OkStatus();
      });
}

}  // namespace crm::server
