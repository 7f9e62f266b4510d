// Shared helpers for the benchmarks in bench/: a seeded in-process server,
// latency percentiles, and a few environment knobs. See bench/README.md.
//
// Thread-safety: SeededServer is read-only after Start (its TestServer is
// thread-safe); LatencySamples is single-threaded (one per thread).
#ifndef CRM_BENCH_BENCH_SUPPORT_H_
#define CRM_BENCH_BENCH_SUPPORT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/v1/resources.pb.h"
#include "policy/evaluator.h"
#include "records/deps.h"
#include "tests/harness/test_server.h"

namespace crm::bench {

// Industries cycled through by the seeded accounts: a filter on one of them
// (e.g. industry = "Retail") matches 1 account in kIndustries.size().
const std::vector<std::string>& Industries();

// The i-th seeded account (deterministic; ~300 bytes of field data).
crm::v1::Account SeedAccount(int i);

// How SeededServer::Start configures the server beyond the harness's base
// config (tests/harness/test_server.h).
struct SeededServerOptions {
  // The database connection pool; 0 keeps the harness's 4 (the server's own
  // default is 8).
  int pool_size = 0;
  // Prometheus metrics on 127.0.0.1:0 (server/metrics.h), as a production
  // server runs; the harness's base config has them off.
  bool metrics = false;
  // Also register the benchmark-only crm.bench.v1.UnprotectedReadService
  // (bench/unprotected_read_service.h) on the same server.
  bool unprotected_read = false;
  // AuditConfig.reads of the server (collection -> "all" | "denied_only" |
  // "none"); empty keeps the default (denied_only: no event for an allowed
  // read).
  std::map<std::string, std::string> audit_reads;
  // AuditConfig.spool_dir: a fresh directory (removed with the server), so
  // audited calls are answered once their event is in the spool.
  bool audit_spool = false;
  // A shadow policy set (admin_service.proto SetShadowPolicy): the live
  // policy with accounts' org-wide default made PUBLIC_READ, so every
  // decision of every call is also made against it and compared (stored as
  // SetShadowPolicy stores it, and loaded; Start fails if it is not being
  // evaluated).
  bool shadow = false;
  // Also seed `contacts` pairs of the same contact (crm_load's get_plain
  // and get_encrypted): "contacts/encN" and "contacts/plainN" both
  // SeedContact(N), with a phone number and an e-mail address in the
  // sensitive fields personal_phone and personal_email; encN's encrypted
  // at rest as every write stores them, plainN's in plaintext, as a
  // database from before the fields were encrypted holds them (read as
  // they are: store/field_encryption.h). admin-cli is then granted reading
  // both fields (a permission set), so a Get returns both values.
  int contacts = 0;
};

// The i-th seeded contact (see SeededServerOptions::contacts).
crm::v1::Contact SeedContact(int i);

// An in-process TestServer (real mTLS, real database) holding `accounts`
// seeded accounts. Seeding writes through the server's own RecordStore in
// transactions of 1000 rows (not through the API: 10k gRPC creates would
// dominate the run), with create/update times one second apart.
class SeededServer {
 public:
  // `pool_size` > 0 sets the database connection pool (the harness's
  // default is 4; the server's own default is 8).
  static absl::StatusOr<std::unique_ptr<SeededServer>> Start(
      testing::Backend backend, int accounts, int pool_size = 0);
  static absl::StatusOr<std::unique_ptr<SeededServer>> Start(
      testing::Backend backend, int accounts,
      const SeededServerOptions& options);
  ~SeededServer();

  testing::TestServer& server() const { return *server_; }
  // The server's database, record store, page tokens and clock, for calling
  // the record lifecycle (records/record_ops.h) or the store directly,
  // without gRPC. Valid while this SeededServer lives.
  records::Deps record_deps() const;
  // An evaluator for `principal` on the server's current policy snapshot,
  // as the server builds one per call.
  policy::Evaluator EvaluatorFor(const policy::Principal& principal) const;
  // "accounts/{id}" of every seeded account, in seeding order.
  const std::vector<std::string>& account_names() const { return names_; }
  // "contacts/{id}" of the seeded contacts whose two values are plain
  // (false) or encrypted (true), in seeding order.
  const std::vector<std::string>& contact_names(bool encrypted) const {
    return encrypted ? encrypted_contacts_ : plain_contacts_;
  }

 private:
  std::unique_ptr<testing::TestServer> server_;
  std::string spool_dir_;  // removed with the server
  std::vector<std::string> names_;
  std::vector<std::string> plain_contacts_, encrypted_contacts_;
};

// Inserts `count` accounts through the public API (CreateAccount) of the
// server behind `client`; for external targets. Returns their names.
absl::StatusOr<std::vector<std::string>> SeedThroughApi(
    client::CrmClient& client, int count);

// Per-call latencies in nanoseconds.
class LatencySamples {
 public:
  void Reserve(size_t n) { ns_.reserve(n); }
  void Add(int64_t ns) { ns_.push_back(ns); }
  void Append(const LatencySamples& other);
  size_t size() const { return ns_.size(); }
  // The q-quantile (0 <= q <= 1, nearest rank) in nanoseconds; 0 if empty.
  // Sorts the samples (non-const for that reason).
  int64_t Quantile(double q);
  int64_t Max();

 private:
  std::vector<int64_t> ns_;
  bool sorted_ = false;
};

// Integer environment variable, or `fallback` if unset or not a number.
int EnvInt(const char* name, int fallback);

// Monotonic clock in nanoseconds.
int64_t NowNanos();

}  // namespace crm::bench

#endif  // CRM_BENCH_BENCH_SUPPORT_H_
