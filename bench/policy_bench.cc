// In-process micro-benchmarks of the policy decision point (no gRPC, no
// storage): policy::Evaluator over a warm PolicySnapshot.
//
//   BM_PointDecision  the "point decision": record access plus the
//                     readable and writable fields of one record
//                     (CheckRecord + CanReadField + CheckFieldWrite for every
//                     field of the account schema); p50/p99 per decision
//   BM_CheckRecord, BM_CanReadAllFields, BM_CheckObject, BM_RecordFilter:
//                     the parts
//   BM_EvaluatorPerRequest  what every request pays before deciding:
//                     PolicyHolder::Current() + Evaluator construction
//   BM_SnapshotBuild  compiling the snapshot
//
// Scenarios (principal x policy) are listed in Scenarios(); today's policy
// has service grants only. When the user/role/sharing engine lands, add a
// generated organisation (e.g. 10,000 users, 8-level roles, sharing rules)
// as new scenarios there: every benchmark runs over every scenario.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/evaluator.h"
#include "policy/policy_holder.h"
#include "policy/snapshot.h"
#include "tests/harness/test_server.h"

namespace crm::bench {
namespace {

using policy::Operation;

struct Scenario {
  std::string name;
  crm::internal::ServerConfig config;
  policy::Principal principal;
  Operation write_op = Operation::kEdit;
};

// The policy of the integration harness's base config (see
// tests/harness/test_server.h): admin-cli has every grant; billing may read
// accounts (and so is denied edits, exercising the denial path).
crm::internal::ServerConfig HarnessConfig() {
  return testing::BaseTestConfig(testing::TestCerts{}, "sqlite::memory:");
}

const std::vector<Scenario>& Scenarios() {
  static const auto* scenarios = new std::vector<Scenario>{
      {"service_full_grant", HarnessConfig(), {"admin-cli", ""}},
      {"service_read_only", HarnessConfig(), {"billing", ""}},
  };
  return *scenarios;
}

const model::ObjectSchema& Accounts() {
  return *model::SchemaRegistry::Default().Find("accounts");
}

std::shared_ptr<const policy::PolicySnapshot> BuildSnapshot(
    const Scenario& scenario) {
  auto snapshot = policy::PolicySnapshot::Build(
      scenario.config.services(), model::SchemaRegistry::Default());
  if (!snapshot.ok()) {
    fprintf(stderr, "snapshot: %s\n", snapshot.status().ToString().c_str());
    abort();
  }
  return *snapshot;
}

model::Record SeedRecord() {
  model::Record r = model::RecordFromMessage(Accounts(), SeedAccount(42));
  r.id = "bench42";
  r.version = 1;
  return r;
}

void ReportLatency(benchmark::State& state, LatencySamples& samples) {
  state.counters["p50_ns"] = samples.Quantile(0.50);
  state.counters["p99_ns"] = samples.Quantile(0.99);
  state.counters["max_ns"] = samples.Max();
}

void BM_PointDecision(benchmark::State& state, const Scenario* scenario) {
  const model::ObjectSchema& schema = Accounts();
  policy::Evaluator eval(BuildSnapshot(*scenario), scenario->principal);
  const model::Record record = SeedRecord();
  LatencySamples samples;
  samples.Reserve(1 << 20);
  for (auto _ : state) {
    const int64_t start = NowNanos();
    bool visible = eval.CheckRecord(schema, Operation::kRead, record).allowed;
    bool writable =
        eval.CheckRecord(schema, scenario->write_op, record).allowed;
    int readable = 0, field_writable = 0;
    for (const model::FieldSchema& field : schema.fields()) {
      readable += eval.CanReadField(schema, field);
      field_writable += eval.CheckFieldWrite(schema, field).allowed;
    }
    benchmark::DoNotOptimize(visible);
    benchmark::DoNotOptimize(writable);
    benchmark::DoNotOptimize(readable);
    benchmark::DoNotOptimize(field_writable);
    samples.Add(NowNanos() - start);
  }
  state.counters["fields"] = static_cast<double>(schema.fields().size());
  ReportLatency(state, samples);
}

void BM_CheckRecord(benchmark::State& state, const Scenario* scenario) {
  policy::Evaluator eval(BuildSnapshot(*scenario), scenario->principal);
  const model::Record record = SeedRecord();
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        eval.CheckRecord(Accounts(), Operation::kRead, record));
  }
}

void BM_CanReadAllFields(benchmark::State& state, const Scenario* scenario) {
  const model::ObjectSchema& schema = Accounts();
  policy::Evaluator eval(BuildSnapshot(*scenario), scenario->principal);
  for (auto _ : state) {
    int readable = 0;
    for (const model::FieldSchema& field : schema.fields()) {
      readable += eval.CanReadField(schema, field);
    }
    benchmark::DoNotOptimize(readable);
  }
  state.SetItemsProcessed(state.iterations() * schema.fields().size());
}

void BM_CheckObject(benchmark::State& state, const Scenario* scenario) {
  policy::Evaluator eval(BuildSnapshot(*scenario), scenario->principal);
  for (auto _ : state) {
    benchmark::DoNotOptimize(eval.CheckObject(Accounts(), Operation::kRead));
  }
}

void BM_RecordFilter(benchmark::State& state, const Scenario* scenario) {
  policy::Evaluator eval(BuildSnapshot(*scenario), scenario->principal);
  for (auto _ : state) {
    benchmark::DoNotOptimize(eval.RecordFilter(Accounts(), Operation::kRead));
  }
}

void BM_EvaluatorPerRequest(benchmark::State& state,
                            const Scenario* scenario) {
  policy::PolicyHolder holder(BuildSnapshot(*scenario));
  for (auto _ : state) {
    policy::Evaluator eval(holder.Current(), scenario->principal);
    benchmark::DoNotOptimize(eval);
  }
}

void BM_SnapshotBuild(benchmark::State& state, const Scenario* scenario) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(BuildSnapshot(*scenario));
  }
}

void RegisterAll() {
  using Fn = void (*)(benchmark::State&, const Scenario*);
  const std::vector<std::pair<const char*, Fn>> benches = {
      {"BM_PointDecision", BM_PointDecision},
      {"BM_CheckRecord", BM_CheckRecord},
      {"BM_CanReadAllFields", BM_CanReadAllFields},
      {"BM_CheckObject", BM_CheckObject},
      {"BM_RecordFilter", BM_RecordFilter},
      {"BM_EvaluatorPerRequest", BM_EvaluatorPerRequest},
      {"BM_SnapshotBuild", BM_SnapshotBuild},
  };
  for (const auto& [name, fn] : benches) {
    for (const Scenario& scenario : Scenarios()) {
      benchmark::RegisterBenchmark(
          (std::string(name) + "/" + scenario.name).c_str(), fn, &scenario);
    }
  }
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  crm::bench::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
