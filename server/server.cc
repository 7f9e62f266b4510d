#include "server/server.h"

#include <openssl/rand.h>

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "model/object_schema.h"
#include "server/auth_service.h"
#include "server/connection_limits.h"
#include "server/diagnostics_service.h"
#include "server/identity.h"
#include "server/log.h"
#include "server/policy_admin_service.h"
#include "server/policy_loader.h"
#include "server/request_context.h"
#include "server/resource_services.h"
#include "server/sharing_service.h"
#include "server/tls.h"
#include "server/user_admin_service.h"
#include "store/migrations.h"

namespace crm::server {
namespace {

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

}  // namespace

absl::StatusOr<std::unique_ptr<CrmServer>> CrmServer::Start(
    const crm::internal::ServerConfig& config, auth::Clock* clock,
    const BeforeServing& before_serving) {
  std::unique_ptr<CrmServer> server(new CrmServer());
  server->config_ = config;
  auto core = std::make_unique<ServerCore>();
  core->config = config;
  core->clock = clock != nullptr ? clock : auth::SystemClock();

  // Storage: open, migrate, and refuse to run on a schema that does not
  // match the binary.
  auto db = store::Database::Open(config.database(),
                                  static_cast<int>(config.database_pool_size()));
  if (!db.ok()) return db.status();
  core->database = *std::move(db);
  core->records = std::make_unique<store::RecordStore>(core->database.get());
  if (absl::Status s = store::Migrate(*core->database); !s.ok()) return s;
  if (absl::Status s = store::VerifySchema(*core->database,
                                           model::SchemaRegistry::Default());
      !s.ok()) {
    return s;
  }

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
  // The stored policy (migration 3) replaces it before the first call; the
  // server refuses to start if it does not compile. Changes made through
  // other servers are picked up by polling policy_version (policy_loader.h).
  auto policy_loader = std::make_shared<PolicyLoader>(
      core->database.get(), &core->config, &model::SchemaRegistry::Default(),
      core->policy.get());
  if (absl::Status s = policy_loader->Reload(); !s.ok()) return s;
  policy_loader->StartRefresh(absl::Seconds(1));

  auto secret = LoadPageTokenSecret(config.page_token_secret_file());
  if (!secret.ok()) return secret.status();
  auto codec = query::PageTokenCodec::Create(*std::move(secret));
  if (!codec.ok()) return codec.status();
  core->page_tokens =
      std::make_unique<query::PageTokenCodec>(*std::move(codec));

  auto credentials = BuildServerCredentials(
      config.tls(), std::make_shared<ServiceIdentityProcessor>(core->services));
  if (!credentials.ok()) return credentials.status();

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
  // Channel arguments and the accept guard (connection_limits.h).
  if (absl::Status s = ApplyConnectionLimits(config.connections(), builder);
      !s.ok()) {
    return s;
  }
  if (before_serving) {
    if (absl::Status s = before_serving(*server->core_); !s.ok()) return s;
    if (absl::Status s = policy_loader->Reload(); !s.ok()) return s;
  }
  server->services_.push_back(
      std::make_unique<UserAdminServiceImpl>(server->core_.get(), policy_loader));
  server->services_.push_back(std::make_unique<PolicyAdminServiceImpl>(
      server->core_.get(), policy_loader));
  server->policy_loader_ = std::move(policy_loader);
  server->services_.push_back(
      std::make_unique<SharingServiceImpl>(server->core_.get()));
  for (auto& service : server->services_) builder.RegisterService(service.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config.listen_address(),
        " (address in use or not available?)"));
  }
  GuardListeningPort(server->port_);
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  if (!config.port_file().empty()) {
    std::string tmp = config.port_file() + ".tmp";
    std::ofstream(tmp) << server->port_ << "\n";
    std::rename(tmp.c_str(), config.port_file().c_str());
  }
  LogInfo("server.started",
          {{"address", config.listen_address()},
           {"port", absl::StrCat(server->port_)},
           {"database", store::MaskConnection(config.database())}});
  return server;
}

CrmServer::~CrmServer() { Shutdown(absl::ZeroDuration()); }

absl::Status CrmServer::ReloadPolicy() { return policy_loader_->Reload(); }

void CrmServer::Shutdown(absl::Duration grace) {
  if (server_ == nullptr || shut_down_.exchange(true)) return;
  server_->GetHealthCheckService()->SetServingStatus(false);
  LogInfo("server.stopping", {{"grace", absl::FormatDuration(grace)}});
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMicroseconds(grace));
}

void CrmServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace crm::server
