// Session consistency for a client (base/consistency.h): a tracker keeps the
// newest policy version any response reported (x-crm-policy-version) and an
// interceptor sends it with every later call (x-crm-min-policy-version), so
// a client that has seen a policy change (a user removed from a group, a
// rule deleted) is never answered by a server that has not installed it
// yet: that server loads it first, or answers UNAVAILABLE (retry).
//
// CrmClient::Create installs one on its channel; a tracker may be shared by
// several channels (one client talking to several servers).
//
// Thread-safety: PolicyVersionTracker is thread-safe.
#ifndef CRM_CLIENTS_CONSISTENCY_H_
#define CRM_CLIENTS_CONSISTENCY_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "grpcpp/support/client_interceptor.h"

namespace crm::client {

class PolicyVersionTracker {
 public:
  // The newest version seen; 0 before the first response.
  int64_t seen() const { return seen_.load(std::memory_order_acquire); }
  // Keeps the larger of `version` and what was seen.
  void Observe(int64_t version);

 private:
  std::atomic<int64_t> seen_{0};
};

// An interceptor factory for grpc::experimental::
// CreateCustomChannelWithInterceptors that reads and sends the token
// through `tracker`.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
ConsistencyInterceptorFactory(std::shared_ptr<PolicyVersionTracker> tracker);

}  // namespace crm::client

#endif  // CRM_CLIENTS_CONSISTENCY_H_
