// CallGate's admission and waits without a server (the interceptor's counts
// are covered end to end by tests/e2e/graceful_shutdown_test.py).
#include "server/call_gate.h"

#include <atomic>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace crm::server {
namespace {

class FixedProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit FixedProcessor(grpc::Status status) : status_(std::move(status)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext*,
                       OutputMetadata*, OutputMetadata*) override {
    ++calls;
    return status_;
  }
  std::atomic<int> calls{0};

 private:
  grpc::Status status_;
};

grpc::Status Admit(CallGate& gate) {
  grpc::AuthMetadataProcessor::InputMetadata in;
  grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
  return gate.Process(in, nullptr, &consumed, &response);
}

TEST(CallGate, OpenGateDecidesByTheInnerProcessor) {
  auto allow = std::make_shared<FixedProcessor>(grpc::Status::OK);
  CallGate open(allow);
  EXPECT_TRUE(Admit(open).ok());
  EXPECT_EQ(open.admitted(), 1);

  auto deny = std::make_shared<FixedProcessor>(
      grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who are you"));
  CallGate refusing(deny);
  grpc::Status s = Admit(refusing);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "who are you");
  EXPECT_EQ(refusing.admitted(), 0) << "refused calls are not counted";
}

TEST(CallGate, ClosedGateRefusesWithUnavailableWithoutAskingInner) {
  auto inner = std::make_shared<FixedProcessor>(grpc::Status::OK);
  CallGate gate(inner);
  gate.Close();
  gate.Close();  // idempotent
  grpc::Status s = Admit(gate);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), CallGate::kClosedMessage);
  EXPECT_EQ(inner->calls.load(), 0);
  EXPECT_EQ(gate.admitted(), 0);
}

// Every call is either admitted and counted before Close returns, or
// refused: none is admitted after.
TEST(CallGate, CloseRacingWithAdmissionsLosesNoCount) {
  CallGate gate(nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        if (Admit(gate).ok()) ok.fetch_add(1);
      }
    });
  }
  while (ok.load() < 1000) absl::SleepFor(absl::Microseconds(100));
  gate.Close();
  const int64_t admitted_at_close = gate.admitted();
  absl::SleepFor(absl::Milliseconds(20));
  stop.store(true);
  for (auto& t : callers) t.join();
  EXPECT_EQ(gate.admitted(), admitted_at_close);
  EXPECT_EQ(ok.load(), admitted_at_close);
}

TEST(CallGate, AwaitArrivalsIsBoundedBySettleAndDeadline) {
  CallGate gate(nullptr);
  // Nothing admitted: nothing to wait for.
  EXPECT_TRUE(gate.AwaitArrivals(absl::Seconds(60), absl::InfiniteFuture()));
  // One admitted call that never reaches a handler (no server here): the
  // wait ends after `settle`, or at the deadline if that comes first.
  ASSERT_TRUE(Admit(gate).ok());
  gate.Close();
  absl::Time start = absl::Now();
  EXPECT_FALSE(
      gate.AwaitArrivals(absl::Milliseconds(100), absl::InfiniteFuture()));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(90));
  start = absl::Now();
  EXPECT_FALSE(gate.AwaitArrivals(absl::Seconds(60),
                                  absl::Now() + absl::Milliseconds(50)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
}

TEST(CallGate, AwaitIdleWithNothingRunningReturnsAtOnce) {
  CallGate gate(nullptr);
  EXPECT_EQ(gate.AwaitIdle(absl::InfiniteFuture()), 0);
}

}  // namespace
}  // namespace crm::server
