// Subject requests and retention (issue 13 "Speed"), on the record
// lifecycle (records/privacy.h) of an in-process server's database, without
// gRPC (the adapter adds one unary call):
//   export   one person with 1 contact + N-1 activities regarding it
//            (N = PRIVACY_BENCH_RELATED, default 1000), median of 5;
//   erase    the same person (anonymize the contact, delete N-1 activities,
//            history values, receipt, audit event), one transaction;
//   retention  PRIVACY_BENCH_STALE (default 100000) stale leads anonymized
//            in batches of 500, while a reader thread Gets one account in a
//            loop: Get p50/p99 idle (before) and during the run
//            (PRIVACY_BENCH_BATCH, default 500; PRIVACY_BENCH_PAUSE_MS
//            between batches, default RetentionOptions' 100 ms);
//   floor    the same reader while PRIVACY_BENCH_BURNERS (default 1)
//            threads spin on the CPU for 5 s with no database work.
// Usage: privacy_bench [sqlite|postgresql] (CRM_TEST_PG_DIR for postgresql).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/signing.h"
#include "bench/bench_support.h"
#include "crm/v1/crm_service.pb.h"
#include "crm/v1/resources.pb.h"
#include "crypto/master_key.h"
#include "model/record.h"
#include "records/privacy.h"
#include "records/record_ops.h"

