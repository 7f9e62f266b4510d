// The policy engine alone (no server, no database): snapshot build time and
// memory for the issue-4 organisation (10,000 users, 8-level roles, 300
// nested groups, 50 sharing rules), point decisions with a warm snapshot,
// and SQL filter generation. Figures and commands: policy/README.md.
//
//   cmake --build build --target policy_engine_bench
//   build/bench/policy_engine_bench --benchmark_min_time=2
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/snapshot.h"
#include "tests/support/policy_org_generator.h"

namespace crm {
namespace {

constexpr uint64_t kSeed = 42;

const testing::GeneratedOrg& Org() {
  static const testing::GeneratedOrg* org = [] {
    testing::OrgSize size = testing::BenchOrgSize();
    size.accounts = 2000;  // point-decision sample (records are not stored)
    size.shares = 4000;
    return new testing::GeneratedOrg(testing::GenerateOrg(kSeed, size));
  }();
  return *org;
}

std::shared_ptr<const policy::PolicySnapshot> Snapshot() {
  static auto* snapshot = [] {
    auto s = policy::PolicySnapshot::Build(Org().state, Org().services,
                                           model::SchemaRegistry::Default());
    if (!s.ok()) {
      fprintf(stderr, "%s\n", s.status().ToString().c_str());
      abort();
    }
    return new std::shared_ptr<const policy::PolicySnapshot>(*s);
  }();
  return *snapshot;
}

void BM_SnapshotBuild(benchmark::State& state) {
  const auto& org = Org();
  size_t bytes = 0;
  for (auto _ : state) {
    size_t before = mallinfo2().uordblks;
    auto s = policy::PolicySnapshot::Build(org.state, org.services,
                                           model::SchemaRegistry::Default());
    size_t after = mallinfo2().uordblks;
    if (!s.ok()) state.SkipWithError(s.status().ToString().c_str());
    bytes = after - before;
    benchmark::DoNotOptimize(s);
  }
  state.counters["users"] = org.state.users_size();
  state.counters["roles"] = org.state.roles_size();
  state.counters["groups"] = org.state.groups_size();
  state.counters["rules"] = org.state.sharing_rules_size();
  state.counters["heap_MB"] = static_cast<double>(bytes) / (1 << 20);
}
BENCHMARK(BM_SnapshotBuild)->Unit(benchmark::kMillisecond)->Iterations(5);

// The facts a request would have loaded with each sample record.
std::vector<policy::RecordFacts> SampleFacts() {
  const auto& org = Org();
  std::vector<policy::RecordFacts> facts(org.accounts.size());
  for (size_t r = 0; r < org.accounts.size(); ++r) {
    facts[r].record = &org.accounts[r];
  }
  for (const auto& s : org.shares) {
    facts[std::stoi(s.record_id.substr(1))].shares.push_back(
        {s.grantee, s.access == 1 ? crm::v1::READ : crm::v1::READ_WRITE});
  }
  return facts;
}

void SetPercentiles(benchmark::State& state, std::vector<int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  if (!ns.empty()) {
    state.counters["p50_ns"] = ns[ns.size() / 2];
    state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
  }
}

// The point decision as the request path makes it (records/record_ops.cc
// Get, records/record_access.cc): construct the Evaluator, decide record
// access (read) with the record's shares (AllowsRecord: a refusal is
// NOT_FOUND whatever the reason, so no rule or reason string is built), then
// the readability and writability of 30 fields (the account schema's
// fields, cycled) through the FieldAccess the response masking uses.
void BM_PointDecisionRequestPath(benchmark::State& state) {
  const auto& org = Org();
  auto snapshot = Snapshot();
  const model::ObjectSchema& schema =
      *model::SchemaRegistry::Default().Find("accounts");
  std::vector<int> fields;
  for (int i = 0; i < 30; ++i) {
    fields.push_back(i % static_cast<int>(schema.fields().size()));
  }
  const std::vector<policy::RecordFacts> facts = SampleFacts();
  std::vector<int64_t> ns;
  ns.reserve(1 << 20);
  uint64_t i = 0, allowed = 0;
  for (auto _ : state) {
    const auto& user = org.state.users(i * 7919 % org.state.users_size());
    size_t r = i * 104729 % org.accounts.size();
    auto start = std::chrono::steady_clock::now();
    policy::Evaluator eval(snapshot, policy::Principal{"app", user.id()});
    bool visible_record =
        eval.AllowsRecord(schema, policy::Operation::kRead, facts[r]);
    const policy::FieldAccess access = eval.Fields(schema);
    int visible = 0;
    for (int f : fields) {
      visible += access.CanRead(f);
      visible += access.CanWrite(f);
    }
    benchmark::DoNotOptimize(visible);
    auto end = std::chrono::steady_clock::now();
    allowed += visible_record;
    if (ns.size() < ns.capacity()) {
      ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
              .count());
    }
    ++i;
  }
  SetPercentiles(state, ns);
  state.counters["allowed_pct"] = 100.0 * allowed / std::max<uint64_t>(i, 1);
}
BENCHMARK(BM_PointDecisionRequestPath);

// One request's worth of policy work on a record with the explaining API:
// construct the Evaluator, CheckRecord (read) with the record's shares (a
// Decision with its rule, and for a refusal its reason sentence), then
// CanReadField / CanWriteField for 30 fields (the account schema's fields,
// cycled).
void BM_PointDecision(benchmark::State& state) {
  const auto& org = Org();
  auto snapshot = Snapshot();
  const model::ObjectSchema& schema =
      *model::SchemaRegistry::Default().Find("accounts");
  std::vector<const model::FieldSchema*> fields;
  for (int i = 0; i < 30; ++i) {
    fields.push_back(&schema.fields()[i % schema.fields().size()]);
  }
  const std::vector<policy::RecordFacts> facts = SampleFacts();
  std::vector<int64_t> ns;
  ns.reserve(1 << 20);
  uint64_t i = 0, allowed = 0;
  for (auto _ : state) {
    const auto& user = org.state.users(i * 7919 % org.state.users_size());
    size_t r = i * 104729 % org.accounts.size();
    auto start = std::chrono::steady_clock::now();
    policy::Evaluator eval(snapshot, policy::Principal{"app", user.id()});
    policy::Decision d =
        eval.CheckRecord(schema, policy::Operation::kRead, facts[r]);
    int visible = 0;
    for (const auto* f : fields) {
      visible += eval.CanReadField(schema, *f);
      visible += eval.CanWriteField(schema, *f);
    }
    benchmark::DoNotOptimize(visible);
    auto end = std::chrono::steady_clock::now();
    allowed += d.allowed;
    if (ns.size() < ns.capacity()) {
      ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start)
                       .count());
    }
    ++i;
  }
  SetPercentiles(state, ns);
  state.counters["allowed_pct"] = 100.0 * allowed / std::max<uint64_t>(i, 1);
}
BENCHMARK(BM_PointDecision);

