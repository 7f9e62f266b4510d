// The Prometheus endpoint (server/metrics.h) of a real server, scraped over
// HTTP as Prometheus would, on SQLite and PostgreSQL: calls by method and
// code, latency histograms, decisions, login attempts, refused TLS
// handshakes and the scrape-time gauges move with what the test does, and
// no label carries a value a caller chose.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "server/server_core.h"
#include "store/identity_store.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// GET /metrics over plain HTTP/1.0; the body, or "" on any failure.
std::string Scrape(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[8192];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
    }
  }
  close(fd);
  size_t body = response.find("\r\n\r\n");
  if (!absl::StartsWith(response, "HTTP/1.") || body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// "name{labels}" -> value, from the text exposition format.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double value = 0;
    if (!absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    out[std::string(line.substr(0, space))] = value;
  }
  return out;
}

class MetricsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           config.mutable_metrics()->set_listen_address("127.0.0.1:0");
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_NE(server_->server().core().metrics, nullptr);
    port_ = server_->server().core().metrics->port();
    ASSERT_GT(port_, 0);
  }

  std::map<std::string, double> Now() { return Samples(Scrape(port_)); }

  std::unique_ptr<TestServer> server_;
  int port_ = 0;
};

TEST_P(MetricsTest, CountersFollowTheCallsAndGaugesDescribeTheServer) {
  const std::map<std::string, double> before = Now();
  ASSERT_FALSE(before.empty()) << "scrape failed";
  auto delta = [&](const std::map<std::string, double>& after,
                   const std::string& key) {
    auto a = after.find(key);
    auto b = before.find(key);
    return (a == after.end() ? 0 : a->second) -
           (b == before.end() ? 0 : b->second);
  };

  auto admin = server_->Client("admin-cli");
  crm::v1::CreateAccountRequest create;
  create.mutable_account()->set_display_name("Secret Customer Ltd");
  crm::v1::Account account;
  auto ctx = admin->NewContext();
  ASSERT_TRUE(admin->accounts().CreateAccount(ctx.get(), create, &account).ok());
  crm::v1::GetAccountRequest get;
  get.set_name("accounts/nosuchrecord");
  crm::v1::Account got;
  ctx = admin->NewContext();
  EXPECT_EQ(admin->accounts().GetAccount(ctx.get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto billing = server_->Client("billing");  // accounts: read only
  ctx = billing->NewContext();
  EXPECT_EQ(billing->accounts().CreateAccount(ctx.get(), create, &account)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  store::ProfileRow profile;
  profile.id = "rep";
  profile.name = "Sales Rep";
  ASSERT_TRUE(AddProfile(*server_, profile).ok());
  ASSERT_TRUE(AddUser(*server_, "mallory", "right-pw", "rep").ok());
  auto gateway = server_->Client("web-frontend");
  EXPECT_FALSE(LoginToken(*gateway, "mallory", "wrong-pw").ok());

  // A client from another CA: refused in the TLS handshake. The server
  // counts it when gRPC reports the failure, which may come after the
  // client has given up: wait for it.
  auto foreign = server_->Client("foreign");
  crm::v1::EchoRequest echo;
  crm::v1::EchoResponse echoed;
  ctx = foreign->NewContext();
  EXPECT_FALSE(foreign->diagnostics().Echo(ctx.get(), echo, &echoed).ok());

  const std::string tls_key =
      "crm_tls_handshake_failures_total{reason=\"handshake\"}";
  std::map<std::string, double> after = Now();
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (delta(after, tls_key) < 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    after = Now();
  }
  EXPECT_GE(delta(after, tls_key), 1);

  const std::string create_ok =
      "{code=\"OK\",method=\"crm.v1.AccountService/CreateAccount\"}";
  EXPECT_EQ(delta(after, "crm_rpc_calls_total" + create_ok), 1);
  EXPECT_EQ(delta(after, "crm_rpc_duration_seconds_count" + create_ok), 1);
  EXPECT_EQ(delta(after, "crm_rpc_calls_total{code=\"NOT_FOUND\",method=\"crm."
                         "v1.AccountService/GetAccount\"}"),
            1);
  EXPECT_EQ(delta(after, "crm_rpc_calls_total{code=\"PERMISSION_DENIED\","
                         "method=\"crm.v1.AccountService/CreateAccount\"}"),
            1);
  EXPECT_EQ(delta(after, "crm_rpc_calls_total{code=\"UNAUTHENTICATED\","
                         "method=\"crm.v1.AuthService/Login\"}"),
            1);
  EXPECT_GE(delta(after, "crm_decisions_total{kind=\"object\",outcome=\"deny\"}"),
            1);
  EXPECT_GE(delta(after, "crm_decisions_total{kind=\"record\",outcome=\"allow\"}"),
            1);
  EXPECT_EQ(delta(after, "crm_login_attempts_total{outcome=\"failure\","
                         "reason=\"BAD_CREDENTIALS\"}"),
            1);

  EXPECT_EQ(after["crm_db_available"], 1);
  EXPECT_EQ(after["crm_db_pool_size"], 4);  // BaseTestConfig
  EXPECT_GE(after["crm_db_pool_in_use"], 0);
  EXPECT_GE(after["crm_policy_snapshot_age_seconds"], 0);
  EXPECT_EQ(after["crm_policy_version"],
            server_->server().core().policy->Current()->version());
  EXPECT_GT(after["crm_policy_version"], 0);

  // Bounded labels: nothing the callers chose appears.
  const std::string text = Scrape(port_);
  EXPECT_THAT(text, Not(HasSubstr("Secret Customer")));
  EXPECT_THAT(text, Not(HasSubstr(account.name())));
  EXPECT_THAT(text, Not(HasSubstr("mallory")));
  EXPECT_THAT(text, Not(HasSubstr("nosuchrecord")));
}

TEST_P(MetricsTest, OffUnlessConfigured) {
  auto plain = TestServer::Start({.backend = GetParam()});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->server().core().metrics, nullptr);
}

INSTANTIATE_TEST_SUITE_P(Backends, MetricsTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
