// The audit trail at 1,000,000 events (issue 11; bench/README.md "Audit
// trail"), on SQLite (always) and PostgreSQL (when CRM_TEST_PG_DIR names a
// throwaway cluster):
//   BM_VerifyAll        every event and checkpoint verified the way the
//                       server's VerifyAuditLog does (server/audit_service.cc:
//                       store::VerifyStoredAudit, which reads chunks of 2000
//                       events plus the checkpoints among them on one thread
//                       while audit::ChainVerifier hashes the previous chunk
//                       on this one). Wall time; the CPU column is this
//                       thread's only (the hashing). Target: under 10 s.
//   BM_ListLastHourForUser
//                       ListAuditEvents' query for `time >= "<newest - 1h>"
//                       AND actor_user = "users/uN"`: the filter checked
//                       against crm.internal.AuditEventColumns, rendered by
//                       query::ToSql, run by store::ListAuditEvents newest
//                       first with page_size + 1 = 101 rows, for users drawn
//                       across the activity distribution. Counters p50/p95/
//                       p99 in ms. Target: p95 under 50 ms.
//
// The data: CRM_AUDIT_BENCH_EVENTS events (default 1,000,000) appended with
// store::AppendAuditEvents (the server's own append: real hashes, real
// chain) in transactions of 10,000, with a signed checkpoint
// (store::InsertAuditCheckpoint) after every 1000 events, as the server's
// writer does by default. Times are spread evenly over the 30 days before
// now; actors are 10,000 users with a skewed activity (a few users make
// most events) plus events of services alone; actions, outcomes, changes
// and attributes in the proportions of a busy CRM (see NextEvent). The
// generation time is printed (it is not a target).
//
//   build-bench/bench/audit_bench [--benchmark_...]
//   CRM_TEST_PG_DIR=/tmp/pg-bench build-bench/bench/audit_bench
//   CRM_AUDIT_BENCH_BACKENDS=postgres (or sqlite; default: both when
//   CRM_TEST_PG_DIR is set, else sqlite)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/chain.h"
#include "audit/signing.h"
#include "audit/verifier.h"
#include "bench/bench_support.h"
#include "crm/internal/audit_columns.pb.h"
#include "model/object_schema.h"
#include "query/checked_filter.h"
#include "query/field_access.h"
#include "store/audit_store.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/statement.h"
#include "tests/support/test_database.h"

namespace crm::bench {
namespace {

constexpr int kUsers = 10000;
constexpr int kCheckpointEvery = 1000;
constexpr int kTransaction = 10000;  // events per generating transaction
constexpr int kChunk = 2000;         // as server/audit_service.cc
constexpr int kPageSize = 100;
constexpr int kQueriesPerIteration = 50;

[[noreturn]] void Die(const char* what, const absl::Status& s) {
  fprintf(stderr, "audit_bench: %s: %s\n", what, s.ToString().c_str());
  exit(1);
}

const model::ObjectSchema& ColumnsSchema() {
  static const model::ObjectSchema* schema = [] {
    auto built = model::ObjectSchema::FromDescriptor(
        crm::internal::AuditEventColumns::descriptor(),
        model::ObjectSchema::Use::kFilterColumns);
    if (!built.ok()) Die("audit columns schema", built.status());
    return built->release();
  }();
  return *schema;
}

// Skewed activity: user k (0-based) is drawn with probability roughly
// proportional to 1/(k+1)^0.8 -- the top 1% of users make ~15% of the
// events, the median user ~60 events in 30 days.
class Actors {
 public:
  Actors() {
    double total = 0;
    cumulative_.reserve(kUsers);
    for (int k = 0; k < kUsers; ++k) {
      total += 1.0 / std::pow(k + 1.0, 0.8);
      cumulative_.push_back(total);
    }
    for (double& c : cumulative_) c /= total;
  }
  int Draw(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<int>(
        std::lower_bound(cumulative_.begin(), cumulative_.end(), u) -
        cumulative_.begin());
  }

