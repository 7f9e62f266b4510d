// The access review (records/access_review.h, what AccessReviewService
// runs minus gRPC) on list_bench's organisation in PostgreSQL: 10,000
// users, 8-level roles, 300 nested groups, 50 sharing rules
// (ListBenchOrgSize, seed 42), 1,000,000 accounts and 500,000 manual shares.
//
//   ExplainAccess        random (user, account) pairs, read: load the
//                        record and its shares, trace every grant, fields
//                        (target p95 < 1 ms)
//   ListRecordAccessors  random accounts, one page of up to 1,000: one
//                        Evaluator per user over all 10,000 users (target
//                        < 100 ms)
//   SummarizeUserAccess  the CEO (the root role's user with the smallest
//                        owner set, as list_bench picks) on accounts: the
//                        readable, editable and deletable counts with List's
//                        record filters (target < 1 s); for comparison, the
//                        three counts as three statements, the read count
//                        alone, and a bare COUNT(*) of the table (the floor)
//
// The data is list_bench's database `crm_list_bench` (run list_bench once
// first: it loads it in ~40 s and keeps it). The cluster: $CRM_TEST_PG_DIR,
// else --pg-dir (default /tmp/crm-list-bench).
//
//   build/bench/access_review_bench [--iterations=200] [--pg-dir=DIR]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "auth/clock.h"
#include "bench/bench_support.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/snapshot.h"
#include "records/access_review.h"
#include "store/database.h"
#include "store/record_store.h"
#include "store/statement.h"
#include "tests/support/policy_org_generator.h"
#include "tests/support/test_database.h"

namespace crm::bench {
namespace {

constexpr uint64_t kSeed = 42;  // list_bench's
constexpr int kAccounts = 1000000;

void Die(absl::string_view what, const absl::Status& s) {
  fprintf(stderr, "access_review_bench: %s: %s\n", std::string(what).c_str(),
          s.ToString().c_str());
  exit(1);
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

void Report(const char* what, LatencySamples& s, double target_ms) {
  printf("%-40s n=%-5zu p50 %8.3f ms  p95 %8.3f ms  max %8.3f ms  "
         "(target p95 < %g ms)%s\n",
         what, s.size(), Ms(s.Quantile(0.5)), Ms(s.Quantile(0.95)),
         Ms(s.Max()), target_ms,
         Ms(s.Quantile(0.95)) < target_ms ? "" : "  MISSED");
}

std::string Database(const std::string& pg_dir) {
  if (getenv("CRM_TEST_PG_DIR") == nullptr) {
    setenv("CRM_TEST_PG_DIR", pg_dir.c_str(), 1);
  }
  auto conn = testing::TestDatabase::PostgresClusterConnection();
  if (!conn.ok()) Die("cluster (start it and run list_bench first)", conn.status());
  std::string out;
  for (absl::string_view part : absl::StrSplit(*conn, ' ')) {
    if (!absl::StartsWith(part, "dbname=")) absl::StrAppend(&out, part, " ");
  }
  return absl::StrCat(out, "dbname=crm_list_bench");
}

// The root role's user with the smallest owner set (list_bench's "CEO").
std::string PickCeo(const testing::GeneratedOrg& org,
                    const std::shared_ptr<const policy::PolicySnapshot>& snap,
                    const model::ObjectSchema& accounts) {
  std::map<std::string, std::string> parent;
  for (const auto& r : org.state.roles()) parent[r.name()] = r.parent();
  std::string best;
  size_t best_owners = 0;
  for (const auto& u : org.state.users()) {
    if (!u.active() || u.role().empty() || !parent[u.role()].empty()) continue;
    policy::PlanInfo plan;
    policy::Evaluator(snap, {"app", u.id()})
        .RecordFilter(accounts, policy::Operation::kRead, {}, &plan);
    if (plan.shape == "none" || plan.shape == "all") continue;
    if (best.empty() || plan.owners < best_owners) {
      best = u.id();
      best_owners = plan.owners;
    }
  }
  return best;
}

int Main(int argc, char** argv) {
  int iterations = 200;
  std::string pg_dir = "/tmp/crm-list-bench";
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--iterations=")) {
      if (!absl::SimpleAtoi(a, &iterations) || iterations < 1) exit(2);
    } else if (absl::ConsumePrefix(&a, "--pg-dir=")) {
      pg_dir = std::string(a);
    } else {
      fprintf(stderr, "usage: access_review_bench [--iterations=N] "
                      "[--pg-dir=DIR]\n");
      exit(2);
    }
  }
  const model::ObjectSchema& accounts =
      *model::SchemaRegistry::Default().Find("accounts");
  const testing::GeneratedOrg org =
      testing::GenerateOrg(kSeed, testing::ListBenchOrgSize());
  auto snapshot = policy::PolicySnapshot::Build(
      org.state, org.services, model::SchemaRegistry::Default());
  if (!snapshot.ok()) Die("snapshot", snapshot.status());

