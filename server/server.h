// The CRM server: wires the request path together and serves it over mTLS.
//
//   TLS handshake (client certificate required and verified, CRL checked)
//     -> ServiceIdentityProcessor: registered service or UNAUTHENTICATED
//     -> RecordHandler: AuthenticateRequest -> policy::Evaluator (object,
//        record, field) -> store::RecordStore
//
// Start() fails closed: a database that cannot be migrated, a schema that
// does not match the binary, a bad TLS file or an invalid policy stops the
// server before it listens.
#ifndef CRM_SERVER_SERVER_H_
#define CRM_SERVER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/clock.h"
#include "crm/internal/server_config.pb.h"
#include "grpcpp/server.h"
#include "server/record_handler.h"

namespace crm::server {

class PolicyLoader;

class CrmServer {
 public:
  // Runs against the migrated database before the server accepts calls
  // (e.g. loading the demo organisation); the stored policy is compiled again
  // afterwards, so the first call already sees what it wrote.
  using BeforeServing = std::function<absl::Status(ServerCore&)>;

  // `config` must already be finalized (FinalizeConfig). `clock` may be null
  // for the system clock; if set it must outlive the server. If
  // `before_serving` fails, Start fails with its status.
  static absl::StatusOr<std::unique_ptr<CrmServer>> Start(
      const crm::internal::ServerConfig& config, auth::Clock* clock = nullptr,
      const BeforeServing& before_serving = nullptr);

  ~CrmServer();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  // Stops accepting calls, lets in-flight calls finish for up to `grace`,
  // then cancels the rest. Idempotent.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown has completed.
  void Wait();

  ServerCore& core() { return *core_; }

  // Compiles the stored policy (policy objects, users, profiles) now and
  // installs it; otherwise changes written straight to the database, not
  // through the admin services, are picked up by the next poll (within a
  // second). For tools and tests that write those rows directly.
  absl::Status ReloadPolicy();

 private:
  CrmServer() = default;

  crm::internal::ServerConfig config_;
  std::unique_ptr<ServerCore> core_;
  std::shared_ptr<PolicyLoader> policy_loader_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shut_down_{false};
};

}  // namespace crm::server

#endif  // CRM_SERVER_SERVER_H_
