// Revocation and expiry reach connections that are already open (issue 9):
// a client certificate revoked (openssl ca -revoke, -gencrl) or expiring
// while its connection is open stops being served on that same channel
// within the CRL refresh interval (1 s here), and the server closes the
// connection; other certificates' connections are not touched.
//
// Real server (TestServer), real mTLS, certificates generated per test in a
// temp dir (certs/make-test-certs.sh) so that they can be revoked.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

// The CRL refresh interval of the servers below, and how long a test waits
// for what must happen within it (a loaded 2-core CI box).
constexpr int kRefreshSeconds = 1;
constexpr absl::Duration kDeadline = absl::Seconds(15);

// A channel of its own (own subchannel pool: one connection, not shared
// with any other channel of the test).
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<crm::v1::DiagnosticsService::Stub> stub;

  grpc::Status Echo() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    crm::v1::EchoRequest request;
    request.set_payload("revocation");
    crm::v1::EchoResponse response;
    return stub->Echo(&ctx, request, &response);
  }
};

// `target` empty: server.target() ("localhost:PORT").
Client Connect(const TestServer& server, const std::string& name,
               const std::string& target = "") {
  const TestCerts& certs = server.certs();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrDie(certs.ca);
  ssl.pem_cert_chain = ReadFileOrDie(certs.ClientCert(name));
  ssl.pem_private_key = ReadFileOrDie(certs.ClientKey(name));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  Client c;
  c.channel =
      grpc::CreateCustomChannel(target.empty() ? server.target() : target,
                                grpc::SslCredentials(ssl), args);
  c.stub = crm::v1::DiagnosticsService::NewStub(c.channel);
  return c;
}

