// The one mapping from absl::Status (used across module boundaries) to
// grpc::Status (what callers see). Codes map one to one; messages pass
// through unchanged, so modules write messages a person can act on.
//
// Details (base/error.h: google.rpc.ErrorInfo, BadRequest, ... attached as
// payloads) travel as one serialized google.rpc.Status in grpc::Status's
// binary error details, which gRPC sends as the "grpc-status-details-bin"
// trailer (proto/crm/v1/errors.proto). A status without details gets no
// trailer: exactly code and message, as before.
#ifndef CRM_SERVER_STATUS_UTIL_H_
#define CRM_SERVER_STATUS_UTIL_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace crm::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace crm::server

#endif  // CRM_SERVER_STATUS_UTIL_H_
