// The server-side pieces of an authorized Get, without gRPC, to say where
// the time of BM_GetAccount (grpc_bench) goes beyond the Echo baseline:
//
//   BM_StoreGet         Database::WithSession + RecordStore::Get: lease a
//                       pooled connection, find the connection's cached
//                       statement (prepared on first use), bind, step,
//                       convert the row (the storage read)
//   BM_SqlitePreparedGet the same point read on a raw sqlite3 handle with a
//                       statement prepared once (the floor for the above;
//                       SQLite only)
//   BM_RecordToMessage  model::RecordToMessage (reflection codec)
//   BM_MaskFields       Evaluator::Fields + ClearField of unreadable fields
//                       (records/record_ops.cc's MaskUnreadable)
//   BM_Serialize        Account::SerializeToString of the response
//   BM_RecordsGet       records::Get: the whole authorized Get (object check,
//                       read with the record's facts, record check, codec,
//                       masking) as the server runs it, minus gRPC and
//                       authentication
//
// Same seeded server as grpc_bench (SeededServer); SQLite, and PostgreSQL if
// CRM_TEST_PG_DIR is set. Commands and figures: bench/README.md.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "crm/v1/crm_service.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "policy/evaluator.h"
#include "records/record_ops.h"
#include "store/record_store.h"

