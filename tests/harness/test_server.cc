#include "tests/harness/test_server.h"

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "crypto/master_key.h"
#include "server/config.h"

namespace crm::testing {
namespace {

void AddService(crm::internal::ServerConfig& config, const std::string& name,
                bool all_objects, bool gateway = false) {
  auto* s = config.add_services();
  s->set_name(name);
  s->add_identities(TestCerts::Identity(name));
  s->set_trusted_gateway(gateway);
  if (all_objects) {
    auto* g = s->add_grants();
    g->set_object("*");
    g->set_read(true);
    g->set_create(true);
    g->set_edit(true);
    g->set_delete_(true);
  }
}

}  // namespace

crm::internal::ServerConfig BaseTestConfig(const TestCerts& certs,
                                           const std::string& database) {
  crm::internal::ServerConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.set_database(database);
  config.set_database_pool_size(4);
  config.mutable_tls()->set_ca_file(certs.ca);
  config.mutable_tls()->set_cert_file(certs.server_cert);
  config.mutable_tls()->set_key_file(certs.server_key);
  config.mutable_tls()->set_crl_directory(certs.crl_dir);
  config.mutable_tls()->set_refresh_interval_seconds(1);
  config.set_shutdown_grace_seconds(2);
  AddService(config, "admin-cli", true);
  config.mutable_services(config.services_size() - 1)
      ->add_system_permissions("manage_users");
  // Cheap Argon2id costs: tests hash and verify many passwords.
  config.mutable_auth()->set_password_hash_t_cost(1);
  config.mutable_auth()->set_password_hash_memory_kib(64);
  config.mutable_auth()->set_password_hash_parallelism(1);
  AddService(config, "web-frontend", true, /*gateway=*/true);
  AddService(config, "gateway", false, /*gateway=*/true);
  AddService(config, "expired", true);
  AddService(config, "revoked", true);
  auto* billing = config.add_services();
  billing->set_name("billing");
  billing->add_identities(TestCerts::Identity("billing"));
  auto* g = billing->add_grants();
  g->set_object("accounts");
  g->set_read(true);
  g = billing->add_grants();
  g->set_object("opportunities");
  g->set_read(true);
  g->set_edit(true);
  return config;
}

absl::StatusOr<std::unique_ptr<TestServer>> TestServer::Start(
    TestServerOptions options) {
  std::unique_ptr<TestServer> ts(new TestServer());
  ts->certs_ = options.certs != nullptr ? options.certs : &SharedTestCerts();
  auto db = TestDatabase::Create(options.backend);
  if (!db.ok()) return db.status();
  ts->db_ = *std::move(db);
  crm::internal::ServerConfig config =
      BaseTestConfig(*ts->certs_, ts->db_->connection());
  // A master key of its own for every test server (sensitive fields are
  // encrypted at rest), unless `customize` chose a file.
  {
    char dir[] = "/tmp/crm-test-key-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      return absl::InternalError("TestServer: cannot make a temp directory");
    }
    ts->key_dir_ = dir;
    ts->master_key_file_ = absl::StrCat(dir, "/master.key");
    auto key = crypto::GenerateMasterKeyFile(ts->master_key_file_);
    if (!key.ok()) return key.status();
    config.mutable_encryption()->set_master_key_file(ts->master_key_file_);
  }
  if (options.customize) options.customize(config);
  if (absl::Status s = server::FinalizeConfig(&config); !s.ok()) return s;
  auto server = server::CrmServer::Start(config, options.clock,
                                          /*before_serving=*/nullptr,
                                          options.extra_services);
  if (!server.ok()) return server.status();
  ts->server_ = *std::move(server);
  return ts;
}

TestServer::~TestServer() {
  if (server_ != nullptr) {
    server_->Shutdown(absl::Seconds(1));
    server_->Wait();
  }
  if (!key_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(key_dir_, ignored);
  }
}

std::string TestServer::target() const {
  return absl::StrCat("localhost:", server_->port());
}

void GrantSystemPermissions(
    crm::internal::ServerConfig& config, absl::string_view service,
    std::initializer_list<absl::string_view> permissions) {
  for (auto& s : *config.mutable_services()) {
    if (s.name() != service) continue;
    for (absl::string_view p : permissions) {
      s.add_system_permissions(std::string(p));
    }
    return;
  }
  ADD_FAILURE() << "the test configuration has no service '" << service
                << "'";
}

void GrantManagePolicy(crm::internal::ServerConfig& config) {
  GrantSystemPermissions(config, "admin-cli", {"manage_policy"});
}

std::unique_ptr<client::CrmClient> TestServer::Client(
    absl::string_view service) const {
  return ClientWithFiles(certs_->ca, certs_->ClientCert(std::string(service)),
                         certs_->ClientKey(std::string(service)));
}

std::unique_ptr<client::CrmClient> TestServer::ClientWithFiles(
    const std::string& ca, const std::string& cert,
    const std::string& key) const {
  client::ChannelOptions options;
  options.target = target();
  options.ca_file = ca;
  options.cert_file = cert;
  options.key_file = key;
  options.default_deadline = absl::Seconds(10);
  auto c = client::CrmClient::Create(options);
  if (!c.ok()) {
    fprintf(stderr, "TestServer: cannot create client: %s\n",
            c.status().ToString().c_str());
    abort();
  }
  return *std::move(c);
}

}  // namespace crm::testing