// The parts of BM_PointDecision on their own (mean ns per call).
void BM_PointDecisionParts(benchmark::State& state) {
  const auto& org = Org();
  auto snapshot = Snapshot();
  const model::ObjectSchema& schema =
      *model::SchemaRegistry::Default().Find("accounts");
  const int part = state.range(0);  // 0 evaluator, 1 record, 2 fields
  std::vector<policy::Evaluator> evals;
  for (int u = 0; u < 1000; ++u) {
    evals.emplace_back(snapshot, policy::Principal{
                                     "app", org.state.users(u * 7).id()});
  }
  const std::vector<policy::RecordFacts> facts = SampleFacts();
  uint64_t i = 0;
  for (auto _ : state) {
    const policy::Evaluator& eval = evals[i % evals.size()];
    if (part == 0) {
      policy::Evaluator e(snapshot,
                          policy::Principal{"app", org.state.users(i % 9000).id()});
      benchmark::DoNotOptimize(e);
    } else if (part == 1) {
      auto d = eval.CheckRecord(schema, policy::Operation::kRead,
                                facts[i * 104729 % facts.size()]);
      benchmark::DoNotOptimize(d);
    } else {
      int n = 0;
      for (int f = 0; f < 30; ++f) {
        const auto& field = schema.fields()[f % schema.fields().size()];
        n += eval.CanReadField(schema, field) + eval.CanWriteField(schema, field);
      }
      benchmark::DoNotOptimize(n);
    }
    ++i;
  }
}
BENCHMARK(BM_PointDecisionParts)->Arg(0)->Arg(1)->Arg(2);

// Compiling a user's record access into SQL (run once per List request).
void BM_RecordFilter(benchmark::State& state) {
  const auto& org = Org();
  auto snapshot = Snapshot();
  const model::ObjectSchema& schema =
      *model::SchemaRegistry::Default().Find("accounts");
  uint64_t i = 0;
  size_t params = 0;
  for (auto _ : state) {
    const auto& user = org.state.users(i++ * 7919 % org.state.users_size());
    policy::Evaluator eval(snapshot, policy::Principal{"app", user.id()});
    model::SqlFragment f = eval.RecordFilter(schema, policy::Operation::kRead);
    params += f.params.size();
    benchmark::DoNotOptimize(f);
  }
  state.counters["avg_params"] = static_cast<double>(params) / std::max<uint64_t>(i, 1);
}
BENCHMARK(BM_RecordFilter)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace crm

BENCHMARK_MAIN();
