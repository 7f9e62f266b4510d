// The data inventory ("what we hold and why", records/data_inventory.h):
//   BM_InventoryDemoRpc       GetDataInventory over mTLS on an in-process
//                             server with the demo organisation (SQLite):
//                             the whole call (pipeline, permission check,
//                             the computation, its audit event);
//   BM_InventoryLargePolicy/N the computation alone on the generated
//                             10,000-user organisation with N services,
//                             each registered as a data source writing a
//                             third of every object's fields (and half of
//                             them recording consent).
// Figures and commands: bench/README.md "Data inventory".
//
//   cmake --build build --target data_inventory_bench
//   build/bench/data_inventory_bench --benchmark_min_time=1
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "crm/v1/data_inventory_service.grpc.pb.h"
#include "model/object_schema.h"
#include "policy/snapshot.h"
#include "records/data_inventory.h"
#include "records/privacy.h"
#include "server/demo_data.h"
#include "tests/harness/test_server.h"
#include "tests/support/policy_org_generator.h"

namespace crm {
namespace {

void BM_InventoryDemoRpc(benchmark::State& state) {
  auto server = testing::TestServer::Start(
      {.customize = [](crm::internal::ServerConfig& config) {
        for (auto& service : *config.mutable_services()) {
          if (service.name() == "admin-cli") {
            service.add_system_permissions("privacy_operations");
          }
        }
      }});
  if (!server.ok()) {
    state.SkipWithError(server.status().ToString().c_str());
    return;
  }
  absl::Status demo = server::LoadDemoOrganisation((*server)->server().core());
  if (!demo.ok() || !(*server)->server().ReloadPolicy().ok()) {
    state.SkipWithError("demo organisation");
    return;
  }
  auto client = (*server)->Client("admin-cli");
  auto stub = crm::v1::DataInventoryService::NewStub(client->channel());
  int64_t fields = 0;
  for (auto _ : state) {
    crm::v1::DataInventory out;
    auto ctx = client->NewContext();
    grpc::Status s = stub->GetDataInventory(
        ctx.get(), crm::v1::GetDataInventoryRequest(), &out);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      return;
    }
    fields = out.total_fields();
  }
  state.counters["fields"] = static_cast<double>(fields);
}
BENCHMARK(BM_InventoryDemoRpc)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_InventoryLargePolicy(benchmark::State& state) {
  const int sources = static_cast<int>(state.range(0));
  testing::OrgSize size = testing::BenchOrgSize();
  size.accounts = 0;
  size.shares = 0;
  testing::GeneratedOrg org = testing::GenerateOrg(42, size);
  const auto& schemas = model::SchemaRegistry::Default();
  for (int i = 0; i < sources; ++i) {
    const std::string name = absl::StrCat("svc-", i);
    auto* service = org.services.Add();
    service->set_name(name);
    auto* grant = service->add_grants();
    grant->set_object("*");
    grant->set_read(true);
    grant->set_edit(true);
    auto* d = org.state.add_data_sources();
    d->set_name(absl::StrCat("dataSources/", name));
    d->set_kind(i % 2 ? crm::v1::WEB_FORMS : crm::v1::INTERACTIONS);
    d->set_service(absl::StrCat("services/", name));
    d->set_purpose(absl::StrCat("purpose ", i % 17));
    for (const model::ObjectSchema* schema : schemas.All()) {
      auto* w = d->add_writes();
      w->set_object(schema->collection());
      for (size_t f = i % 3; f < schema->fields().size(); f += 3) {
        if (!schema->fields()[f].output_only) {
          w->add_fields(schema->fields()[f].name);
        }
      }
      if (w->fields().empty()) w->add_fields(schema->fields().back().name);
      w->set_consent(schema->consent_subject() && i % 2 == 0);
    }
  }
  auto snapshot = policy::PolicySnapshot::Build(org.state, org.services,
                                                schemas);
  if (!snapshot.ok()) {
    state.SkipWithError(snapshot.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    crm::v1::DataInventory out;
    absl::Status s = records::BuildDataInventory(
        **snapshot, records::DefaultErasureRules(), {},
        crm::v1::GetDataInventoryRequest(), absl::Now(), &out);
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_InventoryLargePolicy)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace crm

BENCHMARK_MAIN();
