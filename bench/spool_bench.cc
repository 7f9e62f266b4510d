// The audit spool's append (store/audit_spool.h): what an audited read pays
// on its request thread before it is answered. Each append runs under one
// mutex shared by the benchmark's threads, as AuditLog::Spool does, so the
// threads:4 rows show the queueing of gRPC threads behind it. The files are
// marked committed every 4,096 appends, so they rotate and go as in a
// server. bench/README.md ("Audit trail", 1c) has the figures.
//
//   build-lead/bench/spool_bench [--benchmark_filter=...]
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "store/audit_spool.h"

namespace {

crm::v1::AuditEvent ReadEvent() {
  crm::v1::AuditEvent e;
  e.set_action("records.read");
  e.set_request_id("0f6aabac0f6aabac0f6aabac0f6aabac");
  e.set_actor_user("users/bob");
  e.set_actor_service("services/sales-ui");
  e.set_resource("accounts/a000123");
  e.set_outcome(crm::v1::ALLOWED);
  e.set_reason("owner");
  e.set_client_address("10.1.2.3");
  e.mutable_time()->set_seconds(1765000000);
  (*e.mutable_attributes())["fields"] = "name,industry,annual_revenue,owner";
  return e;
}

struct Shared {
  absl::Mutex mu;
  std::unique_ptr<crm::store::AuditSpool> spool;
  std::string dir;
  int64_t appended = 0;
};

Shared* shared = nullptr;

void BM_SpoolAppend(benchmark::State& state) {
  if (state.thread_index() == 0) {
    shared = new Shared();
    char tmpl[] = "/tmp/spool-bench-XXXXXX";
    shared->dir = mkdtemp(tmpl);
    auto opened = crm::store::AuditSpool::Open(shared->dir);
    if (!opened.ok()) {
      state.SkipWithError(std::string(opened.status().message()).c_str());
    } else {
      shared->spool = *std::move(opened);
    }
  }
  const crm::v1::AuditEvent event = ReadEvent();
  for (auto _ : state) {
    absl::MutexLock lock(&shared->mu);
    if (shared->spool == nullptr) break;
    auto at = shared->spool->Append(event);
    if (!at.ok()) {
      state.SkipWithError(std::string(at.status().message()).c_str());
      break;
    }
    if (++shared->appended % 4096 == 0) shared->spool->Committed(at->file, at->end);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    shared->spool.reset();
    std::filesystem::remove_all(shared->dir);
    delete shared;
    shared = nullptr;
  }
}
BENCHMARK(BM_SpoolAppend)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
