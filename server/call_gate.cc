#include "server/call_gate.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"
#include "server/log.h"

namespace crm::server {
namespace {

constexpr char kHealthWatch[] = "/grpc.health.v1.Health/Watch";

// How often the waits below look again: shutdown is not a hot path, and a
// condition variable on every call's exit would be.
constexpr absl::Duration kPoll = absl::Milliseconds(5);

// Counts one call from its arrival at the handler layer (gRPC creates the
// interceptors when a thread takes the call) to the end of the call (gRPC
// destroys them with the call's ServerContext).
class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CountingInterceptor(std::atomic<int64_t>* running)
      : running_(running) {
    if (running_ != nullptr) running_->fetch_add(1);
  }
  ~CountingInterceptor() override {
    if (running_ != nullptr) running_->fetch_sub(1);
  }
  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  std::atomic<int64_t>* const running_;  // null: not counted as running
};

}  // namespace

class CallGate::Counter final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Counter(std::shared_ptr<CallGate> gate) : gate_(std::move(gate)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    gate_->arrived_.fetch_add(1);
    // Debug level: lets a test (and a person) see that a call has reached
    // the handler layer, e.g. before it signals a shutdown.
    if (LogEnabled(LogLevel::kDebug)) {
      Log(LogLevel::kDebug, "call.started", {{"method", info->method()}});
    }
    const bool watch = std::strcmp(info->method(), kHealthWatch) == 0;
    return new CountingInterceptor(watch ? nullptr : &gate_->running_);
  }

 private:
  const std::shared_ptr<CallGate> gate_;
};

CallGate::CallGate(std::shared_ptr<grpc::AuthMetadataProcessor> inner)
    : inner_(std::move(inner)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallGate::NewCallCounter(std::shared_ptr<CallGate> gate) {
  return std::make_unique<Counter>(std::move(gate));
}

grpc::Status CallGate::Process(const InputMetadata& auth_metadata,
                               grpc::AuthContext* context,
                               OutputMetadata* consumed_auth_metadata,
                               OutputMetadata* response_metadata) {
  admitting_.fetch_add(1);
  if (closed_.load()) {
    admitting_.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, kClosedMessage);
  }
  grpc::Status status =
      inner_ == nullptr
          ? grpc::Status::OK
          : inner_->Process(auth_metadata, context, consumed_auth_metadata,
                            response_metadata);
  if (status.ok()) admitted_.fetch_add(1);
  admitting_.fetch_sub(1);
  return status;
}

void CallGate::Close() {
  int64_t never = 0;
  closed_nanos_.compare_exchange_strong(never, absl::GetCurrentTimeNanos());
  closed_.store(true);
  // An admission takes microseconds (the identity check is in memory).
  while (admitting_.load() != 0) absl::SleepFor(absl::Microseconds(50));
}

bool CallGate::AwaitArrivals(absl::Duration settle, absl::Time deadline) const {
  const absl::Time settled = absl::FromUnixNanos(closed_nanos_.load()) + settle;
  while (arrived_.load() < admitted_.load()) {
    const absl::Time now = absl::Now();
    if (now >= std::min(settled, deadline)) return false;
    absl::SleepFor(std::min(kPoll, std::min(settled, deadline) - now));
  }
  return true;
}

int64_t CallGate::AwaitIdle(absl::Time deadline) const {
  int64_t running;
  while ((running = running_.load()) > 0 && absl::Now() < deadline) {
    absl::SleepFor(std::min(kPoll, deadline - absl::Now()));
  }
  return running;
}

}  // namespace crm::server