  auto db = store::Database::Open(Database(pg_dir), 2);
  if (!db.ok()) Die("opening crm_list_bench (run list_bench first)", db.status());
  store::RecordStore records(db->get());
  records::Deps deps;
  deps.database = db->get();
  deps.records = &records;
  deps.clock = auth::SystemClock();

  std::mt19937_64 rng(7);
  auto account_id = [&] {
    return absl::StrCat("a", rng() % kAccounts);
  };
  auto user_id = [&] {
    return org.state.users(rng() % org.state.users_size()).id();
  };
  printf("organisation: %d users, %d accounts (crm_list_bench)\n\n",
         org.state.users_size(), kAccounts);

  // ExplainAccess.
  {
    LatencySamples samples;
    int allowed = 0;
    for (int i = 0; i < iterations + 10; ++i) {
      const policy::Evaluator eval(*snapshot, {"app", user_id()});
      const std::string id = account_id();
      const int64_t start = NowNanos();
      auto e = records::ExplainAccess(deps, eval, accounts, id,
                                      policy::Operation::kRead, nullptr,
                                      nullptr);
      const int64_t ns = NowNanos() - start;
      if (!e.ok()) Die("ExplainAccess", e.status());
      allowed += e->allowed();
      if (i >= 10) samples.Add(ns);  // the first ones warm the connection
    }
    Report("ExplainAccess (random user, account)", samples, 1);
    printf("  allowed %d of %d\n", allowed, iterations + 10);
  }

  // ListRecordAccessors.
  {
    LatencySamples samples;
    size_t accessors = 0;
    const int n = std::max(10, iterations / 10);
    for (int i = 0; i < n + 2; ++i) {
      crm::v1::ListRecordAccessorsResponse out;
      bool more = false;
      const int64_t start = NowNanos();
      absl::Status s = records::ListRecordAccessors(
          deps, *snapshot, "app", accounts, account_id(), "", 1000, &out,
          &more);
      const int64_t ns = NowNanos() - start;
      if (!s.ok()) Die("ListRecordAccessors", s);
      accessors += out.accessors_size();
      if (i >= 2) samples.Add(ns);
    }
    Report("ListRecordAccessors (10,000 users)", samples, 100);
    printf("  %.1f accessors per account on average\n",
           static_cast<double>(accessors) / (n + 2));
  }

