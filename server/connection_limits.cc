#include "server/connection_limits.h"

#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace crm::server {
namespace {

using crm::internal::ConnectionsConfig;

int Millis(uint32_t seconds) {
  return static_cast<int>(std::min<int64_t>(int64_t{seconds} * 1000, INT_MAX));
}

// Records the client certificate of the connection a call arrived on
// (accept_guard.h, TagConnection: the certificate's PEM text). Only the
// first call of a connection parses anything; later ones cost one peer
// lookup. Never refuses a call (ServiceIdentityProcessor and the TLS layer
// do that, cleanly, before any interceptor).
class ConnectionCertificateRecorder final
    : public grpc::experimental::Interceptor {
 public:
  explicit ConnectionCertificateRecorder(
      grpc::experimental::ServerRpcInfo* info)
      : info_(info) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::
                POST_RECV_INITIAL_METADATA)) {
      Record();
    }
    methods->Proceed();
  }

 private:
  void Record() {
    grpc::ServerContextBase* context = info_->server_context();
    if (context == nullptr) return;
    std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    if (auth == nullptr) return;
    TagConnection(context->peer(), [&auth] {
      std::vector<grpc::string_ref> pem =
          auth->FindPropertyValues("x509_pem_cert");
      return pem.empty() ? std::string()
                         : std::string(pem[0].data(), pem[0].size());
    });
  }

  grpc::experimental::ServerRpcInfo* info_;
};

class ConnectionCertificateRecorderFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ConnectionCertificateRecorder(info);
  }
};

}  // namespace

void FillConnectionDefaults(ConnectionsConfig* c) {
  if (c->max_concurrent_streams() == 0) c->set_max_concurrent_streams(100);
  if (c->handshake_timeout_seconds() == 0) c->set_handshake_timeout_seconds(10);
  if (c->keepalive_time_seconds() == 0) c->set_keepalive_time_seconds(60);
  if (c->keepalive_timeout_seconds() == 0) c->set_keepalive_timeout_seconds(20);
  if (c->max_connection_idle_seconds() == 0) {
    c->set_max_connection_idle_seconds(300);
  }
  if (c->max_connection_age_seconds() == 0) {
    c->set_max_connection_age_seconds(1800);
  }
  if (c->max_connection_age_grace_seconds() == 0) {
    c->set_max_connection_age_grace_seconds(30);
  }
  if (c->reserved_descriptors() == 0) c->set_reserved_descriptors(64);
}

absl::Status ApplyConnectionLimits(const ConnectionsConfig& config,
                                   grpc::ServerBuilder& builder) {
  ConnectionsConfig c = config;
  FillConnectionDefaults(&c);
  AcceptGuardOptions guard;
  guard.reserved_descriptors =
      static_cast<int>(std::min<uint32_t>(c.reserved_descriptors(), INT_MAX));
  guard.max_connections =
      static_cast<int>(std::min<uint32_t>(c.max_connections(), INT_MAX));
  if (absl::Status s = ConfigureAcceptGuard(guard); !s.ok()) return s;

  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(std::min<uint32_t>(
                                 c.max_concurrent_streams(), INT_MAX)));
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             Millis(c.handshake_timeout_seconds()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Millis(c.keepalive_time_seconds()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(c.keepalive_timeout_seconds()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             Millis(c.max_connection_idle_seconds()));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             Millis(c.max_connection_age_seconds()));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Millis(c.max_connection_age_grace_seconds()));
  return absl::OkStatus();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewConnectionCertificateRecorder() {
  return std::make_unique<ConnectionCertificateRecorderFactory>();
}

}  // namespace crm::server
