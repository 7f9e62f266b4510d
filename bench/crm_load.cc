// crm_load: a bounded gRPC load generator for the CRM server (loopback only).
//
// Keeps --inflight calls outstanding, spread over --channels separate mTLS
// connections, using gRPC's callback API, for --duration seconds per phase
// (after --warmup seconds that are not counted). Each round runs every
// method in --methods once, in order, so Echo and Get are measured in the
// same run on the same server build, alternately (drift on a shared machine
// hits both). Prints, per phase: calls/s, latency p50/p90/p99/max, errors,
// and process CPU per call; then the median calls/s of each method over the
// rounds and the ratios Get/Echo, Get/raw, Get/get_quiet,
// get_audited/Get, list_audited/List and get_shadow/Get. Exits 1 if
// any call failed.
//
// Methods: echo (DiagnosticsService.Echo: mTLS + identity only, no
// storage), ping (Echo with ping_database: the same plus one
// SELECT 1 on a pooled connection, i.e. the floor of any call that makes
// one database round trip), get (AccountService.GetAccount of a random seeded
// account: identity + policy + point read + field masking), list
// (ListAccounts, page of 50, optional --filter), raw (the benchmark-only
// crm.bench.v1.UnprotectedReadService.GetAccount of the same accounts on the
// same server: TLS, the point read and the record codec, no pipeline —
// no session, restriction, policy, masking, log line or metrics; see
// bench/unprotected_read_service.h), get_quiet (the same Get on a second
// in-process server, seeded alike, with what --quiet names turned off:
// "metrics" starts it without a metrics endpoint, "log" raises the process's
// log level to warning for its phases, which drops the per-call "rpc" line),
// get_audited and list_audited (the same Get and List on another second
// in-process server, seeded alike, whose config records every read of
// accounts: audit { reads { key: "accounts" value: "all" } }, so each call
// waits for its event's group commit; the main server keeps the default,
// "denied_only", which records no event for an allowed read), get_shadow
// (the same Get on another second in-process server with a shadow policy
// set, so every decision is also made against the candidate and compared;
// server/shadow_policy.h), get_plain and get_encrypted (ContactService.
// GetContact on the main server of a random one of --contacts pairs of the
// same contact, with a phone number and an e-mail address in the two
// sensitive fields: get_encrypted's stored encrypted (AES-256-GCM,
// decrypted on every read), get_plain's stored in plaintext as before
// encryption; admin-cli may read both fields, so both are returned;
// bench_support.h SeededServerOptions::contacts).
//
// Without --target an in-process server is started (TestServer: real mTLS
// with per-run certificates, a fresh SQLite database, or PostgreSQL with
// --backend=postgres and CRM_TEST_PG_DIR) with metrics on (--metrics=0:
// off) and --accounts accounts are seeded directly. With --target=localhost:PORT --ca --cert --key, an external
// server is loaded instead and --accounts accounts are first CREATED through
// the API (they stay in that server's database); raw and get_quiet need the
// in-process server.
//
// Example: crm_load --methods=echo,get --channels=2 --inflight=32
//          --duration=5 --rounds=3
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/log.h"
#include "bench/bench_support.h"
#include "crm/bench/v1/unprotected_read.grpc.pb.h"

