// Prometheus metrics of the server (prometheus-cpp), served over plain HTTP
// on their own address (ServerConfig.metrics.listen_address; off when
// empty). What is exported, with its labels:
//
//   crm_rpc_calls_total{method,code}           every call, by final status
//   crm_rpc_duration_seconds{method,code}      histogram of the same calls
//   crm_decisions_total{outcome,kind}          allow/deny by what decided:
//       kind = object | record | field | system | login | none
//   crm_login_attempts_total{outcome,reason}   AuthService.Login only;
//       reason = the ErrorInfo reason of a refusal ("OK" for a success)
//   crm_tls_handshake_failures_total{reason}   refused handshakes, process-
//       wide (server/tls.h): revoked (the CRL verifier) | handshake
//       (OpenSSL in gRPC: no or untrusted certificate, protocol), read at
//       scrape
//   crm_policy_version, crm_policy_snapshot_age_seconds (read at scrape)
//   crm_db_pool_size, crm_db_pool_in_use, crm_db_pool_waits_total,
//   crm_db_errors_total, crm_db_available (read at scrape)
//
// Methods are full gRPC names ("crm.v1.AccountService/GetAccount"); codes
// are canonical names ("OK", "NOT_FOUND"). No label carries a value a caller
// chose (no resource names, no user ids): the label sets stay bounded.
//
// The endpoint has no authentication: bind it to a loopback or a
// monitoring-only interface (docs/production.md).
//
// Thread-safety: every method may be called concurrently.
#ifndef CRM_SERVER_METRICS_H_
#define CRM_SERVER_METRICS_H_

#include <array>
#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace prometheus {
class Counter;
class Exposer;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace crm::server {

// Values read when Prometheus scrapes (never on the request path).
struct ScrapedGauges {
  int64_t policy_version = 0;
  double policy_snapshot_age_seconds = 0;
  int64_t db_pool_size = 0;
  int64_t db_pool_in_use = 0;
  int64_t db_pool_waits = 0;
  int64_t db_errors = 0;
  bool db_available = false;
  // Process-wide (server/tls.h TlsHandshakeFailureCounts).
  int64_t tls_revoked = 0;
  int64_t tls_handshake_failed = 0;
};

class Metrics {
 public:
  // Serves /metrics on `listen_address` ("127.0.0.1:9464"; port 0 picks a
  // free one). FAILED_PRECONDITION naming the address if it cannot listen.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(
      const std::string& listen_address);
  ~Metrics();

  // The port actually listened on.
  int port() const { return port_; }

  // One finished call.
  void ObserveCall(absl::string_view method, absl::StatusCode code,
                   double seconds);
  // One decision: `allowed`, and what decided ("object", "record", ...).
  void ObserveDecision(bool allowed, absl::string_view kind);
  // One call's shadow comparisons (server/shadow_policy.h).
  void ObserveShadow(int64_t agreed, int64_t disagreed, bool not_compared);
  // One Login: "OK" or the refusal's reason.
  void ObserveLogin(bool ok, absl::string_view reason);

  // Called at each scrape to fill the gauges; set once at start-up.
  void SetGaugeSource(std::function<ScrapedGauges()> source);

 private:
  class Scraped;
  struct PerMethod {
    // By absl::StatusCode (0-16); created on first use under mu_.
    std::array<std::atomic<prometheus::Counter*>, 17> calls{};
    std::array<std::atomic<prometheus::Histogram*>, 17> durations{};
  };

  Metrics() = default;
  PerMethod& MethodMetrics(absl::string_view method);
  void CreateCodeMetrics(PerMethod& m, absl::string_view method, int code);
  prometheus::Counter& LabelledCounter(prometheus::Family<prometheus::Counter>&,
                                       absl::string_view key1,
                                       absl::string_view value1,
                                       absl::string_view key2,
                                       absl::string_view value2);

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Scraped> scraped_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  prometheus::Family<prometheus::Counter>* decisions_ = nullptr;
  prometheus::Family<prometheus::Counter>* logins_ = nullptr;
  prometheus::Counter* shadow_agree_ = nullptr;
  prometheus::Counter* shadow_disagree_ = nullptr;
  prometheus::Counter* shadow_not_compared_ = nullptr;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<PerMethod>> methods_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::server

#endif  // CRM_SERVER_METRICS_H_
