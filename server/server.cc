#include "server/server.h"

#include <openssl/rand.h>

#include <algorithm>
#include <fstream>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "base/log.h"
#include "grpc/support/log.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_builder.h"
#include "model/object_schema.h"
#include "server/access_review_service.h"
#include "server/auth_service.h"
#include "server/call_gate.h"
#include "server/connection_limits.h"
#include "server/diagnostics_service.h"
#include "server/identity.h"
#include "server/key_admin_service.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/audit_service.h"
#include "server/pipeline.h"
#include "server/parse_errors.h"
#include "server/policy_admin_service.h"
#include "server/policy_loader.h"
#include "server/shadow_policy.h"
#include "server/request_context.h"
#include "server/resource_services.h"
#include "server/secret_files.h"
#include "server/privacy_service.h"
#include "server/retention_scheduler.h"
#include "records/privacy.h"
#include "server/provenance_service.h"
#include "server/consent_service.h"
#include "server/data_inventory_service.h"
#include "server/sharing_service.h"
#include "server/tls.h"
#include "server/user_admin_service.h"
#include "store/audit_spool.h"
#include "store/field_encryption.h"
#include "store/migrations.h"

namespace crm::server {
namespace {

// gRPC's own log lines (gpr_log: "Failed accept4", handshake errors, ...)
// into the server's one JSON schema instead of gRPC's plain-text format.
void GrpcLogToJson(gpr_log_func_args* args) {
  if (args->message != nullptr) CountTlsLogLine(args->message);
  base::LogLevel level = base::LogLevel::kInfo;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = base::LogLevel::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = base::LogLevel::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = base::LogLevel::kError;
      break;
  }
  if (!base::LogEnabled(level)) return;
  base::Log(level, "grpc",
            {{"message", args->message == nullptr ? "" : args->message},
             {"source", absl::StrCat(args->file == nullptr ? "" : args->file,
                                     ":", args->line)}});
}

// gRPC's sync server keeps between MIN_POLLERS and MAX_POLLERS threads
// polling for calls: a poller that picks up a call starts a new thread if
// none is left polling, and a thread that finishes a call exits if MAX_POLLERS
// are already polling. With the defaults (1 and 2) a handler that blocks on
// the database (tens of microseconds; a round trip on PostgreSQL) makes the
// server create and destroy a thread every ~10 calls under load (thread
// creation, stack mmap/munmap and TLB shoot-downs: see bench/README.md).
// Keeping up to 64 idle threads (their stacks are reserved, not touched) lets
// the pool settle at the load's concurrency instead. CQ_TIMEOUT_MSEC keeps
// its default (10 s).
constexpr int kMinPollers = 2;
constexpr int kMaxPollers = 64;

void ConfigureSyncServerThreads(grpc::ServerBuilder& builder) {
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS,
                              kMinPollers);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              kMaxPollers);
}

constexpr size_t kMinSecretBytes = 32;

// How long a request carrying a consistency token (base/consistency.h) may
// wait for this server to install the policy version it names. Loading is
// started at once, so the wait is one read and one compilation unless the
// database is unreachable; past it the request is UNAVAILABLE (retry).
constexpr absl::Duration kConsistencyWait = absl::Seconds(2);

// Shutdown. How long after the gate closes a call admitted before may take
// to reach its handler (CallGate::AwaitArrivals): normally microseconds,
// longer while its request message is still arriving. Waited for only while
// some admitted call is unaccounted for.
constexpr absl::Duration kArrivalSettle = absl::Seconds(2);
// Then gRPC's own Shutdown: the deadline it gets once every admitted call
// has finished, for anything the counts missed; it ends health Watch
// streams.
constexpr absl::Duration kShutdownMargin = absl::Milliseconds(100);

absl::StatusOr<std::string> LoadPageTokenSecret(const std::string& path) {
  if (path.empty()) {
    std::string secret(kMinSecretBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
      return absl::InternalError("cannot generate a page token secret");
    }
    return secret;
  }
  std::ifstream in(path, std::ios::binary);
  std::string secret((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token_secret_file ", path, " cannot be read"));
  }
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token_secret_file ", path, " must hold at least ",
        kMinSecretBytes, " bytes (e.g. head -c 48 /dev/urandom > FILE)"));
  }
  return secret;
}