namespace crm::bench {
namespace {

constexpr int kMaxChannels = 64;
constexpr int kMaxInflight = 1024;
constexpr int kMaxDurationSeconds = 60;
constexpr int kMaxRounds = 30;
constexpr int64_t kMaxCallsPerPhase = 20'000'000;
constexpr int kCallDeadlineSeconds = 10;

enum class Method {
  kEcho,
  kPing,
  kGet,
  kList,
  kRaw,
  kGetQuiet,
  kGetAudited,
  kListAudited,
  kGetShadow,
  kGetPlain,
  kGetEncrypted,
  kCreate,
  kUpdate
};

const char* MethodName(Method m) {
  switch (m) {
    case Method::kEcho:
      return "echo";
    case Method::kPing:
      return "ping";
    case Method::kGet:
      return "get";
    case Method::kList:
      return "list";
    case Method::kRaw:
      return "raw";
    case Method::kGetQuiet:
      return "get_quiet";
    case Method::kGetAudited:
      return "get_audited";
    case Method::kListAudited:
      return "list_audited";
    case Method::kGetShadow:
      return "get_shadow";
    case Method::kGetPlain:
      return "get_plain";
    case Method::kGetEncrypted:
      return "get_encrypted";
    case Method::kCreate:
      return "create";
    case Method::kUpdate:
      return "update";
  }
  return "?";
}

struct Flags {
  std::vector<Method> methods = {Method::kEcho, Method::kGet};
  int channels = 2;
  int inflight = 32;
  int duration = 5;  // seconds per phase
  int warmup = 1;    // seconds per phase, not counted
  int rounds = 3;
  int accounts = 10000;
  int contacts = 1000;  // of each kind, when get_plain or get_encrypted runs
  int pool = 0;  // in-process server's database pool; 0: the harness's 4
  int metrics = 1;  // in-process server's metrics endpoint
  // get_audited's server: events through the audit spool (1) or each call
  // waiting for its event's commit (0).
  int audit_spool = 1;
  bool quiet_log = true, quiet_metrics = true;  // what get_quiet turns off
  std::string filter;  // for list
  std::string backend = "sqlite";
  std::string target, ca, cert, key;
};

int Usage(const std::string& error) {
  fprintf(stderr,
          "crm_load: %s\n"
          "usage: crm_load [--methods=echo,ping,get,list,raw,get_quiet,\n"
          "                  get_audited,list_audited,get_shadow,get_plain,\n"
          "                  get_encrypted,create,update]\n"
          "  [--channels=C<=%d] [--inflight=K<=%d] [--duration=S<=%d]\n"
          "  [--warmup=S] [--rounds=R<=%d] [--accounts=N] [--contacts=N]\n"
          "  [--pool=N] [--audit_spool=1|0]\n"
          "  [--filter=EXPR] [--backend=sqlite|postgres] [--metrics=1|0]\n"
          "  [--quiet=log,metrics]\n"
          "  [--target=localhost:PORT --ca=FILE --cert=FILE --key=FILE]\n",
          error.c_str(), kMaxChannels, kMaxInflight, kMaxDurationSeconds,
          kMaxRounds);
  return 2;
}

bool IsLoopback(const std::string& target) {
  std::string host = target.substr(0, target.rfind(':'));
  return host == "localhost" || host == "[::1]" ||
         host.rfind("127.", 0) == 0 || host == "ipv4:127.0.0.1";
}

// Parses argv into `flags`; returns an error message, empty on success.
std::string ParseFlags(int argc, char** argv, Flags* flags) {
  std::map<std::string, int*> ints = {
      {"channels", &flags->channels}, {"inflight", &flags->inflight},
      {"duration", &flags->duration}, {"warmup", &flags->warmup},
      {"rounds", &flags->rounds},     {"accounts", &flags->accounts},
      {"contacts", &flags->contacts},
      {"pool", &flags->pool},         {"metrics", &flags->metrics},
      {"audit_spool", &flags->audit_spool}};
  std::map<std::string, std::string*> strings = {
      {"filter", &flags->filter}, {"backend", &flags->backend},
      {"target", &flags->target}, {"ca", &flags->ca},
      {"cert", &flags->cert},     {"key", &flags->key}};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      return absl::StrCat("expected --name=value, got '", arg, "'");
    }
    std::string name = arg.substr(2, eq - 2), value = arg.substr(eq + 1);
    if (name == "methods") {
      flags->methods.clear();
      for (absl::string_view m : absl::StrSplit(value, ',')) {
        if (m == "echo") {
          flags->methods.push_back(Method::kEcho);
        } else if (m == "ping") {
          flags->methods.push_back(Method::kPing);
        } else if (m == "get") {
          flags->methods.push_back(Method::kGet);
        } else if (m == "list") {
          flags->methods.push_back(Method::kList);
        } else if (m == "raw") {
          flags->methods.push_back(Method::kRaw);
        } else if (m == "get_quiet") {
          flags->methods.push_back(Method::kGetQuiet);
        } else if (m == "get_audited") {
          flags->methods.push_back(Method::kGetAudited);
        } else if (m == "get_shadow") {
          flags->methods.push_back(Method::kGetShadow);
        } else if (m == "list_audited") {
          flags->methods.push_back(Method::kListAudited);
        } else if (m == "get_plain") {
          flags->methods.push_back(Method::kGetPlain);
        } else if (m == "get_encrypted") {
          flags->methods.push_back(Method::kGetEncrypted);
        } else if (m == "create") {
          flags->methods.push_back(Method::kCreate);
        } else if (m == "update") {
          flags->methods.push_back(Method::kUpdate);
        } else {
          return absl::StrCat("--methods: unknown method '", m,
                              "'; use echo, ping, get, list, raw, get_quiet, "
                              "get_audited, list_audited, get_shadow, "
                              "get_plain, get_encrypted, create, update");
        }
      }
    } else if (name == "quiet") {
      flags->quiet_log = flags->quiet_metrics = false;
      for (absl::string_view q : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        if (q == "log") {
          flags->quiet_log = true;
        } else if (q == "metrics") {
          flags->quiet_metrics = true;
        } else {
          return absl::StrCat("--quiet: unknown '", q, "'; use log, metrics");
        }
      }
    } else if (auto it = ints.find(name); it != ints.end()) {
      if (!absl::SimpleAtoi(value, it->second) || *it->second < 0) {
        return absl::StrCat("--", name, ": expected a number >= 0, got '",
                            value, "'");
      }
    } else if (auto sit = strings.find(name); sit != strings.end()) {
      *sit->second = value;
    } else {
      return absl::StrCat("unknown flag --", name);
    }
  }
  if (flags->channels < 1 || flags->channels > kMaxChannels ||
      flags->inflight < 1 || flags->inflight > kMaxInflight ||
      flags->duration < 1 || flags->duration > kMaxDurationSeconds ||
      flags->warmup > kMaxDurationSeconds || flags->rounds < 1 ||
      flags->rounds > kMaxRounds || flags->methods.empty()) {
    return "a bound is out of range";
  }
  if (!flags->target.empty()) {
    if (!IsLoopback(flags->target)) {
      return absl::StrCat("--target ", flags->target,
                          " is not a loopback address; crm_load only loads "
                          "localhost / 127.0.0.0/8 / [::1]");
    }
    if (flags->ca.empty() || flags->cert.empty() || flags->key.empty()) {
      return "--target needs --ca, --cert and --key";
    }
    for (Method m : flags->methods) {
      if (m == Method::kRaw || m == Method::kGetQuiet ||
          m == Method::kGetAudited || m == Method::kListAudited ||
          m == Method::kGetShadow || m == Method::kGetPlain ||
          m == Method::kGetEncrypted) {
        return absl::StrCat(MethodName(m),
                            " needs the in-process server (no --target)");
      }
    }
  }
  if (flags->backend != "sqlite" && flags->backend != "postgres") {
    return "--backend: use sqlite or postgres";
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    fprintf(stderr, "crm_load: cannot read %s\n", path.c_str());
    exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One mTLS connection per channel: a channel argument unique to the channel
// and a local subchannel pool stop gRPC from sharing one TCP connection.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target,
                                           const std::string& ca,
                                           const std::string& cert,
                                           const std::string& key, int index) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(ca);
  tls.pem_cert_chain = ReadFile(cert);
  tls.pem_private_key = ReadFile(key);
  grpc::ChannelArguments args;
  args.SetInt("crm.load.channel", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(tls), args);
}

