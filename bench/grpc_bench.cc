// Unary calls over real mTLS against an in-process CrmServer, with a
// blocking client on one channel. Everything is measured in ONE process and
// ONE run, on the same server build:
//   BM_Echo         DiagnosticsService.Echo: TLS + identity, no policy, no
//                   storage (the unprotected baseline)
//   BM_GetAccount   authorized Get: identity + policy + point read + masking
//   BM_ListAccounts first page of 50, default order / with a filter
// Each also runs with 4 client threads sharing the channel (throughput).
//
// Reported per benchmark: items_per_second (calls/s, wall clock), the
// latency percentiles p50/p90/p99 in microseconds (per-call wall time; with
// threads, the mean of the per-thread percentiles), and "CPU" = process CPU
// time per call, i.e. client AND server work together (they share the
// machine's cores).
//
// Backends: SQLite always; PostgreSQL too if CRM_TEST_PG_DIR names a running
// cluster (tests/pg/pg_cluster.sh start DIR). CRM_BENCH_ACCOUNTS sets the
// number of seeded accounts (default 10000). Commands: bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"

namespace crm::bench {
namespace {

struct Target {
  std::string label;  // "sqlite" / "postgres"
  std::unique_ptr<SeededServer> server;
  std::unique_ptr<client::CrmClient> client;
};

void ReportLatency(benchmark::State& state, LatencySamples& samples) {
  using benchmark::Counter;
  state.SetItemsProcessed(state.iterations());
  state.counters["p50_us"] =
      Counter(samples.Quantile(0.50) / 1e3, Counter::kAvgThreads);
  state.counters["p90_us"] =
      Counter(samples.Quantile(0.90) / 1e3, Counter::kAvgThreads);
  state.counters["p99_us"] =
      Counter(samples.Quantile(0.99) / 1e3, Counter::kAvgThreads);
}

// Runs `call` once per iteration, timing each call.
void RunCalls(benchmark::State& state,
              const std::function<grpc::Status()>& call) {
  LatencySamples samples;
  samples.Reserve(1 << 16);
  for (auto _ : state) {
    const int64_t start = NowNanos();
    grpc::Status s = call();
    samples.Add(NowNanos() - start);
    if (!s.ok()) {
      fprintf(stderr, "call failed: %s (code %d)\n", s.error_message().c_str(),
              s.error_code());
      state.SkipWithError("call failed (see stderr)");
      break;
    }
  }
  ReportLatency(state, samples);
}

void Echo(benchmark::State& state, const Target* t) {
  crm::v1::EchoRequest req;
  req.set_payload(std::string(32, 'x'));
  crm::v1::EchoResponse resp;
  RunCalls(state, [&] {
    auto ctx = t->client->NewContext();
    return t->client->diagnostics().Echo(ctx.get(), req, &resp);
  });
}

void GetAccount(benchmark::State& state, const Target* t) {
  const std::vector<std::string>& names = t->server->account_names();
  std::mt19937 rng(1234 + state.thread_index());
  std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
  crm::v1::GetAccountRequest req;
  crm::v1::Account resp;
  RunCalls(state, [&] {
    req.set_name(names[pick(rng)]);
    auto ctx = t->client->NewContext();
    return t->client->accounts().GetAccount(ctx.get(), req, &resp);
  });
}

void ListAccounts(benchmark::State& state, const Target* t,
                  const std::string& filter) {
  crm::v1::ListAccountsRequest req;
  req.set_page_size(50);
  req.set_filter(filter);
  crm::v1::ListAccountsResponse resp;
  RunCalls(state, [&] {
    auto ctx = t->client->NewContext();
    grpc::Status s = t->client->accounts().ListAccounts(ctx.get(), req, &resp);
    if (s.ok() && resp.accounts_size() != 50) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          "ListAccounts returned a short page");
    }
    return s;
  });
}

void Register(const Target* t) {
  using Fn = std::function<void(benchmark::State&)>;
  const std::vector<std::pair<std::string, Fn>> benches = {
      {"BM_Echo", [t](benchmark::State& s) { Echo(s, t); }},
      {"BM_GetAccount", [t](benchmark::State& s) { GetAccount(s, t); }},
      {"BM_ListAccounts",
       [t](benchmark::State& s) { ListAccounts(s, t, ""); }},
      {"BM_ListAccounts_Filter",
       [t](benchmark::State& s) {
         ListAccounts(s, t, "industry = \"Retail\"");
       }},
  };
  for (const auto& [name, fn] : benches) {
    for (int threads : {1, 4}) {
      benchmark::RegisterBenchmark((name + "/" + t->label).c_str(), fn)
          ->Threads(threads)
          ->UseRealTime()
          ->MeasureProcessCPUTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

std::unique_ptr<Target> StartTarget(testing::Backend backend,
                                    const std::string& label, int accounts) {
  auto target = std::make_unique<Target>();
  target->label = label;
  fprintf(stderr, "%s: starting the server and seeding %d accounts...\n",
          label.c_str(), accounts);
  auto server = SeededServer::Start(backend, accounts);
  if (!server.ok()) {
    fprintf(stderr, "%s: %s\n", label.c_str(),
            server.status().ToString().c_str());
    exit(1);
  }
  target->server = *std::move(server);
  target->client = target->server->server().Client("admin-cli");
  // Connect (TLS handshake) before anything is measured.
  crm::v1::EchoRequest req;
  crm::v1::EchoResponse resp;
  auto ctx = target->client->NewContext();
  grpc::Status s = target->client->diagnostics().Echo(ctx.get(), req, &resp);
  if (!s.ok()) {
    fprintf(stderr, "%s: first Echo failed: %s\n", label.c_str(),
            s.error_message().c_str());
    exit(1);
  }
  return target;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) {
  using crm::bench::StartTarget;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const int accounts = crm::bench::EnvInt("CRM_BENCH_ACCOUNTS", 10000);
  std::vector<std::unique_ptr<crm::bench::Target>> targets;
  targets.push_back(
      StartTarget(crm::testing::Backend::kSqlite, "sqlite", accounts));
  if (std::getenv("CRM_TEST_PG_DIR") != nullptr) {
    targets.push_back(
        StartTarget(crm::testing::Backend::kPostgres, "postgres", accounts));
  }
  for (const auto& t : targets) crm::bench::Register(t.get());
  benchmark::AddCustomContext("accounts", std::to_string(accounts));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