// The master key for sensitive fields (EncryptionConfig); null if no
// resource has one. Fails closed: sensitive fields and no readable key
// (missing, unreadable, accessible to group or others, malformed) stop the
// server with a message naming the config field and how to make a key.
absl::StatusOr<std::shared_ptr<const crypto::MasterKey>> LoadEncryptionKey(
    const crm::internal::EncryptionConfig& config) {
  if (!store::HasSensitiveFields(model::SchemaRegistry::Default())) {
    return std::shared_ptr<const crypto::MasterKey>();
  }
  constexpr char kHowTo[] =
      "make one with `(umask 077 && openssl rand -hex 32 > FILE); chmod 600 "
      "FILE` (certs/make-dev-certs.sh writes certs/out/master.key for "
      "development) and keep it apart from database backups";
  const std::string& path = config.master_key_file();
  if (path.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "encryption.master_key_file is not set, but resources have fields "
        "marked sensitive that are stored encrypted at rest and need a "
        "master key; ",
        kHowTo));
  }
  absl::StatusOr<crypto::MasterKey> key = crypto::LoadMasterKey(path);
  if (!key.ok()) {
    return absl::Status(
        key.status().code(),
        absl::StrCat("encryption.master_key_file: ", key.status().message(),
                     "; ", kHowTo));
  }
  return std::make_shared<const crypto::MasterKey>(*std::move(key));
}

// Everything that needs the database before the first call: migrations,
// the schema check, the stored policy and the caller's start-up hook. Runs
// on the thread that calls Start when the database is there, otherwise on
// the start-up thread once it is (inside a StartupScope: calls are not
// admitted yet).
absl::Status PrepareDatabase(ServerCore& core, PolicyLoader& policy_loader,
                             const CrmServer::BeforeServing& before_serving) {
  if (absl::Status s = store::Migrate(*core.database); !s.ok()) return s;
  if (absl::Status s = store::VerifySchema(*core.database,
                                           model::SchemaRegistry::Default());
      !s.ok()) {
    return s;
  }
  // Events a killed or stopped process left in the audit spool.
  core.audit->ReplaySpool();
  // The data keys (migration 11), before anything reads or writes a record.
  if (core.master_key != nullptr && core.records->encryption() == nullptr) {
    absl::StatusOr<crypto::Keyring> keyring =
        store::LoadOrCreateKeyring(*core.database, *core.master_key);
    if (!keyring.ok()) return keyring.status();
    LogInfo("encryption.keyring_loaded",
            {{"master_key_id", core.master_key->id()},
             {"current_data_key", keyring->current_key_id()},
             {"data_keys", absl::StrCat(keyring->key_ids().size())}});
    core.records->SetEncryption(std::make_shared<store::FieldEncryption>(
        *core.master_key, *std::move(keyring)));
  }
  // The stored policy (migration 3) replaces the services-only snapshot;
  // the server refuses to serve if it does not compile.
  if (absl::Status s = policy_loader.Reload(); !s.ok()) return s;
  if (before_serving) {
    if (absl::Status s = before_serving(core); !s.ok()) return s;
    if (absl::Status s = policy_loader.Reload(); !s.ok()) return s;
  }
  // The shadow policy, compiled against the policy just loaded.
  return core.shadow->Refresh(/*force=*/true);
}

