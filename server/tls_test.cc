// End-to-end tests of mutual TLS and caller identity: a real gRPC server on
// 127.0.0.1 (port 0) with certificates generated per run.
#include "server/tls.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/identity.h"
#include "tests/support/test_certs.h"

namespace crm::server {
namespace {

using crm::testing::SharedTestCerts;
using crm::testing::TestCerts;

// Echoes the payload and the caller; remembers the last call's AuthContext.
class EchoService final : public crm::v1::DiagnosticsService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context,
                    const crm::v1::EchoRequest* request,
                    crm::v1::EchoResponse* response) override {
    calls_.fetch_add(1);
    {
      absl::MutexLock lock(&mu_);
      last_properties_.clear();
      for (const auto& [name, value] : *context->auth_context()) {
        last_properties_.emplace(std::string(name.data(), name.size()),
                                 std::string(value.data(), value.size()));
      }
    }
    std::optional<std::string> caller = CallerService(*context, *registry_);
    if (!caller.has_value()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "no caller service identity");
    }
    response->set_payload(request->payload());
    response->set_caller("services/" + *caller);
    return grpc::Status::OK;
  }

  void set_registry(std::shared_ptr<const auth::ServiceRegistry> registry) {
    registry_ = std::move(registry);
  }
  int calls() const { return calls_.load(); }
  std::multimap<std::string, std::string> last_properties() {
    absl::MutexLock lock(&mu_);
    return last_properties_;
  }

 private:
  std::atomic<int> calls_{0};
  std::shared_ptr<const auth::ServiceRegistry> registry_;
  absl::Mutex mu_;
  std::multimap<std::string, std::string> last_properties_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<const auth::ServiceRegistry> TestRegistry() {
  crm::internal::ServerConfig config;
  for (const char* name : {"web-frontend", "billing", "gateway", "admin-cli",
                           "expired", "revoked"}) {
    auto* service = config.add_services();
    service->set_name(name);
    service->add_identities(TestCerts::Identity(name));
  }
  absl::StatusOr<auth::ServiceRegistry> registry =
      auth::ServiceRegistry::Create(config.services());
  EXPECT_TRUE(registry.ok()) << registry.status();
  return std::make_shared<const auth::ServiceRegistry>(*std::move(registry));
}

crm::internal::TlsConfig TlsConfigFor(const TestCerts& certs, bool with_crl) {
  crm::internal::TlsConfig tls;
  tls.set_ca_file(certs.ca);
  tls.set_cert_file(certs.server_cert);
  tls.set_key_file(certs.server_key);
  if (with_crl) tls.set_crl_directory(certs.crl_dir);
  tls.set_refresh_interval_seconds(1);
  return tls;
}

class TestServer {
 public:
  explicit TestServer(
      const crm::internal::TlsConfig& tls,
      std::shared_ptr<const auth::ServiceRegistry> registry = TestRegistry()) {
    echo_.set_registry(registry);
    auto credentials = BuildServerCredentials(
        tls, std::make_shared<ServiceIdentityProcessor>(std::move(registry)));
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", *credentials, &port_);
    builder.RegisterService(&echo_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    EXPECT_NE(port_, 0);
  }
  ~TestServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  // One call on a new, unshared channel. Empty cert_name: no client cert.
  grpc::Status Call(const TestCerts& certs, const std::string& cert_name,
                    crm::v1::EchoResponse* response = nullptr) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = crm::testing::ReadFileOrDie(certs.ca);
    if (!cert_name.empty()) {
      ssl.pem_private_key =
          crm::testing::ReadFileOrDie(certs.ClientKey(cert_name));
      ssl.pem_cert_chain =
          crm::testing::ReadFileOrDie(certs.ClientCert(cert_name));
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::SslCredentials(ssl), args);
    auto stub = crm::v1::DiagnosticsService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    crm::v1::EchoRequest request;
    request.set_payload("ping");
    crm::v1::EchoResponse local;
    return stub->Echo(&context, request, response ? response : &local);
  }

  EchoService& echo() { return echo_; }

