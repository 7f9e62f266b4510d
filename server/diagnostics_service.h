// DiagnosticsService: Echo, the benchmark baseline. Passes transport
// security and caller identity, touches neither policy nor storage.
#ifndef CRM_SERVER_DIAGNOSTICS_SERVICE_H_
#define CRM_SERVER_DIAGNOSTICS_SERVICE_H_

#include "crm/v1/diagnostics.grpc.pb.h"

namespace crm::server {

class DiagnosticsServiceImpl final : public crm::v1::DiagnosticsService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context,
                    const crm::v1::EchoRequest* request,
                    crm::v1::EchoResponse* response) override;
};

}  // namespace crm::server

#endif  // CRM_SERVER_DIAGNOSTICS_SERVICE_H_