namespace crm::bench {
namespace {

struct Target {
  std::string label;
  std::unique_ptr<SeededServer> server;
};

const model::ObjectSchema& Accounts() {
  return *model::SchemaRegistry::Default().Find("accounts");
}

std::string IdOf(const std::string& name) {
  return name.substr(name.find('/') + 1);
}

void BM_StoreGet(benchmark::State& state, const Target* t) {
  const records::Deps deps = t->server->record_deps();
  const auto& names = t->server->account_names();
  std::mt19937 rng(1);
  std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
  LatencySamples samples;
  for (auto _ : state) {
    const std::string id = IdOf(names[pick(rng)]);
    const int64_t start = NowNanos();
    std::optional<model::Record> record;
    absl::Status s = deps.database->WithSession([&](store::Session& session) {
      auto r = deps.records->Get(session, Accounts(), id);
      if (!r.ok()) return r.status();
      record = *std::move(r);
      return absl::OkStatus();
    });
    samples.Add(NowNanos() - start);
    if (!s.ok() || !record.has_value()) {
      state.SkipWithError("read failed");
      break;
    }
  }
  state.counters["p50_us"] = samples.Quantile(0.5) / 1e3;
  state.counters["p99_us"] = samples.Quantile(0.99) / 1e3;
}

// A raw point read with one prepared statement, on the same SQLite file.
void BM_SqlitePreparedGet(benchmark::State& state, const Target* t) {
  std::string path = t->server->server().database();
  path = path.substr(path.find(':') + 1);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    state.SkipWithError("cannot open the SQLite file");
    return;
  }
  std::string sql = "SELECT id, version";
  for (const auto& f : Accounts().fields()) sql += ", \"" + f.name + "\"";
  sql += " FROM accounts WHERE id = ?";
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  const auto& names = t->server->account_names();
  std::mt19937 rng(1);
  std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
  for (auto _ : state) {
    const std::string id = IdOf(names[pick(rng)]);
    sqlite3_bind_text(stmt, 1, id.data(), static_cast<int>(id.size()),
                      SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    int columns = sqlite3_column_count(stmt);
    for (int c = 0; c < columns; ++c) {
      benchmark::DoNotOptimize(sqlite3_column_text(stmt, c));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) {
      state.SkipWithError("row not found");
      break;
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

model::Record StoredRecord(const Target* t) {
  auto r = t->server->record_deps().records->Get(
      Accounts(), IdOf(t->server->account_names()[42]));
  if (!r.ok() || !r->has_value()) abort();
  return **r;
}

void BM_RecordToMessage(benchmark::State& state, const Target* t) {
  const model::Record record = StoredRecord(t);
  for (auto _ : state) {
    crm::v1::Account account;
    model::RecordToMessage(Accounts(), record, &account);
    benchmark::DoNotOptimize(account);
  }
}

void BM_MaskFields(benchmark::State& state, const Target* t) {
  const model::Record record = StoredRecord(t);
  crm::v1::Account filled;
  model::RecordToMessage(Accounts(), record, &filled);
  for (auto _ : state) {
    const policy::Evaluator eval = t->server->EvaluatorFor({"admin-cli", ""});
    crm::v1::Account account = filled;
    const policy::FieldAccess access = eval.Fields(Accounts());
    const auto& fields = Accounts().fields();
    for (size_t i = 0; i < fields.size(); ++i) {
      if (!access.CanRead(static_cast<int>(i))) {
        account.GetReflection()->ClearField(&account, fields[i].descriptor);
      }
    }
    benchmark::DoNotOptimize(account);
  }
}

void BM_Serialize(benchmark::State& state, const Target* t) {
  crm::v1::Account account;
  model::RecordToMessage(Accounts(), StoredRecord(t), &account);
  std::string out;
  for (auto _ : state) {
    out.clear();
    account.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}

void BM_RecordsGet(benchmark::State& state, const Target* t) {
  const records::Deps deps = t->server->record_deps();
  const auto& names = t->server->account_names();
  std::mt19937 rng(1);
  std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
  LatencySamples samples;
  for (auto _ : state) {
    crm::v1::GetAccountRequest request;
    request.set_name(names[pick(rng)]);
    crm::v1::Account account;
    const int64_t start = NowNanos();
    const policy::Evaluator eval = t->server->EvaluatorFor({"admin-cli", ""});
    absl::Status s = records::Get(deps, eval, Accounts(), request, &account);
    samples.Add(NowNanos() - start);
    if (!s.ok()) {
      state.SkipWithError("records::Get failed");
      break;
    }
    benchmark::DoNotOptimize(account);
  }
  state.counters["p50_us"] = samples.Quantile(0.5) / 1e3;
  state.counters["p99_us"] = samples.Quantile(0.99) / 1e3;
}

void Register(const Target* t) {
  using Fn = void (*)(benchmark::State&, const Target*);
  std::vector<std::pair<const char*, Fn>> benches = {
      {"BM_StoreGet", BM_StoreGet},
      {"BM_RecordToMessage", BM_RecordToMessage},
      {"BM_MaskFields", BM_MaskFields},
      {"BM_Serialize", BM_Serialize},
      {"BM_RecordsGet", BM_RecordsGet},
  };
  if (t->label == "sqlite") {
    benches.push_back({"BM_SqlitePreparedGet", BM_SqlitePreparedGet});
  }
  for (const auto& [name, fn] : benches) {
    benchmark::RegisterBenchmark((std::string(name) + "/" + t->label).c_str(),
                                 fn, t)
        ->Unit(benchmark::kMicrosecond);
  }
}

std::unique_ptr<Target> StartTarget(testing::Backend backend,
                                    const std::string& label, int accounts) {
  auto t = std::make_unique<Target>();
  t->label = label;
  auto server = SeededServer::Start(backend, accounts);
  if (!server.ok()) {
    fprintf(stderr, "%s: %s\n", label.c_str(),
            server.status().ToString().c_str());
    exit(1);
  }
  t->server = *std::move(server);
  return t;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const int accounts = crm::bench::EnvInt("CRM_BENCH_ACCOUNTS", 10000);
  std::vector<std::unique_ptr<crm::bench::Target>> targets;
  targets.push_back(crm::bench::StartTarget(crm::testing::Backend::kSqlite,
                                            "sqlite", accounts));
  if (std::getenv("CRM_TEST_PG_DIR") != nullptr) {
    targets.push_back(crm::bench::StartTarget(crm::testing::Backend::kPostgres,
                                              "postgres", accounts));
  }
  for (const auto& t : targets) crm::bench::Register(t.get());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