struct Stubs {
  std::unique_ptr<crm::v1::DiagnosticsService::Stub> diagnostics;
  std::unique_ptr<crm::v1::AccountService::Stub> accounts;
  std::unique_ptr<crm::v1::ContactService::Stub> contacts;
  // Same channel; only on the in-process server.
  std::unique_ptr<crm::bench::v1::UnprotectedReadService::Stub> unprotected;
  // A channel to the get_quiet server; null unless get_quiet runs.
  std::unique_ptr<crm::v1::AccountService::Stub> quiet_accounts;
  // A channel to the audited server; null unless get_audited or
  // list_audited runs.
  std::unique_ptr<crm::v1::AccountService::Stub> audited_accounts;
  // A channel to the shadow server; null unless get_shadow runs.
  std::unique_ptr<crm::v1::AccountService::Stub> shadow_accounts;
};

// One phase: `lanes` chains of sequential calls of one method.
struct Phase {
  Method method;
  int64_t measure_start_ns = 0;  // calls started earlier are warm-up
  int64_t end_ns = 0;            // no call starts after this
  std::atomic<int64_t> issued{0};
  std::mutex mu;
  std::condition_variable done_cv;
  int active_lanes = 0;
};

// A chain of calls: each completion starts the next call, so a lane has at
// most one call in flight and its fields need no lock.
class Lane {
 public:
  Lane(Stubs* stubs, const std::vector<std::string>* names,
       const std::vector<std::string>* plain_contacts,
       const std::vector<std::string>* encrypted_contacts,
       const std::string& filter, int seed)
      : stubs_(stubs),
        names_(names),
        plain_contacts_(plain_contacts),
        encrypted_contacts_(encrypted_contacts),
        rng_(seed) {
    echo_req_.set_payload(std::string(32, 'x'));
    ping_req_.set_payload(std::string(32, 'x'));
    ping_req_.set_ping_database(true);
    list_req_.set_page_size(50);
    list_req_.set_filter(filter);
    crm::v1::Account* a = create_req_.mutable_account();
    a->set_industry("Manufacturing");
    a->set_website("https://load.example");
    a->set_billing_city("Leeds");
    a->set_billing_country("GB");
    update_req_.mutable_account()->set_description("updated by crm_load");
    update_req_.mutable_update_mask()->add_paths("phone");
    update_req_.mutable_update_mask()->add_paths("description");
  }

