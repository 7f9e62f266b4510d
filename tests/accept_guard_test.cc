// The accept guard (server/accept_guard.h) on the real server: the accept4
// that libgrpc calls is ours, and running out of file descriptors no longer
// stops the listener (gRPC 1.51 alone stops it for good on EMFILE).
//
// These tests lower this process's RLIMIT_NOFILE and fill its descriptor
// table; ctest runs every test in a process of its own.
#include "server/accept_guard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(15);

// A channel of its own (no shared subchannel) with the admin-cli certificate.
std::shared_ptr<grpc::Channel> NewAdminChannel(const TestServer& server) {
  const TestCerts& certs = server.certs();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrDie(certs.ca);
  ssl.pem_cert_chain = ReadFileOrDie(certs.ClientCert("admin-cli"));
  ssl.pem_private_key = ReadFileOrDie(certs.ClientKey("admin-cli"));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(server.target(), grpc::SslCredentials(ssl),
                                   args);
}

grpc::Status Echo(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = crm::v1::DiagnosticsService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  crm::v1::EchoRequest request;
  crm::v1::EchoResponse response;
  return stub->Echo(&ctx, request, &response);
}

// One Echo on a new connection, closed when it returns.
grpc::Status EchoOnNewConnection(const TestServer& server) {
  return Echo(NewAdminChannel(server));
}

template <typename F>
bool WaitFor(F condition) {
  const absl::Time deadline = absl::Now() + kDeadline;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

int HighestOpenDescriptor() {
  int highest = 2;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 1024;
  while (dirent* entry = readdir(dir)) {
    highest = std::max(highest, atoi(entry->d_name));
  }
  closedir(dir);
  return highest;
}

// Whether the server closed `fd` (end of stream or reset), without waiting.
bool ClosedByPeer(int fd) {
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

TEST(AcceptGuard, LibgrpcCallsTheInterposedAccept4) {
  auto server = TestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const uint64_t before = server::GetAcceptGuardStats().accepted;
  // The channel stays open while the count is read: once it is gone the
  // server may close its side at any moment (CI saw 0 here).
  const auto channel = NewAdminChannel(**server);
  grpc::Status s = Echo(channel);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(server::GetAcceptGuardStats().accepted, before)
      << "the connection was not accepted through server/accept_guard.cc: "
         "libgrpc's accept4 does not bind to the executable's definition";
  EXPECT_GE(server::OpenConnectionCount(), 1);
}

TEST(AcceptGuard, ListenerSurvivesDescriptorExhaustion) {
  // A long TLS refresh interval: the certificate status thread then opens
  // no file while the test holds every descriptor.
  auto started = TestServer::Start({.customize = [](auto& config) {
    config.mutable_tls()->set_refresh_interval_seconds(300);
  }});
  ASSERT_TRUE(started.ok()) << started.status();
  TestServer& server = **started;
  grpc::Status s = EchoOnNewConnection(server);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The server closes that connection's socket on its own time; if it did
  // so after the descriptors were filled, the freed descriptor would let
  // the next connection be accepted normally (seen on a loaded machine).
  ASSERT_TRUE(WaitFor([] { return server::OpenConnectionCount() == 0; }))
      << "the first connection was never closed by the server";

  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(HighestOpenDescriptor()) + 200;
  ASSERT_LE(low.rlim_cur, saved.rlim_max);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);

  // The client's socket first, then every free descriptor: connect() needs
  // none, and the server has none left to accept the connection with.
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::vector<int> filler;
  auto fill = [&filler] {
    for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) {
      filler.push_back(fd);
    }
    return errno;
  };
  const int fill_errno = fill();
  const server::AcceptGuardStats before = server::GetAcceptGuardStats();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server.server().port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fill();  // what another thread may have freed meanwhile
  const int connected =
      connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int connect_errno = errno;

  bool dropped = false;
  bool closed = false;
  if (client >= 0 && connected == 0) {
    dropped = WaitFor([&] {
      return server::GetAcceptGuardStats().dropped_exhausted >
             before.dropped_exhausted;
    });
    closed = WaitFor([&] { return ClosedByPeer(client); });
  }
  const server::AcceptGuardStats after = server::GetAcceptGuardStats();
  if (client >= 0) close(client);
  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);

  ASSERT_GE(client, 0);
  ASSERT_EQ(fill_errno, EMFILE);
  ASSERT_EQ(connected, 0) << "connect: " << strerror(connect_errno);
  EXPECT_TRUE(dropped)
      << "the guard did not drop the connection made while descriptors were "
         "exhausted (accepted "
      << after.accepted - before.accepted << ", dropped "
      << after.dropped_exhausted - before.dropped_exhausted << ")";
  EXPECT_TRUE(closed) << "the client did not see its connection closed";

  // The listener is still alive: a real mTLS call on a new connection.
  s = EchoOnNewConnection(server);
  EXPECT_TRUE(s.ok()) << "the server no longer accepts connections after "
                         "running out of descriptors: "
                      << s.error_code() << " " << s.error_message();
}

}  // namespace
}  // namespace crm::testing