// The services whose calls need the database: NOT_SERVING while it is
// unavailable. DiagnosticsService (Echo) stays SERVING: it answers without
// the database and tells "process alive" from "able to serve".
std::vector<std::string> DatabaseBackedServiceNames() {
  std::vector<std::string> names;
  for (const char* file :
       {"crm/v1/crm_service.proto", "crm/v1/auth_service.proto",
        "crm/v1/admin_service.proto", "crm/v1/user_admin_service.proto",
        "crm/v1/sharing_service.proto",
        "crm/v1/access_review_service.proto",
        "crm/v1/key_admin_service.proto",
        "crm/v1/provenance_service.proto",
        "crm/v1/privacy_service.proto",
        "crm/v1/consent_service.proto"}) {
    const auto* fd =
        google::protobuf::DescriptorPool::generated_pool()->FindFileByName(
            file);
    if (fd == nullptr) continue;
    for (int i = 0; i < fd->service_count(); ++i) {
      names.push_back(fd->service(i)->full_name());
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CrmServer>> CrmServer::Start(
    const crm::internal::ServerConfig& config, auth::Clock* clock,
    const BeforeServing& before_serving,
    const std::vector<ExtraService>& extra_services) {
  static absl::once_flag grpc_log_once;
  absl::call_once(grpc_log_once, [] { gpr_set_log_function(GrpcLogToJson); });
  // Secrets readable by other users: refuse before touching anything.
  if (absl::Status s = CheckSecretFiles(config); !s.ok()) return s;
  // Retention rules that do not fit the schema stop the server.
  if (absl::Status s =
          records::ValidateRetentionRules(config.privacy().retention_rules());
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("privacy: ", s.message()));
  }
  auto master_key = LoadEncryptionKey(config.encryption());
  if (!master_key.ok()) return master_key.status();
  std::unique_ptr<CrmServer> server(new CrmServer());
  server->config_ = config;
  auto core = std::make_unique<ServerCore>();
  core->config = config;
  core->clock = clock != nullptr ? clock : auth::SystemClock();

  // Storage. A database that is not reachable yet does not stop the server:
  // it listens NOT_SERVING and finishes starting when the database comes
  // up (store/database.h). Anything else wrong with it (a bad path, a
  // schema that does not match the binary) stops it: fail closed.
  store::OpenOptions db_options;
  db_options.wait_for_database = true;
  auto db = store::Database::Open(
      config.database(), static_cast<int>(config.database_pool_size()),
      db_options);
  if (!db.ok()) return db.status();
  core->database = *std::move(db);
  core->records = std::make_unique<store::RecordStore>(core->database.get());
  core->master_key = *std::move(master_key);
  // The audit trail's writer, before anything can write (the start-up hook
  // may create records).
  auto audit_settings = CompileAuditSettings(config.audit(),
                                             model::SchemaRegistry::Default());
  if (!audit_settings.ok()) return audit_settings.status();
  core->audit_settings = *std::move(audit_settings);
  auto signer = LoadAuditSigner(config.audit(),
                                config.allow_insecure_key_permissions());
  if (!signer.ok()) return signer.status();
  std::unique_ptr<store::AuditSpool> spool;
  if (!config.audit().spool_dir().empty()) {
    auto opened = store::AuditSpool::Open(config.audit().spool_dir());
    if (!opened.ok()) return opened.status();
    spool = *std::move(opened);
  }
  {
    auth::Clock* clock = core->clock;
    core->audit = std::make_unique<store::AuditLog>(
        core->database.get(), *std::move(signer),
        core->audit_settings.options, [clock] { return clock->Now(); },
        std::move(spool));
  }
  const bool database_ready = core->database->available();
  if (!database_ready) core->database->SetAdmitting(false);

  // Identity and policy: fail closed on anything invalid.
  auto services = auth::ServiceRegistry::Create(config.services());
  if (!services.ok()) return services.status();
  core->services =
      std::make_shared<const auth::ServiceRegistry>(*std::move(services));
  auto authn = RequestAuthenticator::Create(config, core->services.get(),
                                            core->database.get(), core->clock);
  if (!authn.ok()) return authn.status();
  core->authn = *std::move(authn);
  auto snapshot = policy::PolicySnapshot::Build(
      config.services(), model::SchemaRegistry::Default());
  if (!snapshot.ok()) return snapshot.status();
  core->policy = std::make_unique<policy::PolicyHolder>(*std::move(snapshot));
  // Changes made through other servers are picked up by polling
  // policy_version (policy_loader.h).
  auto policy_loader = std::make_shared<PolicyLoader>(
      core->database.get(), &core->config, &model::SchemaRegistry::Default(),
      core->policy.get());
  // The shadow policy: loaded with the live one, then polled on the
  // refresh thread (a read of its revision per round).
  core->shadow = std::make_unique<ShadowPolicy>(core->database.get(),
                                                policy_loader.get());
  policy_loader->SetRefreshHook([shadow = core->shadow.get(),
                                  records = core->records.get(),
                                  db = core->database.get()] {
    // A failed read keeps the loaded candidate; the policy refresh of the
    // same round has logged the outage.
    shadow->Refresh().IgnoreError();
    // A data key another server made current (a rotation): written under
    // from now on (store/field_encryption.h). A failed read keeps the
    // keyring; reads of values under the new key reload it themselves.
    if (store::FieldEncryption* enc = records->encryption(); enc != nullptr) {
      enc->RefreshIfRotated(*db).IgnoreError();
    }
  });
  core->await_policy_version =
      [loader = std::weak_ptr<PolicyLoader>(policy_loader)](int64_t v) {
        auto l = loader.lock();
        if (l == nullptr) {
          return absl::UnavailableError("the server is stopping; retry");
        }
        return l->AwaitVersion(v, kConsistencyWait);
      };
  if (database_ready) {
    if (absl::Status s =
            PrepareDatabase(*core, *policy_loader, before_serving);
        !s.ok()) {
      return s;
    }
    policy_loader->StartRefresh(absl::Seconds(1));
  }

  auto secret = LoadPageTokenSecret(config.page_token_secret_file());
  if (!secret.ok()) return secret.status();
  auto codec = query::PageTokenCodec::Create(*std::move(secret));
  if (!codec.ok()) return codec.status();
  core->page_tokens =
      std::make_unique<query::PageTokenCodec>(*std::move(codec));

  // Every call passes the identity check behind the shutdown gate
  // (call_gate.h).
  server->call_gate_ = std::make_shared<CallGate>(
      std::make_shared<ServiceIdentityProcessor>(core->services));
  auto credentials = BuildServerCredentials(config.tls(), server->call_gate_);
  if (!credentials.ok()) return credentials.status();

  if (!config.metrics().listen_address().empty()) {
    auto metrics = Metrics::Start(config.metrics().listen_address());
    if (!metrics.ok()) return metrics.status();
    core->metrics = *std::move(metrics);
    const ServerCore* raw_core = core.get();
    core->metrics->SetGaugeSource([raw_core] {
      ScrapedGauges g;
      auto snapshot = raw_core->policy->Current();
      g.policy_version = snapshot == nullptr ? 0 : snapshot->version();
      g.policy_snapshot_age_seconds =
          static_cast<double>(policy::PolicyHolder::NowMicros() -
                              raw_core->policy->installed_at_micros()) /
          1e6;
      const store::Database::PoolStats pool =
          raw_core->database->pool_stats();
      g.db_pool_size = raw_core->database->pool_size();
      g.db_pool_in_use = pool.in_use;
      g.db_pool_waits = pool.waits;
      g.db_errors = pool.errors;
      g.db_available = raw_core->database->available();
      const TlsHandshakeFailures tls = TlsHandshakeFailureCounts();
      g.tls_revoked = tls.revoked;
      g.tls_handshake_failed = tls.handshake;
      return g;
    });
    LogInfo("metrics.started",
            {{"address", config.metrics().listen_address()},
             {"port", absl::StrCat(core->metrics->port())}});
  }
  core->pipeline = std::make_unique<Pipeline>(core.get());

  server->core_ = std::move(core);
  server->services_ = MakeResourceServices(server->core_.get());
  server->services_.push_back(
      std::make_unique<DiagnosticsServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<AuthServiceImpl>(server->core_.get(), policy_loader));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), *credentials,
                           &server->port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config.limits().max_receive_message_bytes()));
  ConfigureSyncServerThreads(builder);
  // Every interceptor, in one list: a builder keeps only the last one set.
  {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(CallGate::NewCallCounter(server->call_gate_));
    interceptors.push_back(NewConnectionCertificateRecorder());
    interceptors.push_back(NewParseErrorInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  // Channel arguments and the accept guard (connection_limits.h).
  if (absl::Status s = ApplyConnectionLimits(config.connections(), builder);
      !s.ok()) {
    return s;
  }
  server->services_.push_back(
      std::make_unique<UserAdminServiceImpl>(server->core_.get(), policy_loader));
  server->services_.push_back(std::make_unique<PolicyAdminServiceImpl>(
      server->core_.get(), policy_loader));
  server->services_.push_back(
      std::make_unique<AuditServiceImpl>(server->core_.get()));
  server->policy_loader_ = std::move(policy_loader);
  server->services_.push_back(
      std::make_unique<SharingServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<AccessReviewServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<KeyAdminServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<ProvenanceServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<PrivacyServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<ConsentServiceImpl>(server->core_.get()));
  server->services_.push_back(
      std::make_unique<DataInventoryServiceImpl>(server->core_.get()));
  // Tests and benchmarks only (ExtraService): outside the pipeline.
  for (const ExtraService& make : extra_services) {
    server->services_.push_back(make(*server->core_));
  }
  for (auto& service : server->services_) builder.RegisterService(service.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config.listen_address(),
        " (address in use or not available?)"));
  }
  GuardListeningPort(server->port_);
  server->retention_ = RetentionScheduler::Start(server->core_.get());
  server->health_names_ = DatabaseBackedServiceNames();
  server->ready_.store(database_ready);
  CrmServer* raw = server.get();
  server->core_->database->AddAvailabilityListener(
      [raw](bool) { raw->UpdateHealth(); });
  server->UpdateHealth();
  if (!config.port_file().empty()) {
    std::string tmp = config.port_file() + ".tmp";
    std::ofstream(tmp) << server->port_ << "\n";
    std::rename(tmp.c_str(), config.port_file().c_str());
  }
  LogInfo("server.started",
          {{"address", config.listen_address()},
           {"port", absl::StrCat(server->port_)},
           {"database", store::MaskConnection(config.database())},
           {"database_ready", database_ready ? "true" : "false"}});
  if (!database_ready) {
    server->startup_ = std::thread(
        [raw, before_serving] { raw->FinishStartup(before_serving); });
  }
  return server;
}