// Polls `condition` every 50 ms until it holds or kDeadline passes.
template <typename F>
bool WaitFor(F condition) {
  const absl::Time deadline = absl::Now() + kDeadline;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

bool IsRefusal(const grpc::Status& s) {
  // UNAUTHENTICATED: refused before the handler on the open connection;
  // UNAVAILABLE: the connection was closed and the new handshake fails.
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         s.error_code() == grpc::StatusCode::UNAVAILABLE;
}

class ConnectionRevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("conn-revocation");
    auto certs = MakeTestCerts(dir_ + "/certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
  }
  void TearDown() override {
    server_.reset();
    RemoveTempDir(dir_);
  }

  void StartServer(const std::string& listen = "127.0.0.1:0") {
    auto server = TestServer::Start(
        {.customize =
             [listen](crm::internal::ServerConfig& c) {
               c.set_listen_address(listen);
               c.mutable_tls()->set_refresh_interval_seconds(kRefreshSeconds);
             },
         .certs = &certs_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string dir_;
  TestCerts certs_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(ConnectionRevocationTest, SameChannelIsRefusedOnceItsCertIsRevoked) {
  StartServer();
  ASSERT_FALSE(HasFailure());
  Client billing = Connect(*server_, "billing");
  Client admin = Connect(*server_, "admin-cli");
  grpc::Status s = billing.Echo();
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = admin.Echo();
  ASSERT_TRUE(s.ok()) << s.error_message();

  ASSERT_TRUE(RevokeTestCert(certs_, "billing").ok());
  const absl::Time revoked_at = absl::Now();
  grpc::Status refused;
  ASSERT_TRUE(WaitFor([&] {
    refused = billing.Echo();
    return !refused.ok();
  })) << "calls on the revoked certificate's open channel still succeed "
      << absl::FormatDuration(kDeadline) << " after the CRL was rewritten";
  const absl::Duration took = absl::Now() - revoked_at;
  EXPECT_TRUE(IsRefusal(refused))
      << refused.error_code() << " " << refused.error_message();
  if (refused.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    EXPECT_NE(refused.error_message().find("revoked"), std::string::npos)
        << refused.error_message();
  }
  RecordProperty("refused_after_ms",
                 static_cast<int>(absl::ToInt64Milliseconds(took)));
  // Every later call on the same channel fails too.
  for (int i = 0; i < 3; ++i) {
    s = billing.Echo();
    EXPECT_TRUE(IsRefusal(s))
        << "call " << i << ": " << s.error_code() << " " << s.error_message();
  }
  // Another certificate's open channel is still served.
  s = admin.Echo();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(Connect(*server_, "admin-cli").Echo().ok());
}

// The per-call check alone: a connection that never made a call is not
// known by its certificate (it cannot be closed), but its first call after
// the revocation is refused cleanly, before any handler.
TEST_F(ConnectionRevocationTest, FirstCallAfterTheRevocationIsUnauthenticated) {
  StartServer();
  ASSERT_FALSE(HasFailure());
  Client billing = Connect(*server_, "billing");
  ASSERT_TRUE(billing.channel->WaitForConnected(
      std::chrono::system_clock::now() + std::chrono::seconds(10)));

  ASSERT_TRUE(RevokeTestCert(certs_, "billing").ok());
  // Once a new connection with the certificate fails, the server has read
  // the new CRL.
  ASSERT_TRUE(WaitFor([&] {
    return !Connect(*server_, "billing").Echo().ok();
  })) << "the server never read the new CRL";
  EXPECT_EQ(billing.channel->GetState(false), GRPC_CHANNEL_READY);
  grpc::Status s = billing.Echo();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << s.error_code() << " " << s.error_message();
  EXPECT_NE(s.error_message().find("revoked"), std::string::npos)
      << s.error_message();
}

TEST_F(ConnectionRevocationTest, ServerClosesTheConnectionWithoutAFurtherCall) {
  StartServer();
  ASSERT_FALSE(HasFailure());
  Client billing = Connect(*server_, "billing");
  Client admin = Connect(*server_, "admin-cli");
  ASSERT_TRUE(billing.Echo().ok());
  ASSERT_TRUE(admin.Echo().ok());
  ASSERT_EQ(billing.channel->GetState(false), GRPC_CHANNEL_READY);

  ASSERT_TRUE(RevokeTestCert(certs_, "billing").ok());
  // No call is made: only the server can take the channel out of READY,
  // by closing its connection.
  EXPECT_TRUE(WaitFor([&] {
    return billing.channel->GetState(false) != GRPC_CHANNEL_READY;
  })) << "the revoked certificate's connection is still open";
  EXPECT_EQ(admin.channel->GetState(false), GRPC_CHANNEL_READY)
      << "a connection with a valid certificate was closed as well";
  grpc::Status s = billing.Echo();
  EXPECT_TRUE(IsRefusal(s)) << s.error_code() << " " << s.error_message();
  s = admin.Echo();
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// The server finds the connection by the peer address gRPC reports: the
// same for IPv6 peers and for IPv4 peers of a dual-stack listener (which
// accept() reports as IPv4-mapped IPv6 addresses).
TEST_F(ConnectionRevocationTest, ClosesIpv6AndDualStackConnections) {
  struct Case {
    const char* listen;
    const char* host;
    const char* cert;
  };
  for (const Case& c : {Case{"[::]:0", "127.0.0.1", "billing"},
                        Case{"[::1]:0", "[::1]", "web-frontend"}}) {
    SCOPED_TRACE(absl::StrCat(c.listen, " from ", c.host));
    StartServer(c.listen);
    ASSERT_FALSE(HasFailure());
    const std::string target =
        absl::StrCat(c.host, ":", server_->server().port());
    Client revoked = Connect(*server_, c.cert, target);
    Client admin = Connect(*server_, "admin-cli", target);
    grpc::Status s = revoked.Echo();
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(admin.Echo().ok());
    ASSERT_TRUE(RevokeTestCert(certs_, c.cert).ok());
    EXPECT_TRUE(WaitFor([&] {
      return revoked.channel->GetState(false) != GRPC_CHANNEL_READY;
    })) << "the revoked certificate's connection is still open";
    EXPECT_EQ(admin.channel->GetState(false), GRPC_CHANNEL_READY);
    server_.reset();
  }
}

TEST_F(ConnectionRevocationTest, ExpiringCertificateIsRefusedAndClosed) {
  // A billing certificate valid for a few more seconds only (the server
  // refuses expired ones at the handshake; this one must get a connection
  // first).
  const absl::Time not_after = absl::Now() + absl::Seconds(6);
  const std::string enddate =
      absl::FormatTime("%Y%m%d%H%M%SZ", not_after, absl::UTCTimeZone());
  const std::string cmd =
      absl::StrCat("bash -c 'source \"", SourceDir(),
                   "/certs/certlib.sh\" && sign_client \"", certs_.dir,
                   "\" billing -enddate ", enddate, "' 2>&1");
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  StartServer();
  ASSERT_FALSE(HasFailure());
  Client billing = Connect(*server_, "billing");
  Client admin = Connect(*server_, "admin-cli");
  grpc::Status s = billing.Echo();
  ASSERT_TRUE(s.ok()) << "the short-lived certificate is refused before it "
                         "expires (slow machine?): "
                      << s.error_message();
  ASSERT_TRUE(admin.Echo().ok());
  ASSERT_LT(absl::Now(), not_after);

  // Closed without a further call, within the refresh interval of expiry
  // (kDeadline is longer than the certificate's remaining validity).
  EXPECT_TRUE(WaitFor([&] {
    return billing.channel->GetState(false) != GRPC_CHANNEL_READY;
  })) << "the expired certificate's connection is still open";
  s = billing.Echo();
  EXPECT_TRUE(IsRefusal(s)) << s.error_code() << " " << s.error_message();
  s = admin.Echo();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(admin.channel->GetState(false), GRPC_CHANNEL_READY);
}

}  // namespace
}  // namespace crm::testing
