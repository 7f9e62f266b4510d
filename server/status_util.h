// The one mapping from absl::Status (used across module boundaries) to
// grpc::Status (what callers see). Codes map one to one; messages pass
// through unchanged, so modules write messages a person can act on.
#ifndef CRM_SERVER_STATUS_UTIL_H_
#define CRM_SERVER_STATUS_UTIL_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace crm::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace crm::server

#endif  // CRM_SERVER_STATUS_UTIL_H_
