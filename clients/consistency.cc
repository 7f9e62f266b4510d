#include "clients/consistency.h"

#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/consistency.h"

namespace crm::client {
namespace {

using grpc::experimental::InterceptionHookPoints;

class ConsistencyInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ConsistencyInterceptor(PolicyVersionTracker* tracker)
      : tracker_(tracker) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      const int64_t seen = tracker_->seen();
      auto* metadata = methods->GetSendInitialMetadata();
      // A caller that set its own token keeps it.
      if (seen > 0 && metadata->count(base::kMinPolicyVersionHeader) == 0) {
        metadata->emplace(base::kMinPolicyVersionHeader, absl::StrCat(seen));
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      auto* trailers = methods->GetRecvTrailingMetadata();
      auto it = trailers->find(base::kPolicyVersionHeader);
      int64_t version = 0;
      if (it != trailers->end() &&
          absl::SimpleAtoi(
              absl::string_view(it->second.data(), it->second.size()),
              &version)) {
        tracker_->Observe(version);
      }
    }
    methods->Proceed();
  }

 private:
  PolicyVersionTracker* tracker_;
};

class Factory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit Factory(std::shared_ptr<PolicyVersionTracker> tracker)
      : tracker_(std::move(tracker)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new ConsistencyInterceptor(tracker_.get());
  }

 private:
  std::shared_ptr<PolicyVersionTracker> tracker_;
};

}  // namespace

void PolicyVersionTracker::Observe(int64_t version) {
  int64_t current = seen_.load(std::memory_order_relaxed);
  while (version > current &&
         !seen_.compare_exchange_weak(current, version,
                                      std::memory_order_release,
                                      std::memory_order_relaxed)) {
  }
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
ConsistencyInterceptorFactory(std::shared_ptr<PolicyVersionTracker> tracker) {
  return std::make_unique<Factory>(std::move(tracker));
}

}  // namespace crm::client
