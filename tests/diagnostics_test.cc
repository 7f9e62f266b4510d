// DiagnosticsService.Echo with ping_database: one round trip to the server's
// database, UNAVAILABLE (with the reason) when it cannot be reached, and
// served again once the pool has reconnected.
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/channel.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/change_listener.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class DiagnosticsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Through a channel with `max_attempts` (1: no client retries, so the
  // server's own answer is seen).
  grpc::Status Ping(crm::v1::EchoResponse* resp, int max_attempts = 3) {
    client::ChannelOptions options;
    options.target = server_->target();
    options.ca_file = server_->certs().ca;
    options.cert_file = server_->certs().ClientCert("billing");
    options.key_file = server_->certs().ClientKey("billing");
    options.max_attempts = max_attempts;
    auto channel = client::CreateChannel(options);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "channel");
    auto stub = crm::v1::DiagnosticsService::NewStub(*channel);
    crm::v1::EchoRequest req;
    req.set_payload("are you there");
    req.set_ping_database(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->Echo(&ctx, req, resp);
  }

  // pg_terminate_backend only signals the backends; this waits until the
  // ones it signalled are gone (a ping sent before could still be answered:
  // seen under ASan). Connections the server opens meanwhile (its prober,
  // a pool refill) are new ones, not survivors: waiting for "no connection
  // at all" made this flaky.
  absl::Status KillServerConnections() {
    auto admin = store::Database::Open(server_->database(), 1);
    if (!admin.ok()) return admin.status();
    return (*admin)->WithSession([](store::Session& s) -> absl::Status {
      // The policy listener (store/change_listener.h) reconnects at once
      // by design; the pool's connections are the ones waited for.
      const char* others =
          "FROM pg_stat_activity WHERE datname = current_database() AND "
          "pid <> pg_backend_pid() AND backend_type = 'client backend'";
      auto pids = store::Query(
          s,
          {absl::StrCat("SELECT pid ", others, " AND application_name <> '",
                        store::kListenerApplicationName, "'"),
           {}},
          "listing the server's connections");
      if (!pids.ok()) return pids.status();
      if (pids->empty()) return absl::OkStatus();
      std::string list;
      for (const auto& row : *pids) {
        auto pid = store::IntOf(row[0]);
        if (!pid.has_value()) continue;
        absl::StrAppend(&list, list.empty() ? "" : ", ", *pid);
      }
      // Every connection, the listener's too (as a database restart would).
      auto killed = store::Query(
          s, {absl::StrCat("SELECT pg_terminate_backend(pid) ", others), {}},
          "terminating the server's connections");
      if (!killed.ok()) return killed.status();
      absl::Time deadline = absl::Now() + absl::Seconds(10);
      while (true) {
        auto left = store::QueryInt(
            s,
            {absl::StrCat("SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN (",
                          list, ")"),
             {}},
            "counting the terminated connections");
        if (!left.ok()) return left.status();
        if (*left == 0) return absl::OkStatus();
        if (absl::Now() > deadline) {
          return absl::DeadlineExceededError(
              absl::StrCat(*left, " connections survived termination"));
        }
        absl::SleepFor(absl::Milliseconds(10));
      }
    });
  }

  std::unique_ptr<TestServer> server_;
};

TEST_P(DiagnosticsTest, EchoPingsTheDatabase) {
  crm::v1::EchoResponse resp;
  grpc::Status s = Ping(&resp, 1);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.payload(), "are you there");
  EXPECT_EQ(resp.caller(), "services/billing");
}

// PostgreSQL only: the server's connections are killed from outside (as a
// database restart or failover would) while they sit idle in the pool. A
// lease notices that the server closed a connection (its socket is
// readable) and reopens it before use, so even without client retries the
// very next pings are served; a connection lost in the middle of a
// statement is UNAVAILABLE instead (tests/e2e/db_fault_test.py).
TEST_P(DiagnosticsTest, IdleConnectionsKilledFromOutsideAreReopenedBeforeUse) {
  if (GetParam() != Backend::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  crm::v1::EchoResponse resp;
  ASSERT_TRUE(Ping(&resp, 1).ok());

  const int pool = 4;  // BaseTestConfig's database_pool_size
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(KillServerConnections().ok());
    // One ping per pooled connection and one more: every one is served.
    for (int i = 0; i < pool + 1; ++i) {
      grpc::Status s = Ping(&resp, /*max_attempts=*/1);
      EXPECT_TRUE(s.ok()) << "round " << round << ", ping " << i << ": "
                          << s.error_message();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, DiagnosticsTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