void CrmServer::FinishStartup(BeforeServing before_serving) {
  LogWarning("server.waiting_for_database",
             {{"database", store::MaskConnection(config_.database())}});
  store::Database& db = *core_->database;
  absl::Status status;
  while (true) {
    {
      absl::MutexLock lock(&startup_mu_);
      auto wake = [this, &db]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(startup_mu_) {
        return stopping_startup_ || db.available();
      };
      startup_mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Seconds(1));
      if (stopping_startup_) return;
      if (!db.available()) continue;
    }
    store::Database::StartupScope scope;
    status = PrepareDatabase(*core_, *policy_loader_, before_serving);
    // The database went away again half-way: wait for it once more.
    if (status.code() == absl::StatusCode::kUnavailable) continue;
    break;
  }
  if (!status.ok()) {
    // Fail closed, as a start with the database present would have.
    LogError("server.startup_failed", {{"error", status.ToString()}});
    {
      absl::MutexLock lock(&startup_mu_);
      startup_status_ = status;
    }
    shut_down_.store(true);
    UpdateHealth();
    server_->Shutdown(std::chrono::system_clock::now());
    return;
  }
  policy_loader_->StartRefresh(absl::Seconds(1));
  db.SetAdmitting(true);
  ready_.store(true);
  UpdateHealth();
  LogInfo("server.ready", {{"database", store::MaskConnection(
                                            config_.database())}});
}