  void Run(Phase* phase) {
    phase_ = phase;
    samples_ = LatencySamples();
    samples_.Reserve(1 << 15);
    errors_ = 0;
    Next();
  }

  LatencySamples& samples() { return samples_; }
  int64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void Next() {
    int64_t now = NowNanos();
    if (now >= phase_->end_ns ||
        phase_->issued.fetch_add(1) >= kMaxCallsPerPhase) {
      std::lock_guard<std::mutex> lock(phase_->mu);
      if (--phase_->active_lanes == 0) phase_->done_cv.notify_all();
      return;
    }
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(kCallDeadlineSeconds));
    start_ns_ = now;
    auto done = [this](grpc::Status s) { Done(std::move(s)); };
    switch (phase_->method) {
      case Method::kEcho:
        stubs_->diagnostics->async()->Echo(ctx_.get(), &echo_req_, &echo_resp_,
                                           done);
        break;
      case Method::kPing:
        stubs_->diagnostics->async()->Echo(ctx_.get(), &ping_req_, &echo_resp_,
                                           done);
        break;
      case Method::kGet:
        get_req_.set_name(PickName());
        stubs_->accounts->async()->GetAccount(ctx_.get(), &get_req_, &account_,
                                              done);
        break;
      case Method::kList:
        stubs_->accounts->async()->ListAccounts(ctx_.get(), &list_req_,
                                                &list_resp_, done);
        break;
      case Method::kRaw:
        raw_req_.set_name(PickName());
        stubs_->unprotected->async()->GetAccount(ctx_.get(), &raw_req_,
                                                 &account_, done);
        break;
      case Method::kGetQuiet:
        get_req_.set_name(PickName());
        stubs_->quiet_accounts->async()->GetAccount(ctx_.get(), &get_req_,
                                                    &account_, done);
        break;
      case Method::kGetAudited:
        get_req_.set_name(PickName());
        stubs_->audited_accounts->async()->GetAccount(ctx_.get(), &get_req_,
                                                      &account_, done);
        break;
      case Method::kListAudited:
        stubs_->audited_accounts->async()->ListAccounts(
            ctx_.get(), &list_req_, &list_resp_, done);
        break;
      case Method::kGetShadow:
        get_req_.set_name(PickName());
        stubs_->shadow_accounts->async()->GetAccount(ctx_.get(), &get_req_,
                                                     &account_, done);
        break;
      case Method::kGetPlain:
        get_contact_req_.set_name(Pick(*plain_contacts_));
        stubs_->contacts->async()->GetContact(ctx_.get(), &get_contact_req_,
                                              &contact_, done);
        break;
      case Method::kGetEncrypted:
        get_contact_req_.set_name(Pick(*encrypted_contacts_));
        stubs_->contacts->async()->GetContact(ctx_.get(), &get_contact_req_,
                                              &contact_, done);
        break;
      case Method::kCreate:
        // Five fields written: each gets its provenance and history row.
        create_req_.mutable_account()->set_display_name(
            absl::StrCat("Load ", ++serial_));
        stubs_->accounts->async()->CreateAccount(ctx_.get(), &create_req_,
                                                 &account_, done);
        break;
      case Method::kUpdate:
        // Two fields of a random seeded account, without an etag.
        update_req_.mutable_account()->set_name(PickName());
        update_req_.mutable_account()->set_phone(absl::StrCat(++serial_));
        stubs_->accounts->async()->UpdateAccount(ctx_.get(), &update_req_,
                                                 &account_, done);
        break;
    }
  }

  // A random one of `names` (get_plain and get_encrypted pick alike).
  const std::string& Pick(const std::vector<std::string>& names) {
    std::uniform_int_distribution<size_t> pick(0, names.size() - 1);
    return names[pick(rng_)];
  }

  // A random seeded account (the same distribution for get, raw,
  // get_quiet and get_audited).
  const std::string& PickName() {
    std::uniform_int_distribution<size_t> pick(0, names_->size() - 1);
    return (*names_)[pick(rng_)];
  }

  void Done(grpc::Status s) {
    if (start_ns_ >= phase_->measure_start_ns) {
      samples_.Add(NowNanos() - start_ns_);
      if (!s.ok()) {
        if (errors_++ == 0 && first_error_.empty()) {
          first_error_ = absl::StrCat("code ", s.error_code(), ": ",
                                      s.error_message());
        }
      }
    }
    Next();
  }

  Stubs* stubs_;
  const std::vector<std::string>* names_;
  const std::vector<std::string>* plain_contacts_;
  const std::vector<std::string>* encrypted_contacts_;
  std::mt19937 rng_;
  Phase* phase_ = nullptr;
  std::unique_ptr<grpc::ClientContext> ctx_;
  int64_t start_ns_ = 0;
  crm::v1::EchoRequest echo_req_;
  crm::v1::EchoRequest ping_req_;
  crm::v1::EchoResponse echo_resp_;
  crm::v1::GetAccountRequest get_req_;
  crm::bench::v1::GetAccountRequest raw_req_;
  crm::v1::Account account_;
  crm::v1::GetContactRequest get_contact_req_;
  crm::v1::Contact contact_;
  crm::v1::CreateAccountRequest create_req_;
  crm::v1::UpdateAccountRequest update_req_;
  int64_t serial_ = 0;
  crm::v1::ListAccountsRequest list_req_;
  crm::v1::ListAccountsResponse list_resp_;
  LatencySamples samples_;
  int64_t errors_ = 0;
  std::string first_error_;
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct PhaseResult {
  double calls_per_second = 0;
  double cpu_per_call = 0;  // process CPU seconds per call (client + server)
  int64_t errors = 0;
};

