// DiagnosticsService: Echo, the benchmark baseline. Passes transport
// security and caller identity, touches neither policy nor storage.
#ifndef CRM_SERVER_DIAGNOSTICS_SERVICE_H_
#define CRM_SERVER_DIAGNOSTICS_SERVICE_H_

#include <memory>

#include "auth/service_registry.h"
#include "crm/v1/diagnostics.grpc.pb.h"

namespace crm::server {

class DiagnosticsServiceImpl final : public crm::v1::DiagnosticsService::Service {
 public:
  explicit DiagnosticsServiceImpl(
      std::shared_ptr<const auth::ServiceRegistry> services)
      : services_(std::move(services)) {}

  grpc::Status Echo(grpc::ServerContext* context,
                    const crm::v1::EchoRequest* request,
                    crm::v1::EchoResponse* response) override;

 private:
  std::shared_ptr<const auth::ServiceRegistry> services_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_DIAGNOSTICS_SERVICE_H_
