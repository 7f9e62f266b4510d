// Client connection limits and timeouts (ConnectionsConfig in
// proto/crm/internal/server_config.proto) applied to a gRPC server.
//
// The HTTP/2 limits are gRPC channel arguments; the connection count and
// descriptor reserve are enforced by the accept guard (accept_guard.h),
// which also keeps the listener alive when descriptors run out. A server
// calls ApplyConnectionLimits on its ServerBuilder, adds
// NewConnectionCertificateRecorder() to its interceptors, then, once
// BuildAndStart has bound the port, calls GuardListeningPort(port).
#ifndef CRM_SERVER_CONNECTION_LIMITS_H_
#define CRM_SERVER_CONNECTION_LIMITS_H_

#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "absl/status/status.h"
#include "crm/internal/server_config.pb.h"
#include "server/accept_guard.h"

namespace crm::server {

// Sets every 0 field of `connections` to its documented default.
void FillConnectionDefaults(crm::internal::ConnectionsConfig* connections);

// On `builder` (0 fields of `connections` meaning their defaults):
//   - channel arguments GRPC_ARG_MAX_CONCURRENT_STREAMS,
//     GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, GRPC_ARG_KEEPALIVE_TIME_MS /
//     _TIMEOUT_MS (with pings also on connections without calls, so that a
//     dead idle peer is found), GRPC_ARG_MAX_CONNECTION_IDLE_MS / AGE_MS /
//     AGE_GRACE_MS;
//   - the accept guard's options (process-wide: the last call wins).
// Fails (FAILED_PRECONDITION) if the descriptor limit is too low for
// reserved_descriptors; the builder must not be used then. Sets no
// interceptor (the server keeps them in one list, see below).
absl::Status ApplyConnectionLimits(
    const crm::internal::ConnectionsConfig& connections,
    grpc::ServerBuilder& builder);

// A server interceptor factory that records, on the first call of each
// connection, which client certificate the connection presented
// (accept_guard.h TagConnection, the certificate's PEM text), so that the
// TLS layer can close connections whose certificate is revoked or expires
// (tls.h, "Open connections"). Never refuses a call. Add it to the
// server's interceptor list: a ServerBuilder keeps only the last list set.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewConnectionCertificateRecorder();

}  // namespace crm::server

#endif  // CRM_SERVER_CONNECTION_LIMITS_H_