PhaseResult RunPhase(Method method, const Flags& flags,
                     std::vector<std::unique_ptr<Lane>>& lanes, int round) {
  // The log level is process-wide: get_quiet's phases drop the per-call
  // "rpc" line (info) of its server; warnings and errors still print.
  const bool quiet_log = method == Method::kGetQuiet && flags.quiet_log;
  if (quiet_log) base::SetLogLevel(base::LogLevel::kWarning);
  Phase phase;
  phase.method = method;
  const int64_t now = NowNanos();
  phase.measure_start_ns = now + int64_t{flags.warmup} * 1'000'000'000;
  phase.end_ns = phase.measure_start_ns + int64_t{flags.duration} * 1'000'000'000;
  phase.active_lanes = static_cast<int>(lanes.size());
  for (auto& lane : lanes) lane->Run(&phase);
  // Process CPU is sampled from the end of the warm-up.
  while (NowNanos() < phase.measure_start_ns) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double cpu_start = ProcessCpuSeconds();
  {
    std::unique_lock<std::mutex> lock(phase.mu);
    phase.done_cv.wait(lock, [&] { return phase.active_lanes == 0; });
  }
  const double elapsed = (NowNanos() - phase.measure_start_ns) / 1e9;
  const double cpu = ProcessCpuSeconds() - cpu_start;
  if (quiet_log) base::SetLogLevel(base::LogLevel::kInfo);

  LatencySamples all;
  int64_t errors = 0;
  std::string first_error;
  for (auto& lane : lanes) {
    all.Append(lane->samples());
    errors += lane->errors();
    if (first_error.empty()) first_error = lane->first_error();
  }
  PhaseResult r;
  const double calls = static_cast<double>(all.size());
  r.calls_per_second = calls / elapsed;
  r.errors = errors;
  r.cpu_per_call = calls > 0 ? cpu / calls : 0;
  printf(
      "round %d  %-12s  calls %8.0f  calls/s %8.0f  p50 %7.1f us  p90 %7.1f us"
      "  p99 %7.1f us  max %8.1f us  errors %lld  cpu/call %5.1f us\n",
      round, MethodName(method), calls, r.calls_per_second,
      all.Quantile(0.50) / 1e3, all.Quantile(0.90) / 1e3,
      all.Quantile(0.99) / 1e3, all.Max() / 1e3,
      static_cast<long long>(errors), calls > 0 ? cpu / calls * 1e6 : 0.0);
  if (!first_error.empty()) printf("        first error: %s\n", first_error.c_str());
  fflush(stdout);
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 == 1 ? v[v.size() / 2]
                           : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

bool Runs(const Flags& flags, Method method) {
  return std::find(flags.methods.begin(), flags.methods.end(), method) !=
         flags.methods.end();
}

// `flags.channels` connected stubs to `target`; empty if one cannot connect.
std::vector<std::unique_ptr<Stubs>> Connect(const Flags& flags,
                                            const std::string& target,
                                            const std::string& ca,
                                            const std::string& cert,
                                            const std::string& key,
                                            int first_index) {
  std::vector<std::unique_ptr<Stubs>> stubs;
  for (int i = 0; i < flags.channels; ++i) {
    auto channel = MakeChannel(target, ca, cert, key, first_index + i);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(10))) {
      fprintf(stderr, "crm_load: cannot connect to %s\n", target.c_str());
      return {};
    }
    auto s = std::make_unique<Stubs>();
    s->diagnostics = crm::v1::DiagnosticsService::NewStub(channel);
    s->accounts = crm::v1::AccountService::NewStub(channel);
    s->contacts = crm::v1::ContactService::NewStub(channel);
    s->unprotected = crm::bench::v1::UnprotectedReadService::NewStub(channel);
    stubs.push_back(std::move(s));
  }
  return stubs;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (std::string error = ParseFlags(argc, argv, &flags); !error.empty()) {
    return Usage(error);
  }
  std::unique_ptr<SeededServer> local;
  std::unique_ptr<SeededServer> quiet;  // get_quiet's server
  std::unique_ptr<SeededServer> audited;  // get_audited's, list_audited's
  std::unique_ptr<SeededServer> shadowed;  // get_shadow's
  std::vector<std::string> names;
  std::vector<std::string> plain_contacts, encrypted_contacts;
  std::string target = flags.target, ca = flags.ca, cert = flags.cert,
              key = flags.key;
  if (target.empty()) {
    testing::Backend backend = flags.backend == "postgres"
                                   ? testing::Backend::kPostgres
                                   : testing::Backend::kSqlite;
    fprintf(stderr, "crm_load: in-process %s server, seeding %d accounts\n",
            flags.backend.c_str(), flags.accounts);
    SeededServerOptions options;
    options.pool_size = flags.pool;
    options.metrics = flags.metrics != 0;
    options.unprotected_read = Runs(flags, Method::kRaw);
    if (Runs(flags, Method::kGetPlain) || Runs(flags, Method::kGetEncrypted)) {
      if (flags.contacts < 1) {
        return Usage("get_plain and get_encrypted need --contacts >= 1");
      }
      options.contacts = flags.contacts;
      fprintf(stderr,
              "crm_load: and %d contacts with two sensitive values in "
              "plaintext, %d alike encrypted\n",
              flags.contacts, flags.contacts);
    }
    auto server = SeededServer::Start(backend, flags.accounts, options);
    if (!server.ok()) {
      fprintf(stderr, "crm_load: %s\n", server.status().ToString().c_str());
      return 1;
    }
    local = *std::move(server);
    names = local->account_names();
    plain_contacts = local->contact_names(false);
    encrypted_contacts = local->contact_names(true);
    target = local->server().target();
    const testing::TestCerts& certs = local->server().certs();
    ca = certs.ca;
    cert = certs.ClientCert("admin-cli");
    key = certs.ClientKey("admin-cli");
    // A second server seeded alike, for the methods that compare one
    // server setting against the main server.
    auto second = [&](const std::string& why, const SeededServerOptions& o,
                      std::unique_ptr<SeededServer>* out) {
      fprintf(stderr, "crm_load: second in-process %s server for %s, "
              "seeding %d accounts\n", flags.backend.c_str(), why.c_str(),
              flags.accounts);
      auto started = SeededServer::Start(backend, flags.accounts, o);
      if (!started.ok()) {
        fprintf(stderr, "crm_load: %s\n",
                started.status().ToString().c_str());
        return false;
      }
      *out = *std::move(started);
      if ((*out)->account_names() != names) {
        fprintf(stderr, "crm_load: the two servers hold different accounts\n");
        return false;
      }
      return true;
    };
    if (Runs(flags, Method::kGetQuiet)) {
      SeededServerOptions quiet_options;
      quiet_options.pool_size = flags.pool;
      quiet_options.metrics = flags.metrics != 0 && !flags.quiet_metrics;
      if (!second(absl::StrCat("get_quiet (metrics ",
                               quiet_options.metrics ? "on" : "off",
                               ", log line ", flags.quiet_log ? "off" : "on",
                               ")"),
                  quiet_options, &quiet)) {
        return 1;
      }
    }
    if (Runs(flags, Method::kGetAudited) || Runs(flags, Method::kListAudited)) {
      SeededServerOptions audited_options = options;
      audited_options.unprotected_read = false;
      audited_options.contacts = 0;
      audited_options.audit_reads = {{"accounts", "all"}};
      audited_options.audit_spool = flags.audit_spool != 0;
      if (!second(absl::StrCat("get_audited and list_audited (every read of "
                               "accounts audited, ",
                               flags.audit_spool != 0
                                   ? "through the audit spool"
                                   : "each call waiting for its commit",
                               ")"),
                  audited_options, &audited)) {
        return 1;
      }
    }
    if (Runs(flags, Method::kGetShadow)) {
      SeededServerOptions shadow_options = options;
      shadow_options.unprotected_read = false;
      shadow_options.contacts = 0;
      shadow_options.shadow = true;
      if (!second("get_shadow (a shadow policy compared on every decision)",
                  shadow_options, &shadowed)) {
        return 1;
      }
    }
  } else {
    client::ChannelOptions options;
    options.target = target;
    options.ca_file = ca;
    options.cert_file = cert;
    options.key_file = key;
    auto client = client::CrmClient::Create(options);
    if (!client.ok()) {
      fprintf(stderr, "crm_load: %s\n", client.status().ToString().c_str());
      return 1;
    }
    fprintf(stderr, "crm_load: creating %d accounts on %s through the API\n",
            flags.accounts, target.c_str());
    auto seeded = SeedThroughApi(**client, flags.accounts);
    if (!seeded.ok()) {
      fprintf(stderr, "crm_load: %s\n", seeded.status().ToString().c_str());
      return 1;
    }
    names = *std::move(seeded);
  }
  if (names.empty()) {
    bool needs_names = false;
    for (Method m : flags.methods) {
      needs_names |= m == Method::kGet || m == Method::kRaw ||
                     m == Method::kGetQuiet || m == Method::kGetAudited ||
                     m == Method::kGetShadow || m == Method::kUpdate;
    }
    if (needs_names) {
      return Usage("get, raw, get_quiet and get_audited need --accounts >= 1");
    }
  }

  std::vector<std::unique_ptr<Stubs>> stubs =
      Connect(flags, target, ca, cert, key, 0);
  if (stubs.empty()) return 1;
  // Channels to a second server, one per main channel, each into `field`.
  auto connect_second =
      [&](const SeededServer* server, int salt,
          std::unique_ptr<crm::v1::AccountService::Stub> Stubs::*field) {
        if (server == nullptr) return true;
        const testing::TestCerts& certs = server->server().certs();
        std::vector<std::unique_ptr<Stubs>> more =
            Connect(flags, server->server().target(), certs.ca,
                    certs.ClientCert("admin-cli"),
                    certs.ClientKey("admin-cli"), salt);
        if (more.empty()) return false;
        for (int i = 0; i < flags.channels; ++i) {
          stubs[i].get()->*field = std::move(more[i]->accounts);
        }
        return true;
      };
  if (!connect_second(quiet.get(), flags.channels, &Stubs::quiet_accounts) ||
      !connect_second(audited.get(), 2 * flags.channels,
                      &Stubs::audited_accounts) ||
      !connect_second(shadowed.get(), 3 * flags.channels,
                      &Stubs::shadow_accounts)) {
    return 1;
  }
  std::vector<std::unique_ptr<Lane>> lanes;
  for (int i = 0; i < flags.inflight; ++i) {
    lanes.push_back(std::make_unique<Lane>(stubs[i % flags.channels].get(),
                                           &names, &plain_contacts,
                                           &encrypted_contacts, flags.filter,
                                           7 + i));
  }

  printf("crm_load: target %s, %d channel(s), %d calls in flight, %d s per "
         "phase after %d s warm-up, %d round(s), %zu accounts%s\n",
         target.c_str(), flags.channels, flags.inflight, flags.duration,
         flags.warmup, flags.rounds, names.size(),
         local != nullptr ? " (in-process server: client and server share "
                            "the CPU)"
                          : "");
  if (local != nullptr) {
    printf("crm_load: server metrics %s, per-call log line on (stderr)%s\n",
           flags.metrics != 0 ? "on" : "off",
           quiet == nullptr
               ? ""
               : absl::StrCat("; get_quiet: a second server, metrics ",
                              flags.quiet_metrics || flags.metrics == 0 ? "off"
                                                                        : "on",
                              ", log line ", flags.quiet_log ? "off" : "on")
                     .c_str());
  }
  std::map<Method, std::vector<double>> rates, cpu;
  int64_t errors = 0;
  const size_t n = flags.methods.size();
  for (int round = 1; round <= flags.rounds; ++round) {
    // Round r starts at method r-1 (mod n): no method always runs right
    // after the same one, or first.
    for (size_t k = 0; k < n; ++k) {
      const Method m = flags.methods[(k + static_cast<size_t>(round - 1)) % n];
      PhaseResult r = RunPhase(m, flags, lanes, round);
      rates[m].push_back(r.calls_per_second);
      cpu[m].push_back(r.cpu_per_call);
      errors += r.errors;
    }
  }
  printf("median calls/s over %d round(s):", flags.rounds);
  for (const auto& [m, v] : rates) printf("  %s %.0f", MethodName(m), Median(v));
  printf("\n");
  // Median calls/s of `num` over those of `den`, when both ran. With more
  // than one round also: the median of the rounds' own ratios (each round's
  // two phases ran within seconds of each other, so on a shared machine
  // this pairs like with like), each round's ratio, and the same for
  // process CPU per call (den's over num's: < 1 when num costs more).
  auto ratio = [&](Method num, Method den, const char* note) {
    if (!rates.count(num) || !rates.count(den)) return;
    const double d = Median(rates[den]);
    printf("ratio %s/%s: %.3f (%s)\n", MethodName(num), MethodName(den),
           d > 0 ? Median(rates[num]) / d : 0, note);
    if (rates[num].size() < 2) return;
    std::vector<double> paired, paired_cpu;
    for (size_t i = 0; i < rates[num].size(); ++i) {
      paired.push_back(rates[den][i] > 0 ? rates[num][i] / rates[den][i] : 0);
      paired_cpu.push_back(cpu[num][i] > 0 ? cpu[den][i] / cpu[num][i] : 0);
    }
    printf("  median of round ratios %.3f; by round:", Median(paired));
    for (double r : paired) printf(" %.3f", r);
    printf("\n  cpu/call %s over %s: median %.3f (%.1f us vs %.1f us)\n",
           MethodName(den), MethodName(num), Median(paired_cpu),
           Median(cpu[den]) * 1e6, Median(cpu[num]) * 1e6);
  };
  ratio(Method::kGet, Method::kEcho, "target >= 0.80");
  ratio(Method::kPing, Method::kEcho, "one database round trip and nothing else");
  ratio(Method::kGet, Method::kPing,
        "identity, policy, masking and the record read, over the round-trip "
        "floor");
  ratio(Method::kGet, Method::kRaw,
        "target >= 0.90: authorized Get over an unprotected read of the same "
        "record on the same server");
  ratio(Method::kGet, Method::kGetQuiet,
        "target >= 0.97: Get with metrics and the log line over Get without "
        "what --quiet names");
  ratio(Method::kGetAudited, Method::kGet,
        flags.audit_spool != 0
            ? "target >= 0.90: Get with its read event in the audit spool "
              "(then committed in batches) over Get with no event (reads: "
              "denied_only)"
            : "target >= 0.90: Get with its read event committed (group "
              "commit) over Get with no event (reads: denied_only)");
  ratio(Method::kListAudited, Method::kList,
        flags.audit_spool != 0
            ? "target >= 0.90: List (page of 50) with its read event in the "
              "audit spool over List with no event"
            : "target >= 0.90: List (page of 50) with its read event "
              "committed over List with no event");
  ratio(Method::kGetShadow, Method::kGet,
        "target >= 0.90: Get with a shadow policy compared on every "
        "decision over Get without one");
  ratio(Method::kGetEncrypted, Method::kGetPlain,
        "target >= 0.95: Get of a contact with two encrypted fields over the "
        "same contact with the two stored in plaintext");
  if (errors > 0) {
    fprintf(stderr, "crm_load: %lld call(s) failed\n",
            static_cast<long long>(errors));
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace crm::bench

int main(int argc, char** argv) { return crm::bench::Main(argc, argv); }
