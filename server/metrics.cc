#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"

namespace crm::server {

// The gauges read at scrape time, as a collectable of their own.
class Metrics::Scraped : public prometheus::Collectable {
 public:
  void Set(std::function<ScrapedGauges()> source) {
    absl::MutexLock lock(&mu_);
    source_ = std::move(source);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    ScrapedGauges g;
    {
      absl::MutexLock lock(&mu_);
      if (!source_) return {};
      g = source_();
    }
    std::vector<prometheus::MetricFamily> out;
    auto add = [&](const char* name, const char* help,
                   prometheus::MetricType type, double value) {
      prometheus::MetricFamily family;
      family.name = name;
      family.help = help;
      family.type = type;
      prometheus::ClientMetric metric;
      if (type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
      } else {
        metric.gauge.value = value;
      }
      family.metric.push_back(std::move(metric));
      out.push_back(std::move(family));
    };
    using prometheus::MetricType;
    add("crm_policy_version", "Version of the policy this server enforces.",
        MetricType::Gauge, static_cast<double>(g.policy_version));
    add("crm_policy_snapshot_age_seconds",
        "Seconds since the enforced policy snapshot was installed.",
        MetricType::Gauge, g.policy_snapshot_age_seconds);
    add("crm_db_pool_size", "Database connections in the pool.",
        MetricType::Gauge, static_cast<double>(g.db_pool_size));
    add("crm_db_pool_in_use", "Database connections leased right now.",
        MetricType::Gauge, static_cast<double>(g.db_pool_in_use));
    add("crm_db_pool_waits_total",
        "Leases that found every connection in use and had to wait.",
        MetricType::Counter, static_cast<double>(g.db_pool_waits));
    add("crm_db_errors_total",
        "Database errors (every class: lost connections, conflicts, ...).",
        MetricType::Counter, static_cast<double>(g.db_errors));
    add("crm_db_available",
        "1 while the database is reachable, 0 during an outage.",
        MetricType::Gauge, g.db_available ? 1 : 0);
    prometheus::MetricFamily tls;
    tls.name = "crm_tls_handshake_failures_total";
    tls.help =
        "TLS handshakes refused since the process started, by reason: "
        "revoked (the CRL verifier) or handshake (OpenSSL: no or untrusted "
        "certificate, protocol).";
    tls.type = MetricType::Counter;
    for (const auto& [reason, value] :
         {std::pair<const char*, int64_t>{"revoked", g.tls_revoked},
          {"handshake", g.tls_handshake_failed}}) {
      prometheus::ClientMetric metric;
      metric.label.push_back({"reason", reason});
      metric.counter.value = static_cast<double>(value);
      tls.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(tls));
    return out;
  }

 private:
  mutable absl::Mutex mu_;
  std::function<ScrapedGauges()> source_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(
    const std::string& listen_address) {
  std::unique_ptr<Metrics> m(new Metrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->calls_ = &prometheus::BuildCounter()
                   .Name("crm_rpc_calls_total")
                   .Help("Calls by method and final status code.")
                   .Register(*m->registry_);
  m->durations_ = &prometheus::BuildHistogram()
                       .Name("crm_rpc_duration_seconds")
                       .Help("Server-side call latency by method and status "
                             "code, from the pipeline's start to its status.")
                       .Register(*m->registry_);
  m->decisions_ = &prometheus::BuildCounter()
                       .Name("crm_decisions_total")
                       .Help("Access decisions by outcome and by what "
                             "decided (object, record, field, system, "
                             "login).")
                       .Register(*m->registry_);
  m->logins_ = &prometheus::BuildCounter()
                    .Name("crm_login_attempts_total")
                    .Help("Login attempts by outcome and refusal reason.")
                    .Register(*m->registry_);
  auto& shadow = prometheus::BuildCounter()
                     .Name("crm_shadow_decisions_total")
                     .Help("Decisions also made against the shadow policy "
                           "(SetShadowPolicy): agree, disagree; calls not "
                           "compared while it was recompiled: "
                           "not_compared.")
                     .Register(*m->registry_);
  m->shadow_agree_ = &shadow.Add({{"result", "agree"}});
  m->shadow_disagree_ = &shadow.Add({{"result", "disagree"}});
  m->shadow_not_compared_ = &shadow.Add({{"result", "not_compared"}});
  m->scraped_ = std::make_shared<Scraped>();
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(listen_address, 1);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics.listen_address: cannot listen on '",
                     listen_address, "': ", e.what(),
                     " (use host:port with a free port, e.g. 127.0.0.1:9464)"));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->scraped_);
  std::vector<int> ports = m->exposer_->GetListeningPorts();
  m->port_ = ports.empty() ? 0 : ports.front();
  return m;
}

