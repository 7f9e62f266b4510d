// DiagnosticsService: Echo, the benchmark baseline. Passes transport
// security and caller identity, touches no policy; storage only when asked
// to ping the database (EchoRequest.ping_database: one SELECT 1).
#ifndef CRM_SERVER_DIAGNOSTICS_SERVICE_H_
#define CRM_SERVER_DIAGNOSTICS_SERVICE_H_

#include <memory>

#include "crm/v1/diagnostics.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class DiagnosticsServiceImpl final : public crm::v1::DiagnosticsService::Service {
 public:
  // `core` must outlive the service.
  explicit DiagnosticsServiceImpl(const ServerCore* core) : core_(core) {}

  grpc::Status Echo(grpc::ServerContext* context,
                    const crm::v1::EchoRequest* request,
                    crm::v1::EchoResponse* response) override;

 private:
  const ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_DIAGNOSTICS_SERVICE_H_
