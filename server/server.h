// The CRM server: wires the request path together and serves it over mTLS.
//
//   TLS handshake (client certificate required and verified, CRL checked)
//     -> ServiceIdentityProcessor: registered service or UNAUTHENTICATED
//     -> RecordHandler (gRPC adapter): AuthenticateRequest -> limits ->
//        policy::Evaluator -> records/ (the lifecycle: object, record and
//        field checks) -> store::RecordStore
//
// Start() fails closed: a database that cannot be migrated, a schema that
// does not match the binary, a bad TLS file or an invalid policy stops the
// server before it listens. A database that cannot be reached yet is not a
// reason to stop: the server listens with health NOT_SERVING, answers
// UNAVAILABLE, and finishes starting (migrations, policy, before_serving)
// once the database accepts connections; if that start-up then fails, the
// server shuts itself down and startup_status() says why.
//
// Health (grpc.health.v1): "" and every service that needs the database are
// SERVING only while the server has started, its database is available and
// it is not shutting down; crm.v1.DiagnosticsService is SERVING until the
// server shuts down. From Shutdown on, every service is NOT_SERVING for good.
#ifndef CRM_SERVER_SERVER_H_
#define CRM_SERVER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "auth/clock.h"
#include "crm/internal/server_config.pb.h"
#include "grpcpp/server.h"
#include "server/server_core.h"

namespace crm::server {

class RetentionScheduler;  // server/retention_scheduler.h

class CallGate;
class PolicyLoader;

class CrmServer {
 public:
  // Runs against the migrated database before the server accepts calls
  // (e.g. loading the demo organisation); the stored policy is compiled again
  // afterwards, so the first call already sees what it wrote.
  using BeforeServing = std::function<absl::Status(ServerCore&)>;

  // For tests and benchmarks only; crm_server never passes any. Builds a
  // service that is registered on the same server, port and TLS credentials
  // as the CRM services (so the handshake, the service identity check and
  // the interceptors apply) but does NOT run through the request pipeline:
  // no session, limits, policy, log line or metrics. bench/ uses it for an
  // unprotected read to compare Get with (bench/unprotected_read_service.h).
  // Called once during Start with the server's core, which outlives the
  // service (the server owns it).
  using ExtraService =
      std::function<std::unique_ptr<grpc::Service>(ServerCore&)>;

  // `config` must already be finalized (FinalizeConfig). `clock` may be null
  // for the system clock; if set it must outlive the server. If
  // `before_serving` fails, Start fails with its status. `extra_services`:
  // see ExtraService (tests and benchmarks only).
  static absl::StatusOr<std::unique_ptr<CrmServer>> Start(
      const crm::internal::ServerConfig& config, auth::Clock* clock = nullptr,
      const BeforeServing& before_serving = nullptr,
      const std::vector<ExtraService>& extra_services = {});

  ~CrmServer();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  // Graceful stop, in the steps of ServerConfig.shutdown_* (proto/crm/
  // internal/server_config.proto): health NOT_SERVING for every service at
  // once and for good; serve normally for `drain`; then refuse new calls
  // (UNAVAILABLE, server/call_gate.h) and wait up to `grace` for every call
  // admitted before, running or still queued; cancel whatever still runs
  // then. Health Watch streams are ended at the last step. Blocks until
  // done: drain + at most grace (+ the time handlers still running at its
  // end take to return). Idempotent: a second call returns at once (use
  // Wait). Thread-safe.
  //
  // Limit: a call admitted before the stop whose request message has not
  // fully arrived 2 s after the server stopped taking calls may be
  // cancelled (it is told apart from a call its client abandoned only by
  // arriving).
  void Shutdown(absl::Duration grace,
                absl::Duration drain = absl::ZeroDuration());

  // Blocks until Shutdown has completed.
  void Wait();

  // Calls admitted past the shutdown gate since start (server/call_gate.h),
  // for tests and diagnostics.
  int64_t admitted_calls() const;

  ServerCore& core() { return *core_; }

  // OK unless a start-up deferred until the database came up failed (the
  // server then shut itself down: Wait returns). crm_server exits non-zero.
  absl::Status startup_status() const;

  // Compiles the stored policy (policy objects, users, profiles) now and
  // installs it; otherwise changes written straight to the database, not
  // through the admin services, are picked up by the next poll (within a
  // second). For tools and tests that write those rows directly.
  absl::Status ReloadPolicy();

 private:
  CrmServer() = default;

  // The deferred start-up (a database that was not there at Start).
  void FinishStartup(BeforeServing before_serving);
  // Sets the health statuses from ready_, database availability and
  // shutdown.
  void UpdateHealth();

  crm::internal::ServerConfig config_;
  std::unique_ptr<ServerCore> core_;
  std::shared_ptr<PolicyLoader> policy_loader_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::shared_ptr<CallGate> call_gate_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> shut_down_{false};

  std::atomic<bool> ready_{false};
  std::vector<std::string> health_names_;
  absl::Mutex health_mu_;
  bool serving_ ABSL_GUARDED_BY(health_mu_) = false;
  bool health_set_ ABSL_GUARDED_BY(health_mu_) = false;

  mutable absl::Mutex startup_mu_;
  bool stopping_startup_ ABSL_GUARDED_BY(startup_mu_) = false;
  absl::Status startup_status_ ABSL_GUARDED_BY(startup_mu_);
  std::thread startup_;
  // Last: stopped (joined) before anything it uses is destroyed.
  std::unique_ptr<RetentionScheduler> retention_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_SERVER_H_