Metrics::~Metrics() {
  // Stop serving scrapes before the families they read go away.
  exposer_.reset();
}

void Metrics::SetGaugeSource(std::function<ScrapedGauges()> source) {
  scraped_->Set(std::move(source));
}

Metrics::PerMethod& Metrics::MethodMetrics(absl::string_view method) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto& slot = methods_[method];
  if (slot == nullptr) slot = std::make_unique<PerMethod>();
  return *slot;
}

void Metrics::CreateCodeMetrics(PerMethod& m, absl::string_view method,
                                int code) {
  absl::MutexLock lock(&mu_);
  if (m.calls[code].load(std::memory_order_acquire) != nullptr) return;
  const std::string code_name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::map<std::string, std::string> labels = {
      {"method", std::string(method)}, {"code", code_name}};
  // Buckets from 100 us to 10 s: a point read is ~0.1-1 ms, a list of a
  // large page or a login (Argon2) is 10-500 ms.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  m.durations[code].store(&durations_->Add(labels, kBuckets),
                          std::memory_order_release);
  m.calls[code].store(&calls_->Add(labels), std::memory_order_release);
}

void Metrics::ObserveCall(absl::string_view method, absl::StatusCode code,
                          double seconds) {
  int c = static_cast<int>(code);
  if (c < 0 || c > 16) c = static_cast<int>(absl::StatusCode::kUnknown);
  PerMethod& m = MethodMetrics(method);
  prometheus::Counter* calls = m.calls[c].load(std::memory_order_acquire);
  if (calls == nullptr) {
    CreateCodeMetrics(m, method, c);
    calls = m.calls[c].load(std::memory_order_acquire);
  }
  calls->Increment();
  m.durations[c].load(std::memory_order_acquire)->Observe(seconds);
}

prometheus::Counter& Metrics::LabelledCounter(
    prometheus::Family<prometheus::Counter>& family, absl::string_view key1,
    absl::string_view value1, absl::string_view key2,
    absl::string_view value2) {
  // The family's name keeps the keys of different families apart.
  std::string key = absl::StrCat(reinterpret_cast<uintptr_t>(&family), "/",
                                 value1, "/", value2);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = counters_.find(key);
    if (it != counters_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  prometheus::Counter*& slot = counters_[key];
  if (slot == nullptr) {
    std::map<std::string, std::string> labels = {
        {std::string(key1), std::string(value1)}};
    if (!key2.empty()) labels[std::string(key2)] = std::string(value2);
    slot = &family.Add(labels);
  }
  return *slot;
}

void Metrics::ObserveDecision(bool allowed, absl::string_view kind) {
  LabelledCounter(*decisions_, "outcome", allowed ? "allow" : "deny", "kind",
                  kind)
      .Increment();
}

void Metrics::ObserveShadow(int64_t agreed, int64_t disagreed,
                            bool not_compared) {
  if (agreed > 0) shadow_agree_->Increment(static_cast<double>(agreed));
  if (disagreed > 0) {
    shadow_disagree_->Increment(static_cast<double>(disagreed));
  }
  if (not_compared) shadow_not_compared_->Increment();
}

void Metrics::ObserveLogin(bool ok, absl::string_view reason) {
  LabelledCounter(*logins_, "outcome", ok ? "success" : "failure", "reason",
                  reason)
      .Increment();
}


}  // namespace crm::server
