// An in-process CRM server for integration tests: the real server
// (CrmServer) on 127.0.0.1, port 0, with real mTLS certificates generated for
// the test run and a fresh real database (SQLite file or a new database in
// the throwaway PostgreSQL cluster).
//
// Registered services in the base config (certificates from
// certs/make-test-certs.sh):
//   admin-cli     every object, every operation; system permission
//                 manage_users
//   web-frontend  every object, every operation; trusted gateway
//   billing       accounts: read; opportunities: read, edit
//   gateway       trusted gateway, no grants
//   expired, revoked  every object (their certificates are what fail)
// "unregistered" has a valid certificate but is not registered.
// Each server gets a new master key file (encryption.master_key_file) in
// a temp directory of its own, removed with it.
#ifndef CRM_TESTS_HARNESS_TEST_SERVER_H_
#define CRM_TESTS_HARNESS_TEST_SERVER_H_

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/clock.h"
#include "clients/crm_client.h"
#include "crm/internal/server_config.pb.h"
#include "server/server.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_database.h"

namespace crm::testing {

// Adds the system permissions `permissions` ("view_audit", ...) to the
// service named `service` in `config`, for a TestServerOptions::customize
// (the base test configuration gives admin-cli manage_users only). Adds a
// test failure if `config` has no such service.
void GrantSystemPermissions(
    crm::internal::ServerConfig& config, absl::string_view service,
    std::initializer_list<absl::string_view> permissions);

// A TestServerOptions::customize that gives admin-cli manage_policy.
void GrantManagePolicy(crm::internal::ServerConfig& config);

struct TestServerOptions {
  Backend backend = Backend::kSqlite;
  // Applied to the base config before the server starts.
  std::function<void(crm::internal::ServerConfig&)> customize;
  auth::Clock* clock = nullptr;  // null: system clock
  // Certificates to use; null: SharedTestCerts().
  const TestCerts* certs = nullptr;
  // Benchmarks only: services registered on the same server outside the
  // request pipeline (server::CrmServer::ExtraService; bench/ adds an
  // unprotected read). Tests leave it empty.
  std::vector<server::CrmServer::ExtraService> extra_services;
};

// The base config for `certs` and `database` (see the file comment).
crm::internal::ServerConfig BaseTestConfig(const TestCerts& certs,
                                           const std::string& database);

class TestServer {
 public:
  static absl::StatusOr<std::unique_ptr<TestServer>> Start(
      TestServerOptions options = {});
  ~TestServer();

  std::string target() const;  // "localhost:PORT"
  const TestCerts& certs() const { return *certs_; }
  server::CrmServer& server() { return *server_; }
  const std::string& database() const { return db_->connection(); }
  // The master key file made for this server (encryption.master_key_file,
  // unless TestServerOptions::customize replaced it).
  const std::string& master_key_file() const { return master_key_file_; }

  // A client holding the certificate of `service` (a name from
  // make-test-certs.sh); each call opens a new channel.
  std::unique_ptr<client::CrmClient> Client(
      absl::string_view service = "admin-cli") const;
  // A client with explicit files (e.g. no certificate, or another CA).
  std::unique_ptr<client::CrmClient> ClientWithFiles(
      const std::string& ca, const std::string& cert,
      const std::string& key) const;

 private:
  TestServer() = default;
  const TestCerts* certs_ = nullptr;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<server::CrmServer> server_;
  std::string key_dir_;  // removed with the server
  std::string master_key_file_;
};

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_TEST_SERVER_H_