  // SummarizeUserAccess for the CEO.
  {
    const std::string ceo = PickCeo(org, *snapshot, accounts);
    const policy::Evaluator eval(*snapshot, {"app", ceo});
    LatencySamples samples;
    crm::v1::UserAccessSummary last;
    for (int i = 0; i < 6; ++i) {
      crm::v1::UserAccessSummary out;
      const int64_t start = NowNanos();
      absl::Status s =
          records::SummarizeUserAccess(deps, eval, {&accounts}, &out);
      const int64_t ns = NowNanos() - start;
      if (!s.ok()) Die("SummarizeUserAccess", s);
      if (i >= 1) samples.Add(ns);
      last = out;
    }
    Report(absl::StrCat("SummarizeUserAccess (CEO ", ceo, ", accounts)").c_str(),
           samples, 1000);
    // For comparison, in the same run: the three counts as three
    // statements (RecordStore::Count per filter) instead of one pass.
    LatencySamples separate;
    for (int i = 0; i < 3; ++i) {
      const int64_t start = NowNanos();
      absl::Status s = deps.database->WithSession([&](store::Session& session) {
        for (policy::Operation op :
             {policy::Operation::kRead, policy::Operation::kEdit,
              policy::Operation::kDelete}) {
          auto n = records.Count(session, accounts, eval.RecordFilter(accounts, op));
          if (!n.ok()) return n.status();
        }
        return absl::OkStatus();
      });
      if (!s.ok()) Die("Count", s);
      separate.Add(NowNanos() - start);
    }
    Report("  three separate COUNT statements", separate, 1000);
    // The parts, and the floor: the read count alone (the pass over the
    // table SummarizeUserAccess still makes), and a bare COUNT(*) of the
    // table (a sequential scan with no filter: no count over every row of
    // the table can be faster).
    const model::SqlFragment read_filter =
        eval.RecordFilter(accounts, policy::Operation::kRead);
    for (const bool bare : {false, true}) {
      LatencySamples part;
      for (int i = 0; i < 6; ++i) {
        const int64_t start = NowNanos();
        auto n = records.Count(accounts, bare ? model::SqlFragment() : read_filter);
        if (!n.ok()) Die("Count", n.status());
        if (i >= 1) part.Add(NowNanos() - start);
      }
      Report(bare ? "  floor: SELECT COUNT(*) FROM accounts"
                  : "  the read filter's COUNT alone",
             part, 1000);
    }
    // The subject's grantee keys (what the shares statement is driven from).
    std::vector<std::string> keys;
    {
      const policy::CompiledPolicy& p = (*snapshot)->compiled();
      keys = p.users[p.user_index.at(ceo)].grantee_keys;
    }
    if (getenv("ACCESS_BENCH_EXPLAIN") != nullptr) {
      // The read count's plan (with ACCESS_BENCH_EXPLAIN_SUBSETS, the
      // previous one-pass statement: edit and delete as CASE counts), then
      // the second statement's: the readable records shared to the CEO.
      for (const bool shared : {false, true}) {
        // As records/access_review.cc's CountRecords writes them.
        model::SqlFragment q;
        q.Append("EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*)");
        if (shared) {
          q.Append(", COUNT(CASE WHEN (");
          q.Append(read_filter);
          q.Append(") THEN 1 END)");
        }
        if (shared || getenv("ACCESS_BENCH_EXPLAIN_SUBSETS") != nullptr) {
          for (policy::Operation op :
               {policy::Operation::kEdit, policy::Operation::kDelete}) {
            q.Append(", COUNT(CASE WHEN (");
            const model::SqlFragment f = eval.RecordFilter(accounts, op);
            q.Append(shared ? model::And(read_filter, f) : f);
            q.Append(") THEN 1 END)");
          }
        }
        q.Append(" FROM accounts WHERE ");
        q.Append(shared ? store::RecordStore::SharedTo(accounts, keys)
                        : read_filter);
        absl::Status st =
            deps.database->WithSession([&](store::Session& session) {
              auto rows = store::Query(session, q, "explain");
              if (!rows.ok()) return rows.status();
              printf("  plan of the %s:\n",
                     shared ? "shares statement" : "read count");
              for (const auto& row : *rows) {
                printf("    %s\n", std::get<std::string>(row[0]).c_str());
              }
              return absl::OkStatus();
            });
        if (!st.ok()) Die("explain", st);
      }
    }
    const auto& o = last.objects(0);
    printf("  readable %lld, editable %lld, deletable %lld (filter %s)\n",
           static_cast<long long>(o.readable_records()),
           static_cast<long long>(o.editable_records()),
           static_cast<long long>(o.deletable_records()), o.plan().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
