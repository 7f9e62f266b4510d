// How soon a policy change made through one server is enforced by another
// server on the same PostgreSQL database (issue 12: p95 < 100 ms).
//
// Two "servers" in one process, each with its own connection pool,
// PolicyHolder and PolicyLoader refreshing as crm_server does (every 1 s,
// woken at once by LISTEN/NOTIFY; server/policy_loader.h). A commits a
// policy change (a new policy version, as every policy write makes it) and
// the clock runs from A's COMMIT returning until B's PolicyHolder serves a
// snapshot of that version (checked every 50 us). The notification crosses
// the PostgreSQL server exactly as between two processes; what differs
// from two crm_server processes is only that B's check is in-process.
//
// For comparison, the same with B polling only (LISTEN disabled by running
// the loader on an interval with notifications never sent: the "poll"
// rows bump the version with a plain UPDATE that does not NOTIFY).
//
//   tests/pg/pg_cluster.sh start /tmp/pg-prop && export CRM_TEST_PG_DIR=/tmp/pg-prop
//   build/bench/policy_propagation_bench [--changes=200]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "crm/internal/server_config.pb.h"
#include "model/object_schema.h"
#include "policy/policy_holder.h"
#include "server/policy_loader.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/policy_store.h"
#include "store/statement.h"
#include "tests/support/test_database.h"

namespace crm::bench {
namespace {

void Die(const char* what, const absl::Status& s) {
  fprintf(stderr, "policy_propagation_bench: %s: %s\n", what,
          s.ToString().c_str());
  exit(1);
}

struct Replica {
  explicit Replica(const std::string& connection) {
    auto opened = store::Database::Open(connection, 2);
    if (!opened.ok()) Die("open", opened.status());
    db = *std::move(opened);
    holder = std::make_unique<policy::PolicyHolder>(nullptr);
    loader = std::make_unique<server::PolicyLoader>(
        db.get(), &config, &model::SchemaRegistry::Default(), holder.get());
    if (absl::Status s = loader->Reload(); !s.ok()) Die("reload", s);
  }
  ~Replica() { loader->Stop(); }
  crm::internal::ServerConfig config;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<policy::PolicyHolder> holder;
  std::unique_ptr<server::PolicyLoader> loader;
};

// Commits a new policy version on `a`: notifying (as every policy write
// does) or not (to measure polling alone).
int64_t Commit(Replica& a, bool notify) {
  int64_t version = -1;
  absl::Status s = a.db->InTransaction([&](store::Session& session) {
    if (notify) {
      auto v = store::PolicyStore(a.db.get()).BumpPolicyVersion(session);
      if (!v.ok()) return v.status();
      version = *v;
      return absl::OkStatus();
    }
    auto n = store::Execute(
        session,
        {"UPDATE policy_version SET version = version + 1 WHERE id = 1", {}},
        "bumping without notifying");
    if (!n.ok()) return n.status();
    auto v = store::PolicyStore(a.db.get()).PolicyVersion(session);
    if (!v.ok()) return v.status();
    version = *v;
    return absl::OkStatus();
  });
  if (!s.ok()) Die("commit", s);
  return version;
}

void Run(const char* label, Replica& a, Replica& b, bool notify, int changes) {
  LatencySamples samples;
  for (int i = 0; i < changes; ++i) {
    const int64_t v = Commit(a, notify);
    const auto start = std::chrono::steady_clock::now();
    while (b.holder->Current()->version() < v) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    samples.Add(std::chrono::nanoseconds(std::chrono::steady_clock::now() -
                                         start)
                    .count());
    // Spread the changes over B's poll phase.
    std::this_thread::sleep_for(std::chrono::milliseconds(3 + i % 17));
  }
  printf("%-34s n=%-4zu p50 %8.2f ms  p95 %8.2f ms  max %8.2f ms\n", label,
         samples.size(), samples.Quantile(0.5) / 1e6,
         samples.Quantile(0.95) / 1e6, samples.Max() / 1e6);
}

int Main(int argc, char** argv) {
  int changes = 200;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (absl::StartsWith(arg, "--changes=") &&
        absl::SimpleAtoi(arg.substr(10), &changes) && changes > 0) {
      continue;
    }
    fprintf(stderr, "usage: policy_propagation_bench [--changes=N]\n");
    return 2;
  }
  auto db = testing::TestDatabase::Create(testing::Backend::kPostgres);
  if (!db.ok()) Die("database (start tests/pg/pg_cluster.sh)", db.status());
  {
    auto m = store::Database::Open((*db)->connection(), 1);
    if (!m.ok()) Die("open", m.status());
    if (absl::Status s = store::Migrate(**m); !s.ok()) Die("migrate", s);
  }
  Replica a((*db)->connection());
  Replica b((*db)->connection());
  b.loader->StartRefresh(absl::Seconds(1));  // as crm_server
  absl::SleepFor(absl::Milliseconds(200));   // B is listening
  Run("LISTEN/NOTIFY (+ 1 s poll)", a, b, true, changes);
  Run("1 s poll only (no NOTIFY sent)", a, b, false, changes / 10 + 1);
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
