// End-to-end tests of mutual TLS and caller identity: a real gRPC server on
// 127.0.0.1 (port 0) with certificates generated per run.
#include "server/tls.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

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
    std::optional<std::string> caller = CallerService(*context);
    if (!caller.has_value()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "no caller service identity");
    }
    response->set_payload(request->payload());
    response->set_caller("services/" + *caller);
    return grpc::Status::OK;
  }

  int calls() const { return calls_.load(); }
  std::multimap<std::string, std::string> last_properties() {
    absl::MutexLock lock(&mu_);
    return last_properties_;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  std::multimap<std::string, std::string> last_properties_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<const auth::ServiceRegistry> TestRegistry() {
  crm::internal::ServerConfig config;
  for (const char* name :
       {"web-frontend", "billing", "gateway", "admin-cli", "expired", "revoked"}) {
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
  explicit TestServer(const crm::internal::TlsConfig& tls) {
    auto credentials = BuildServerCredentials(
        tls, std::make_shared<ServiceIdentityProcessor>(TestRegistry()));
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
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_code() << " "
                             << status.error_message();
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
  for (const auto& [name, value] : properties) {
    if (name != "x509_pem_cert") std::printf("  %s = %s\n", name.c_str(), value.c_str());
  }
  auto values = [&](const std::string& name) {
    std::vector<std::string> out;
    auto [begin, end] = properties.equal_range(name);
    for (auto it = begin; it != end; ++it) out.push_back(it->second);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(values("peer_uri"), V{"spiffe://crm.local/svc/billing"});
  EXPECT_EQ(values("peer_dns"), V{"billing.svc.crm.local"});
  EXPECT_EQ(values(kServicePropertyName), V{"billing"});
  EXPECT_EQ(values("transport_security_type"), V{"tls"});
}

}  // namespace
}  // namespace crm::server