namespace crm::bench {
namespace {

const model::ObjectSchema& Schema(const char* c) {
  return *model::SchemaRegistry::Default().Find(c);
}

// Inserts records in transactions of 1000.
void InsertAll(const records::Deps& deps, const model::ObjectSchema& schema,
               const std::vector<model::Record>& all) {
  for (size_t i = 0; i < all.size(); i += 1000) {
    absl::Status s = deps.database->InTransaction([&](store::Session& session) {
      for (size_t j = i; j < std::min(all.size(), i + 1000); ++j) {
        if (absl::Status r = deps.records->Insert(session, schema, all[j]);
            !r.ok()) {
          return r;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      fprintf(stderr, "seeding %s: %s\n", schema.collection().c_str(),
              s.ToString().c_str());
      abort();
    }
  }
}

model::Record Stamp(const model::ObjectSchema& schema,
                    const google::protobuf::Message& m, const std::string& id,
                    int64_t time) {
  model::Record r = model::RecordFromMessage(schema, m);
  r.id = id;
  r.version = 1;
  r.values[schema.FieldIndex("create_time")] = time;
  r.values[schema.FieldIndex("update_time")] = time;
  r.values[schema.FieldIndex("owner")] = std::string("services/admin-cli");
  r.values[schema.FieldIndex("source")] = std::string("services/admin-cli");
  return r;
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

int Main(int argc, char** argv) {
  const std::string backend_name = argc > 1 ? argv[1] : "sqlite";
  const testing::Backend backend = backend_name == "postgresql"
                                       ? testing::Backend::kPostgres
                                       : testing::Backend::kSqlite;
  const int related = EnvInt("PRIVACY_BENCH_RELATED", 1000);
  const int stale = EnvInt("PRIVACY_BENCH_STALE", 100000);
  auto server = SeededServer::Start(backend, 10);
  if (!server.ok()) {
    fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  const records::Deps deps = (*server)->record_deps();
  auto master = crypto::MasterKey::Generate();
  const audit::Signer signer = audit::Signer::Generate();
  auto keys = records::PrivacyKeys::Create(*master, &signer);
  if (!keys.ok()) return 1;
  const int64_t now = absl::ToUnixMicros(absl::Now());

  // The person: 1 contact and related-1 activities regarding it.
  {
    crm::v1::Contact c;
    c.set_first_name("Ada");
    c.set_last_name("Lovelace");
    c.set_email("ada@bench.example");
    c.set_phone("+44 1");
    InsertAll(deps, Schema("contacts"),
              {Stamp(Schema("contacts"), c, "ada", now)});
    std::vector<model::Record> acts;
    for (int i = 1; i < related; ++i) {
      crm::v1::Activity a;
      a.set_kind(crm::v1::Activity::CALL);
      a.set_subject(absl::StrCat("call ", i));
      a.set_regarding("contacts/ada");
      acts.push_back(
          Stamp(Schema("activities"), a, absl::StrCat("act", i), now));
    }
    InsertAll(deps, Schema("activities"), acts);
  }
  const policy::Evaluator eval = (*server)->EvaluatorFor({"admin-cli", ""});
  std::vector<int64_t> export_ns;
  size_t doc_bytes = 0;
  for (int i = 0; i < 5; ++i) {
    crm::v1::ExportSubjectRequest req;
    req.set_subject("ada@bench.example");
    crm::v1::ExportSubjectResponse out;
    const int64_t t0 = NowNanos();
    absl::Status s = records::ExportSubject(deps, eval, *keys, req, &out);
    export_ns.push_back(NowNanos() - t0);
    if (!s.ok()) {
      fprintf(stderr, "export: %s\n", s.ToString().c_str());
      return 1;
    }
    doc_bytes = out.document().size();
  }
  std::sort(export_ns.begin(), export_ns.end());
  printf("%s export of a person with %d related records: median %.1f ms "
         "(min %.1f, max %.1f), document %zu bytes\n",
         backend_name.c_str(), related, Ms(export_ns[2]), Ms(export_ns[0]),
         Ms(export_ns[4]), doc_bytes);
  {
    crm::v1::EraseSubjectRequest req;
    req.set_subject("ada@bench.example");
    crm::v1::EraseSubjectResponse out;
    const int64_t t0 = NowNanos();
    absl::Status s = records::EraseSubject(
        deps, *keys, records::DefaultErasureRules(), req, &out);
    const int64_t ns = NowNanos() - t0;
    if (!s.ok()) {
      fprintf(stderr, "erase: %s\n", s.ToString().c_str());
      return 1;
    }
    printf("%s erasure of that person (%d records): %.1f ms\n",
           backend_name.c_str(), out.receipt().records_size(), Ms(ns));
  }

  // Retention over `stale` leads, with a reader.
  {
    std::vector<model::Record> leads;
    const int64_t old = now - int64_t{800} * 24 * 3600 * 1000000;
    for (int i = 0; i < stale; ++i) {
      crm::v1::Lead l;
      l.set_last_name(absl::StrCat("Stale", i));
      l.set_email(absl::StrCat("s", i, "@old.example"));
      l.set_company("Old Co");
      leads.push_back(Stamp(Schema("leads"), l, absl::StrCat("l", i), old));
    }
    InsertAll(deps, Schema("leads"), leads);
  }
  const std::string target = (*server)->account_names()[3];
  auto get_loop = [&](std::atomic<bool>* stop, LatencySamples* out,
                      int max_calls) {
    crm::v1::GetAccountRequest req;
    req.set_name(target);
    for (int i = 0; (max_calls == 0 || i < max_calls) && !stop->load(); ++i) {
      crm::v1::Account acc;
      const int64_t t0 = NowNanos();
      absl::Status s =
          records::Get(deps, eval, Schema("accounts"), req, &acc);
      out->Add(NowNanos() - t0);
      if (!s.ok()) abort();
    }
  };
  LatencySamples idle;
  {
    std::atomic<bool> stop{false};
    get_loop(&stop, &idle, 5000);
  }
  google::protobuf::RepeatedPtrField<crm::v1::RetentionRule> rules;
  crm::v1::RetentionRule* rule = rules.Add();
  rule->set_name("stale-leads");
  rule->set_object("leads");
  rule->set_max_age_days(730);
  rule->set_action(crm::v1::ErasureRule::ANONYMIZE);
  for (const char* f : {"first_name", "last_name", "company", "email",
                        "phone", "description"}) {
    rule->add_fields(f);
  }
  LatencySamples busy;
  std::atomic<bool> stop{false};
  std::thread reader(get_loop, &stop, &busy, 0);
  crm::v1::RetentionRun run;
  records::RetentionOptions options;
  options.batch_size = EnvInt("PRIVACY_BENCH_BATCH", 500);
  if (getenv("PRIVACY_BENCH_PAUSE_MS") != nullptr) {
    options.pause = absl::Milliseconds(EnvInt("PRIVACY_BENCH_PAUSE_MS", 0));
  }
  const int64_t t0 = NowNanos();
  absl::Status s = records::RunRetention(deps, rules, options, &run);
  const int64_t ns = NowNanos() - t0;
  stop.store(true);
  reader.join();
  if (!s.ok()) {
    fprintf(stderr, "retention: %s\n", s.ToString().c_str());
    return 1;
  }
  printf("%s retention run over %d stale leads: %lld anonymized in %lld "
         "batches, %.1f s\n",
         backend_name.c_str(), stale,
         static_cast<long long>(run.rules(0).records()),
         static_cast<long long>(run.batches()), Ms(ns) / 1000);
  printf("%s Get p50/p99 idle: %.3f/%.3f ms; during the run: %.3f/%.3f ms "
         "(%zu Gets); p99 ratio %.2fx\n",
         backend_name.c_str(), Ms(idle.Quantile(0.5)), Ms(idle.Quantile(0.99)),
         Ms(busy.Quantile(0.5)), Ms(busy.Quantile(0.99)), busy.size(),
         static_cast<double>(busy.Quantile(0.99)) /
             static_cast<double>(std::max<int64_t>(idle.Quantile(0.99), 1)));

  // The floor: the same reader while PRIVACY_BENCH_BURNERS threads (default
  // 1) only spin on the CPU for 5 s, no database work: what sharing the
  // cores alone does to the Get p99, whatever the run's statements.
  const int burners = EnvInt("PRIVACY_BENCH_BURNERS", 1);
  if (burners > 0) {
    LatencySamples burned;
    std::atomic<bool> stop_burn{false}, stop_read{false};
    std::vector<std::thread> spin;
    for (int i = 0; i < burners; ++i) {
      spin.emplace_back([&stop_burn] {
        volatile uint64_t x = 0;
        while (!stop_burn.load(std::memory_order_relaxed)) x = x + 1;
      });
    }
    std::thread reader2(get_loop, &stop_read, &burned, 0);
    absl::SleepFor(absl::Seconds(5));
    stop_read.store(true);
    reader2.join();
    stop_burn.store(true);
    for (std::thread& t : spin) t.join();
    printf("%s Get p50/p99 with %d CPU-only spinning thread(s): %.3f/%.3f ms "
           "(%zu Gets); p99 ratio %.2fx\n",
           backend_name.c_str(), burners, Ms(burned.Quantile(0.5)),
           Ms(burned.Quantile(0.99)), burned.size(),
           static_cast<double>(burned.Quantile(0.99)) /
               static_cast<double>(std::max<int64_t>(idle.Quantile(0.99), 1)));
  }
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
