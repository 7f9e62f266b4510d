// The access matrix (AccessReviewService.ExportAccessMatrix and `crmctl
// access matrix`) for every user of list_bench's organisation: 10,001
// users, 255 roles in 8 levels, 300 nested groups, 50 sharing rules
// (ListBenchOrgSize, seed 42). Target: the CSV for 10,000 users in < 10 s.
//
// What one pass does, in-process (no database, no network):
//   1. per user, policy::AccessMatrixRow (every object's permissions and the
//      read and edit RecordFilter shapes, every sensitive field) - the
//      server's work per row;
//   2. the rows serialised in chunks of 500 and parsed back - what gRPC
//      does to them on loopback, minus the socket;
//   3. clients/access_report.h's CSV of every row - crmctl's work.
// Not included: reading the users table for usernames (one SELECT of
// 10,000 rows) and the socket.
//
//   build/bench/access_matrix_bench [--iterations=5]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_support.h"
#include "clients/access_report.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/explain.h"
#include "policy/snapshot.h"
#include "tests/support/policy_org_generator.h"

namespace crm::bench {
namespace {

using Clock = std::chrono::steady_clock;

int Main(int argc, char** argv) {
  int iterations = 5;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (absl::StartsWith(arg, "--iterations=")) {
      if (!absl::SimpleAtoi(arg.substr(13), &iterations) || iterations < 1) {
        fprintf(stderr, "--iterations: a positive number\n");
        return 2;
      }
    } else {
      fprintf(stderr, "usage: access_matrix_bench [--iterations=N]\n");
      return 2;
    }
  }
  const testing::GeneratedOrg org =
      testing::GenerateOrg(42, testing::ListBenchOrgSize());
  auto snapshot = policy::PolicySnapshot::Build(
      org.state, org.services, model::SchemaRegistry::Default());
  if (!snapshot.ok()) {
    fprintf(stderr, "snapshot: %s\n", snapshot.status().ToString().c_str());
    return 1;
  }
  const policy::CompiledPolicy& p = (*snapshot)->compiled();
  printf("access_matrix_bench: %zu users, %zu objects, service app\n",
         p.users.size(), p.objects.size());
  LatencySamples rows_ns, wire_ns, csv_ns, total_ns;
  size_t csv_bytes = 0;
  size_t wire_bytes = 0;
  size_t granted = 0;
  for (int it = 0; it < iterations; ++it) {
    const auto t0 = Clock::now();
    std::vector<crm::v1::AccessMatrixChunk> chunks(1);
    for (const policy::CompiledUser& u : p.users) {
      const policy::Evaluator eval(*snapshot, {"app", u.id});
      crm::v1::AccessMatrixRow* row = chunks.back().add_rows();
      *row = policy::AccessMatrixRow(eval);
      row->set_user(u.resource_name);
      row->set_username(u.id);
      row->set_profile(u.profile);
      if (u.role >= 0) row->set_role(p.roles[u.role].name);
      row->set_active(u.active);
      if (chunks.back().rows_size() == 500) chunks.emplace_back();
    }
    const auto t1 = Clock::now();
    std::vector<crm::v1::AccessMatrixChunk> received(chunks.size());
    wire_bytes = 0;
    for (size_t i = 0; i < chunks.size(); ++i) {
      std::string bytes;
      chunks[i].SerializeToString(&bytes);
      wire_bytes += bytes.size();
      received[i].ParseFromString(bytes);
    }
    const auto t2 = Clock::now();
    std::string csv;
    granted = 0;
    for (const auto& chunk : received) {
      for (const auto& row : chunk.rows()) {
        if (csv.empty()) csv = client::AccessMatrixCsvHeader(row);
        csv += client::AccessMatrixCsvRow(row);
        granted += row.objects(0).read_scope() == crm::v1::SCOPE_GRANTED;
      }
    }
    const auto t3 = Clock::now();
    csv_bytes = csv.size();
    rows_ns.Add(std::chrono::nanoseconds(t1 - t0).count());
    wire_ns.Add(std::chrono::nanoseconds(t2 - t1).count());
    csv_ns.Add(std::chrono::nanoseconds(t3 - t2).count());
    total_ns.Add(std::chrono::nanoseconds(t3 - t0).count());
  }
  auto line = [](const char* what, LatencySamples& s) {
    printf("%-36s p50 %8.3f s  max %8.3f s\n", what,
           static_cast<double>(s.Quantile(0.5)) / 1e9,
           static_cast<double>(s.Max()) / 1e9);
  };
  printf("iterations %d; CSV %zu bytes, %zu rows with granted accounts; "
         "%zu bytes of chunks\n",
         iterations, csv_bytes, granted, wire_bytes);
  line("rows (AccessMatrixRow per user)", rows_ns);
  line("chunks serialised + parsed", wire_ns);
  line("CSV", csv_ns);
  line("total (target < 10 s)", total_ns);
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
