// Certificate files are reloaded when they change on disk: a running server
// whose certificate, key, CA and CRL are replaced serves NEW connections with
// the new files (within tls.refresh_interval_seconds), without a restart,
// while existing connections keep working.
//
// Checked from the client side only: the server certificate a client sees is
// the `x509_pem_cert` property of the call's AuthContext.
#include <sys/stat.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

constexpr absl::Duration kReloadWait = absl::Seconds(20);

void WriteFileAtomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    ASSERT_TRUE(out.good()) << "cannot write " << tmp;
  }
  // Private, as keys must be: the server refuses to start with a key others
  // may read (server/secret_files.h).
  ASSERT_EQ(chmod(tmp.c_str(), 0600), 0) << "chmod " << tmp;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << "rename " << path;
}

void CopyFile(const std::string& from, const std::string& to) {
  WriteFileAtomic(to, ReadFileOrDie(from));
}

// The name of the (single) CRL file of a test certificate set.
std::string CrlFileName(const TestCerts& certs) {
  std::string cmd = absl::StrCat("ls '", certs.crl_dir, "'");
  FILE* p = popen(cmd.c_str(), "r");
  char buf[256] = {0};
  std::string name;
  if (p != nullptr && fgets(buf, sizeof(buf), p) != nullptr) name = buf;
  if (p != nullptr) pclose(p);
  while (!name.empty() && (name.back() == '\n')) name.pop_back();
  return name;
}

struct EchoResult {
  grpc::Status status;
  std::string server_pem;  // the certificate the server presented
  std::string caller;
};

// One Echo over a NEW connection (own subchannel pool: nothing is shared
// with earlier channels) with the given client files.
EchoResult EchoOnNewConnection(int port, const std::string& ca,
                               const std::string& cert,
                               const std::string& key) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrDie(ca);
  ssl.pem_cert_chain = ReadFileOrDie(cert);
  ssl.pem_private_key = ReadFileOrDie(key);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("localhost:", port),
                                           grpc::SslCredentials(ssl), args);
  auto stub = crm::v1::DiagnosticsService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  crm::v1::EchoRequest req;
  req.set_payload("reload");
  crm::v1::EchoResponse resp;
  EchoResult r;
  r.status = stub->Echo(&ctx, req, &resp);
  r.caller = resp.caller();
  if (r.status.ok() && ctx.auth_context() != nullptr) {
    auto values = ctx.auth_context()->FindPropertyValues("x509_pem_cert");
    if (!values.empty()) {
      r.server_pem.assign(values[0].data(), values[0].size());
    }
  }
  return r;
}

// Polls `condition` until it holds or kReloadWait passes.
template <typename F>
bool WaitFor(F condition) {
  const absl::Time deadline = absl::Now() + kReloadWait;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return condition();
}

class CertReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("e2e-reload");
    live_ = dir_ + "/live";
    ASSERT_EQ(system(absl::StrCat("mkdir -p '", live_, "/crl'").c_str()), 0);
  }
  void TearDown() override {
    server_.reset();
    RemoveTempDir(dir_);
  }

  // A fresh certificate set (own CA) in dir_/NAME.
  TestCerts MakeCerts(const std::string& name) {
    auto certs = MakeTestCerts(absl::StrCat(dir_, "/", name));
    EXPECT_TRUE(certs.ok()) << certs.status();
    return certs.ok() ? *certs : TestCerts{};
  }

  // Starts a server whose TLS files are the copies in live_ of `certs`.
  void StartServer(const TestCerts& certs) {
    CopyFile(certs.ca, live_ + "/ca.pem");
    CopyFile(certs.server_cert, live_ + "/server.pem");
    CopyFile(certs.server_key, live_ + "/server.key");
    crl_name_ = CrlFileName(certs);
    ASSERT_FALSE(crl_name_.empty());
    CopyFile(certs.crl_dir + "/" + crl_name_, live_ + "/crl/" + crl_name_);
    const std::string live = live_;
    auto server = TestServer::Start(
        {.customize =
             [live](crm::internal::ServerConfig& c) {
               c.mutable_tls()->set_ca_file(live + "/ca.pem");
               c.mutable_tls()->set_cert_file(live + "/server.pem");
               c.mutable_tls()->set_key_file(live + "/server.key");
               c.mutable_tls()->set_crl_directory(live + "/crl");
               c.mutable_tls()->set_refresh_interval_seconds(1);
             },
         .certs = &certs});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  EchoResult Echo(const TestCerts& trust, const TestCerts& client,
                  const std::string& name = "admin-cli") {
    return EchoOnNewConnection(server_->server().port(), trust.ca,
                               client.ClientCert(name), client.ClientKey(name));
  }

  std::string dir_, live_, crl_name_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(CertReloadTest, NewServerCertificateFromTheSameCaIsServed) {
  TestCerts certs = MakeCerts("a");
  StartServer(certs);
  ASSERT_FALSE(HasFailure());
  EchoResult before = Echo(certs, certs);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  EXPECT_EQ(before.caller, "services/admin-cli");
  ASSERT_EQ(before.server_pem, ReadFileOrDie(certs.server_cert))
      << "the client does not see the server certificate it was started with";

  // A connection opened before the rotation.
  grpc::SslCredentialsOptions ssl{ReadFileOrDie(certs.ca),
                                  ReadFileOrDie(certs.ClientKey("admin-cli")),
                                  ReadFileOrDie(certs.ClientCert("admin-cli"))};
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto old_channel = grpc::CreateCustomChannel(server_->target(),
                                               grpc::SslCredentials(ssl), args);
  auto old_stub = crm::v1::DiagnosticsService::NewStub(old_channel);
  {
    grpc::ClientContext ctx;
    crm::v1::EchoRequest req;
    crm::v1::EchoResponse resp;
    ASSERT_TRUE(old_stub->Echo(&ctx, req, &resp).ok());
  }

  // Re-issue the server certificate with the same CA, as make-dev-certs.sh
  // does (certs/certlib.sh), and replace the files in place.
  const std::string cmd = absl::StrCat(
      "bash -c 'source \"", SourceDir(), "/certs/certlib.sh\" && sign \"",
      certs.dir,
      "\" server2 localhost \"DNS:localhost, IP:127.0.0.1, IP:::1\" "
      "serverAuth' 2>&1");
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  const std::string new_pem = ReadFileOrDie(certs.dir + "/server2.pem");
  ASSERT_NE(new_pem, before.server_pem);
  WriteFileAtomic(live_ + "/server.key",
                  ReadFileOrDie(certs.dir + "/server2.key"));
  WriteFileAtomic(live_ + "/server.pem", new_pem);

  EchoResult after;
  EXPECT_TRUE(WaitFor([&] {
    after = Echo(certs, certs);
    return after.status.ok() && after.server_pem == new_pem;
  })) << "new connections still see the old server certificate after "
      << absl::FormatDuration(kReloadWait) << " (status "
      << after.status.error_code() << " " << after.status.error_message()
      << ")";

  // The connection from before the rotation still works.
  grpc::ClientContext ctx;
  crm::v1::EchoRequest req;
  crm::v1::EchoResponse resp;
  grpc::Status s = old_stub->Echo(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(CertReloadTest, RotationToANewCaSwitchesTrustBothWays) {
  TestCerts old_set = MakeCerts("old");
  TestCerts new_set = MakeCerts("new");
  StartServer(old_set);
  ASSERT_FALSE(HasFailure());

  EchoResult r = Echo(old_set, old_set);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  r = Echo(new_set, new_set);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a client trusting only the new CA connected before the rotation";

  // Rotate everything: the new CA (for client certificates), its CRL (the
  // CAs have the same subject, hence the same HASH.r0 name) and a server
  // certificate it signed.
  ASSERT_EQ(CrlFileName(new_set), crl_name_);
  CopyFile(new_set.ca, live_ + "/ca.pem");
  CopyFile(new_set.crl_dir + "/" + crl_name_, live_ + "/crl/" + crl_name_);
  CopyFile(new_set.server_key, live_ + "/server.key");
  CopyFile(new_set.server_cert, live_ + "/server.pem");

  const std::string new_server_pem = ReadFileOrDie(new_set.server_cert);
  EXPECT_TRUE(WaitFor([&] {
    r = Echo(new_set, new_set);
    return r.status.ok();
  })) << "a client of the new CA is still refused after "
      << absl::FormatDuration(kReloadWait) << ": " << r.status.error_message();
  EXPECT_EQ(r.server_pem, new_server_pem);
  EXPECT_EQ(r.caller, "services/admin-cli");

  // The old CA is no longer trusted, neither for the server's certificate
  // (client side) nor for client certificates (server side).
  r = Echo(old_set, old_set);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "a client of the old CA still connects";
  r = Echo(new_set, old_set);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "the server still accepts client certificates of the old CA";
  // The new CA's CRL applies: its revoked certificate is refused.
  r = Echo(new_set, new_set, "revoked");
  EXPECT_FALSE(r.status.ok())
      << "a certificate revoked by the new CA's CRL was accepted";
  // And an unregistered identity of the new CA is still UNAUTHENTICATED.
  r = Echo(new_set, new_set, "unregistered");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << r.status.error_message();
}

// The same rotation with the files replaced in the other order, with a
// handshake and more than the refresh interval in between: the new CA's CRL
// first (while the old CA is still configured), then the CA and the server
// certificate. Revocation must hold once the new CA is in place.
TEST_F(CertReloadTest, RevocationHoldsWhenTheCrlIsRotatedBeforeTheCa) {
  TestCerts old_set = MakeCerts("old");
  TestCerts new_set = MakeCerts("new");
  StartServer(old_set);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(CrlFileName(new_set), crl_name_);

  CopyFile(new_set.crl_dir + "/" + crl_name_, live_ + "/crl/" + crl_name_);
  absl::SleepFor(absl::Milliseconds(1500));
  // A handshake makes the CRL watcher rescan. Its result does not matter:
  // while the old CA is paired with the new CA's CRL, OpenSSL's own CRL
  // check finds no valid CRL for the old CA and refuses every client (the
  // files are meant to be swapped together).
  EchoResult r = Echo(old_set, old_set);
  absl::SleepFor(absl::Milliseconds(1500));
  CopyFile(new_set.ca, live_ + "/ca.pem");
  CopyFile(new_set.server_key, live_ + "/server.key");
  CopyFile(new_set.server_cert, live_ + "/server.pem");

  EXPECT_TRUE(WaitFor([&] {
    r = Echo(new_set, new_set);
    return r.status.ok();
  })) << r.status.error_message();
  absl::SleepFor(absl::Milliseconds(1500));
  for (int i = 0; i < 3; ++i) {
    r = Echo(new_set, new_set, "revoked");
    EXPECT_FALSE(r.status.ok())
        << "attempt " << i
        << ": a certificate revoked by the new CA's CRL was accepted after a "
           "CRL-then-CA rotation";
  }
}

}  // namespace
}  // namespace crm::testing