 private:
  std::vector<double> cumulative_;
};

// One event as the server would append it (before the chain fields).
crm::v1::AuditEvent NextEvent(std::mt19937_64& rng, const Actors& actors,
                              int64_t time_micros) {
  crm::v1::AuditEvent e;
  *e.mutable_time() = audit::TimeFromMicros(time_micros);
  e.set_request_id(absl::StrCat("req-", rng() % 1000000000000ULL));
  const int roll = static_cast<int>(rng() % 1000);
  const bool service_only = roll >= 960;  // 4%: a service acting alone
  if (!service_only) {
    e.set_actor_user(absl::StrCat("users/u", actors.Draw(rng)));
  }
  static const char* kServices[] = {"services/web-frontend",
                                    "services/mobile-gateway",
                                    "services/billing"};
  e.set_actor_service(kServices[rng() % 3]);
  e.set_client_address(absl::StrCat("ipv4:10.", rng() % 256, ".",
                                    rng() % 256, ".", rng() % 256, ":",
                                    1024 + rng() % 60000));
  static const char* kCountries[] = {"DE", "FR", "US", "GB", "", "JP"};
  e.set_country(kCountries[rng() % 6]);
  const std::string account = absl::StrCat("accounts/a", rng() % 1000000);
  e.set_outcome(crm::v1::ALLOWED);
  if (roll < 500) {  // 50% reads
    e.set_action("records.read");
    e.set_resource(account);
    e.set_reason("owner");
  } else if (roll < 650) {  // 15% lists
    e.set_action("records.list");
    (*e.mutable_attributes())["count"] = absl::StrCat(rng() % 51);
    (*e.mutable_attributes())["fields"] =
        "display_name,industry,owner,phone,billing_city,update_time";
    (*e.mutable_attributes())["filter"] = "industry = \"Retail\"";
  } else if (roll < 800) {  // 15% updates
    e.set_action("records.update");
    e.set_resource(account);
    e.set_reason("role:roles/rep via users/u1");
    auto* c = e.add_changes();
    c->set_field("industry");
    c->set_before("\"Retail\"");
    c->set_after("\"Banking\"");
    c->set_values_recorded(true);
    e.add_changes()->set_field("phone");
  } else if (roll < 840) {  // 4% creates
    e.set_action("records.create");
    e.set_resource(account);
    e.set_reason("object:accounts create");
    e.add_changes()->set_field("display_name");
  } else if (roll < 900) {  // 6% logins (1 in 10 refused)
    e.set_action("login");
    e.set_resource(e.actor_user());
    (*e.mutable_attributes())["username"] = "someone";
    if (rng() % 10 == 0) {
      e.set_outcome(crm::v1::DENIED);
      e.set_reason("profile 'Office' allows 10.0.0.0/8");
    }
  } else if (roll < 950) {  // 5% refusals
    e.set_action("crm.v1.AccountService/GetAccount");
    e.set_resource(account);
    e.set_outcome(crm::v1::DENIED);
    e.set_reason("record:private");
  } else if (roll < 960) {  // 1% sharing and policy
    e.set_action(rng() % 2 ? "records.share" : "policy.update");
    e.set_resource(rng() % 2 ? account : "sharingRules/retail");
    e.add_changes()->set_field("rules.criteria");
  } else {  // the service-only 4%: reads through a service grant
    e.set_action("records.read");
    e.set_resource(account);
    e.set_reason("object:accounts read");
  }
  return e;
}

struct Dataset {
  std::string backend;
  std::unique_ptr<testing::TestDatabase> test_db;
  std::unique_ptr<store::Database> db;
  audit::Signer signer = audit::Signer::Generate();
  int64_t newest_micros = 0;
  int64_t events = 0;
};

// Appends `count` events, checkpointing every kCheckpointEvery.
void Generate(Dataset& d, int64_t count) {
  std::mt19937_64 rng(42);
  Actors actors;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  const int64_t span = int64_t{30} * 24 * 3600 * 1000000;
  const int64_t first = now - span;
  const int64_t start_ns = NowNanos();
  int64_t appended = 0;
  while (appended < count) {
    const int64_t in_txn = std::min<int64_t>(kTransaction, count - appended);
    absl::Status s = d.db->InTransaction([&](store::Session& session) {
      for (int64_t done = 0; done < in_txn;) {
        const int64_t n =
            std::min<int64_t>(kCheckpointEvery, in_txn - done);
        std::vector<crm::v1::AuditEvent> events;
        events.reserve(n);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t k = appended + done + i;
          events.push_back(
              NextEvent(rng, actors, first + span * k / count));
        }
        if (absl::Status a = store::AppendAuditEvents(session, &events);
            !a.ok()) {
          return a;
        }
        crm::v1::AuditCheckpoint c;
        c.set_sequence(events.back().sequence());
        c.set_hash(events.back().hash());
        *c.mutable_time() = events.back().time();
        c.set_key_id(d.signer.public_key().key_id());
        c.set_signature(d.signer.Sign(audit::CheckpointMessage(c)));
        if (absl::Status a = store::InsertAuditCheckpoint(session, c);
            !a.ok()) {
          return a;
        }
        d.newest_micros = audit::TimeMicros(events.back().time());
        done += n;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) Die("generating events", s);
    appended += in_txn;
    if (appended % 100000 == 0) {
      fprintf(stderr, "audit_bench: %s: %lld events, %.1f s\n",
              d.backend.c_str(), static_cast<long long>(appended),
              (NowNanos() - start_ns) / 1e9);
    }
  }
  if (d.backend == "postgres") {
    absl::Status s = d.db->WithSession([](store::Session& session) {
      return store::Execute(session, {"ANALYZE audit_events", {}},
                            "analyzing")
          .status();
    });
    if (!s.ok()) Die("ANALYZE", s);
  }
  d.events = appended;
  printf("audit_bench: %s: generated %lld events (%lld checkpoints) in %.1f s\n",
         d.backend.c_str(), static_cast<long long>(appended),
         static_cast<long long>(appended / kCheckpointEvery),
         (NowNanos() - start_ns) / 1e9);
  fflush(stdout);
}

std::unique_ptr<Dataset> Open(testing::Backend backend, int64_t count) {
  auto d = std::make_unique<Dataset>();
  d->backend = backend == testing::Backend::kPostgres ? "postgres" : "sqlite";
  auto t = testing::TestDatabase::Create(backend);
  if (!t.ok()) Die("creating the database", t.status());
  d->test_db = *std::move(t);
  auto db = store::Database::Open(d->test_db->connection(), 2);
  if (!db.ok()) Die("opening the database", db.status());
  d->db = *std::move(db);
  if (absl::Status s = store::Migrate(*d->db); !s.ok()) Die("migrating", s);
  Generate(*d, count);
  return d;
}

// VerifyAuditLog minus gRPC: store::VerifyStoredAudit.
crm::v1::AuditVerification VerifyAll(Dataset& d) {
  auto result = store::VerifyStoredAudit(*d.db, {d.signer.public_key()}, kChunk);
  if (!result.ok()) Die("reading the chain", result.status());
  return *result;
}

void BM_VerifyAll(benchmark::State& state, Dataset* d) {
  for (auto _ : state) {
    crm::v1::AuditVerification v = VerifyAll(*d);
    if (!v.ok() || v.events_verified() != d->events) {
      state.SkipWithError(
          absl::StrCat("verification: ", v.problem(), " after ",
                       v.events_verified(), " events")
              .c_str());
      return;
    }
    state.counters["events"] = static_cast<double>(v.events_verified());
    state.counters["checkpoints"] =
        static_cast<double>(v.checkpoints_verified());
  }
  state.counters["events/s"] = benchmark::Counter(
      static_cast<double>(d->events), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ListLastHourForUser(benchmark::State& state, Dataset* d) {
  const std::string since = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E6SZ",
      absl::FromUnixMicros(d->newest_micros) - absl::Hours(1),
      absl::UTCTimeZone());
  // Users across the activity distribution: the busiest, the top 1%, the
  // median and the tail.
  std::mt19937_64 rng(7);
  LatencySamples samples;
  int64_t rows = 0, queries = 0;
  for (auto _ : state) {
    for (int q = 0; q < kQueriesPerIteration; ++q) {
      const int user = q % 10 == 0 ? static_cast<int>(rng() % 10)
                                   : static_cast<int>(rng() % kUsers);
      const std::string filter = absl::StrCat(
          "time >= \"", since, "\" AND actor_user = \"users/u", user, "\"");
      const int64_t start = NowNanos();
      auto checked = query::ParseAndCheckFilter(filter, ColumnsSchema(),
                                                query::AllFields());
      if (!checked.ok()) Die("filter", checked.status());
      const model::SqlFragment where = query::ToSql(*checked);
      std::vector<crm::v1::AuditEvent> events;
      absl::Status s = d->db->WithSession([&](store::Session& session) {
        auto read = store::ListAuditEvents(session, where, 0, 0,
                                           kPageSize + 1, true);
        if (!read.ok()) return read.status();
        events = *std::move(read);
        return absl::OkStatus();
      });
      if (!s.ok()) Die("listing", s);
      samples.Add(NowNanos() - start);
      rows += static_cast<int64_t>(events.size());
      ++queries;
    }
  }
  state.counters["p50_ms"] = samples.Quantile(0.50) / 1e6;
  state.counters["p95_ms"] = samples.Quantile(0.95) / 1e6;
  state.counters["p99_ms"] = samples.Quantile(0.99) / 1e6;
  state.counters["max_ms"] = samples.Max() / 1e6;
  state.counters["rows/query"] =
      queries > 0 ? static_cast<double>(rows) / queries : 0;
  state.counters["queries"] = static_cast<double>(queries);
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) {
  using namespace crm::bench;
  benchmark::Initialize(&argc, argv);
  const int64_t count = EnvInt("CRM_AUDIT_BENCH_EVENTS", 1000000);
  std::vector<crm::testing::Backend> backends;
  const char* which = std::getenv("CRM_AUDIT_BENCH_BACKENDS");
  const std::string w = which != nullptr ? which : "";
  const bool pg = std::getenv("CRM_TEST_PG_DIR") != nullptr;
  if (w.empty() || w.find("sqlite") != std::string::npos) {
    backends.push_back(crm::testing::Backend::kSqlite);
  }
  if ((w.empty() && pg) || w.find("postgres") != std::string::npos) {
    backends.push_back(crm::testing::Backend::kPostgres);
  }
  std::vector<std::unique_ptr<Dataset>> data;
  for (crm::testing::Backend b : backends) {
    data.push_back(Open(b, count));
    Dataset* d = data.back().get();
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_VerifyAll/", d->backend).c_str(), BM_VerifyAll, d)
        ->Unit(benchmark::kSecond)
        ->Iterations(1)
        ->Repetitions(3)
        ->ReportAggregatesOnly(false);
    benchmark::RegisterBenchmark(
        absl::StrCat("BM_ListLastHourForUser/", d->backend).c_str(),
        BM_ListLastHourForUser, d)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(20);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