absl::Status CrmServer::startup_status() const {
  absl::MutexLock lock(&startup_mu_);
  return startup_status_;
}

void CrmServer::UpdateHealth() {
  absl::MutexLock lock(&health_mu_);
  if (server_ == nullptr) return;
  const bool serving = ready_.load() && core_->database->available() &&
                       !shut_down_.load();
  if (serving == serving_ && health_set_) return;
  health_set_ = true;
  serving_ = serving;
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus("", serving);
  for (const std::string& name : health_names_) {
    health->SetServingStatus(name, serving);
  }
  health->SetServingStatus("crm.v1.DiagnosticsService", true);
  LogInfo("server.health", {{"serving", serving ? "true" : "false"}});
}

CrmServer::~CrmServer() {
  {
    absl::MutexLock lock(&startup_mu_);
    stopping_startup_ = true;
  }
  if (startup_.joinable()) startup_.join();
  Shutdown(absl::ZeroDuration());
}

absl::Status CrmServer::ReloadPolicy() { return policy_loader_->Reload(); }

void CrmServer::Shutdown(absl::Duration grace, absl::Duration drain) {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  // For good: every service NOT_SERVING, and later SetServingStatus calls
  // (UpdateHealth) are ignored.
  server_->GetHealthCheckService()->Shutdown();
  if (retention_ != nullptr) retention_->Stop();
  if (drain > absl::ZeroDuration()) {
    LogInfo("server.draining", {{"drain", absl::FormatDuration(drain)}});
    absl::SleepFor(drain);
  }
  const absl::Time deadline = absl::Now() + grace;
  call_gate_->Close();
  LogInfo("server.stopping", {{"grace", absl::FormatDuration(grace)},
                              {"running", absl::StrCat(call_gate_->running())}});
  // Calls admitted before the gate closed go to their handlers and finish
  // there; gRPC's own Shutdown would cancel those it has not matched yet.
  const bool arrived = call_gate_->AwaitArrivals(kArrivalSettle, deadline);
  const int64_t running = call_gate_->AwaitIdle(deadline);
  if (!arrived || running > 0) {
    LogWarning("server.stopping_with_calls",
               {{"running", absl::StrCat(running)},
                {"all_arrived", arrived ? "true" : "false"}});
  }
  // Now gRPC's Shutdown finds only health Watch streams, and calls still
  // running when the grace period is over: it cancels them.
  server_->Shutdown(
      absl::ToChronoTime(std::min(deadline, absl::Now() + kShutdownMargin)));
}

int64_t CrmServer::admitted_calls() const { return call_gate_->admitted(); }

void CrmServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace crm::server