 private:
  EchoService echo_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(Tls, RegisteredClientIsServedWithItsServiceName) {
  const TestCerts& certs = SharedTestCerts();
  TestServer server(TlsConfigFor(certs, /*with_crl=*/true));
  for (const char* name : {"web-frontend", "billing", "gateway", "admin-cli"}) {
    crm::v1::EchoResponse response;
    grpc::Status status = server.Call(certs, name, &response);
    ASSERT_TRUE(status.ok())
        << name << ": " << status.error_code() << " " << status.error_message();
    EXPECT_EQ(response.caller(), std::string("services/") + name);
    EXPECT_EQ(response.payload(), "ping");
  }
  EXPECT_EQ(server.echo().calls(), 4);
}

TEST(Tls, PeerPropertiesAreAsDocumented) {
  const TestCerts& certs = SharedTestCerts();
  TestServer server(TlsConfigFor(certs, /*with_crl=*/false));
  ASSERT_TRUE(server.Call(certs, "billing").ok());
  auto properties = server.echo().last_properties();
  auto values = [&](const std::string& name) {
    std::vector<std::string> out;
    auto [begin, end] = properties.equal_range(name);
    for (auto it = begin; it != end; ++it) out.push_back(it->second);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(values("x509_subject_alternative_name"),
            (V{"spiffe://crm.local/svc/billing", "billing.svc.crm.local"}));
  EXPECT_EQ(values("peer_spiffe_id"), V{"spiffe://crm.local/svc/billing"});
  EXPECT_EQ(values("x509_common_name"), V{"billing"});
  EXPECT_EQ(values("x509_pem_cert").size(), 1u);
  EXPECT_EQ(values("peer_uri"), V{"spiffe://crm.local/svc/billing"});
  EXPECT_EQ(values("peer_dns"), V{"billing.svc.crm.local"});
  // The processor must not add properties: gRPC shares this context
  // between every call of the connection.
  EXPECT_TRUE(values("crm.service").empty());
  EXPECT_EQ(values("transport_security_type"), V{"tls"});
}

// Handshake failures: the client sees UNAVAILABLE and no handler runs.
TEST(Tls, BadClientCertificatesFailTheHandshake) {
  const TestCerts& certs = SharedTestCerts();
  TestServer server(TlsConfigFor(certs, /*with_crl=*/true));
  struct Case {
    const char* what;
    std::string cert;  // empty: no client certificate
  };
  const Case cases[] = {
      {"no client certificate", ""},
      {"client from another CA", "foreign"},
      {"expired certificate", "expired"},
      {"revoked certificate", "revoked"},
  };
  for (const Case& c : cases) {
    grpc::Status status = server.Call(certs, c.cert);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << c.what << ": " << status.error_message();
  }
  EXPECT_EQ(server.echo().calls(), 0);
  // A good certificate still works on the same server.
  grpc::Status status = server.Call(certs, "billing");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(server.echo().calls(), 1);
}

TEST(Tls, RevokedCertificateWorksWithoutCrlDirectory) {
  // Shows the revoked test certificate is otherwise valid: the refusal
  // above comes from the CRL.
  const TestCerts& certs = SharedTestCerts();
  TestServer server(TlsConfigFor(certs, /*with_crl=*/false));
  grpc::Status status = server.Call(certs, "revoked");
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST(Tls, UnregisteredIdentityIsUnauthenticatedBeforeTheHandler) {
  const TestCerts& certs = SharedTestCerts();
  TestServer server(TlsConfigFor(certs, /*with_crl=*/true));
  grpc::Status status = server.Call(certs, "unregistered");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  EXPECT_NE(status.error_message().find("spiffe://crm.local/svc/unregistered"),
            std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("is not a registered service"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(server.echo().calls(), 0);
}

TEST(Tls, CertificateNamingTwoServicesIsRefused) {
  const TestCerts& certs = SharedTestCerts();
  crm::internal::ServerConfig config;
  auto* by_uri = config.add_services();
  by_uri->set_name("billing");
  by_uri->add_identities(TestCerts::Identity("billing"));
  auto* by_dns = config.add_services();
  by_dns->set_name("billing-dns");
  by_dns->add_identities("billing.svc.crm.local");
  auto registry = auth::ServiceRegistry::Create(config.services());
  ASSERT_TRUE(registry.ok()) << registry.status();
  TestServer server(
      TlsConfigFor(certs, /*with_crl=*/false),
      std::make_shared<const auth::ServiceRegistry>(*std::move(registry)));
  grpc::Status status = server.Call(certs, "billing");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << status.error_message();
  EXPECT_NE(status.error_message().find("more than one service"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(server.echo().calls(), 0);
}

TEST(Tls, DnsIdentityAloneIsEnough) {
  const TestCerts& certs = SharedTestCerts();
  crm::internal::ServerConfig config;
  auto* service = config.add_services();
  service->set_name("admin");
  service->add_identities("admin-cli.svc.crm.local");
  auto registry = auth::ServiceRegistry::Create(config.services());
  ASSERT_TRUE(registry.ok()) << registry.status();
  TestServer server(
      TlsConfigFor(certs, /*with_crl=*/false),
      std::make_shared<const auth::ServiceRegistry>(*std::move(registry)));
  crm::v1::EchoResponse response;
  grpc::Status status = server.Call(certs, "admin-cli", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.caller(), "services/admin");
}

TEST(Tls, RevocationAfterStartAppliesToNewConnections) {
  const std::string dir = crm::testing::MakeTempDir("revoke");
  absl::StatusOr<TestCerts> certs = crm::testing::MakeTestCerts(dir);
  ASSERT_TRUE(certs.ok()) << certs.status();
  TestServer server(TlsConfigFor(*certs, /*with_crl=*/true));
  ASSERT_TRUE(server.Call(*certs, "gateway").ok());

  ASSERT_TRUE(crm::testing::RevokeTestCert(*certs, "gateway").ok());
  // The refresh interval is 1 s; allow for a slow machine.
  grpc::Status status;
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    status = server.Call(*certs, "gateway");
    if (!status.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < give_up);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "revoked certificate still accepted: " << status.error_message();
  grpc::Status good = server.Call(*certs, "billing");
  EXPECT_TRUE(good.ok()) << good.error_message();
  crm::testing::RemoveTempDir(dir);
}

TEST(Tls, BadConfigIsRefusedWithThePath) {
  const TestCerts& certs = SharedTestCerts();
  const std::string dir = crm::testing::MakeTempDir("badtls");
  const std::string garbage = dir + "/garbage.pem";
  const std::string empty_crl_dir = dir + "/crl";
  {
    std::FILE* f = std::fopen(garbage.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("-----BEGIN CERTIFICATE-----\nnot base64\n", f);
    std::fclose(f);
    ASSERT_EQ(mkdir(empty_crl_dir.c_str(), 0700), 0);
  }
  const std::string missing = dir + "/missing.pem";
  struct Case {
    const char* what;
    void (*mutate)(crm::internal::TlsConfig&, const std::string&);
    std::string path;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"missing CA", [](auto& t, const std::string& p) { t.set_ca_file(p); },
       missing, absl::StatusCode::kFailedPrecondition},
      {"missing cert",
       [](auto& t, const std::string& p) { t.set_cert_file(p); }, missing,
       absl::StatusCode::kFailedPrecondition},
      {"missing key", [](auto& t, const std::string& p) { t.set_key_file(p); },
       missing, absl::StatusCode::kFailedPrecondition},
      {"garbage CA", [](auto& t, const std::string& p) { t.set_ca_file(p); },
       garbage, absl::StatusCode::kInvalidArgument},
      {"garbage cert",
       [](auto& t, const std::string& p) { t.set_cert_file(p); }, garbage,
       absl::StatusCode::kInvalidArgument},
      {"garbage key", [](auto& t, const std::string& p) { t.set_key_file(p); },
       garbage, absl::StatusCode::kInvalidArgument},
      {"key of another cert",
       [](auto& t, const std::string& p) { t.set_key_file(p); },
       certs.ClientKey("billing"), absl::StatusCode::kInvalidArgument},
      {"unset CA", [](auto& t, const std::string& p) { t.clear_ca_file(); },
       "tls.ca_file", absl::StatusCode::kInvalidArgument},
      {"CRL directory missing",
       [](auto& t, const std::string& p) { t.set_crl_directory(p); },
       dir + "/nope", absl::StatusCode::kFailedPrecondition},
      {"CRL directory without the CA's CRL",
       [](auto& t, const std::string& p) { t.set_crl_directory(p); },
       empty_crl_dir, absl::StatusCode::kFailedPrecondition},
  };
  for (const Case& c : cases) {
    crm::internal::TlsConfig tls = TlsConfigFor(certs, /*with_crl=*/false);
    c.mutate(tls, c.path);
    auto credentials = BuildServerCredentials(tls, nullptr);
    ASSERT_FALSE(credentials.ok()) << c.what;
    EXPECT_EQ(credentials.status().code(), c.code)
        << c.what << ": " << credentials.status();
    EXPECT_NE(credentials.status().message().find(c.path), std::string::npos)
        << c.what << ": " << credentials.status();
  }
  crm::testing::RemoveTempDir(dir);
}

}  // namespace
}  // namespace crm::server
