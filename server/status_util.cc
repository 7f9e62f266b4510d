#include "server/status_util.h"

#include <string>

#include "base/error.h"

namespace crm::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering.
  const auto code = static_cast<grpc::StatusCode>(status.code());
  if (!base::HasDetails(status)) {
    return grpc::Status(code, std::string(status.message()));
  }
  return grpc::Status(code, std::string(status.message()),
                      base::SerializeRpcStatus(base::ToRpcStatus(status)));
}

}  // namespace crm::server
