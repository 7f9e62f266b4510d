// mTLS channels to the CRM server, with retries for idempotent methods only.
#ifndef CRM_CLIENTS_CHANNEL_H_
#define CRM_CLIENTS_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::client {

class PolicyVersionTracker;  // clients/consistency.h

// How to reach and authenticate to the server.
struct ChannelOptions {
  // "host:port", e.g. "localhost:8443".
  std::string target;
  // PEM files: the CA that signed the server's certificate, and this
  // client's certificate chain and private key. cert_file and key_file are
  // given together or not at all (without them the server refuses the
  // handshake; that is only useful to test exactly that). An empty ca_file
  // means the system's default roots.
  std::string ca_file, cert_file, key_file;
  // If set, the name checked against the server certificate instead of the
  // target's host (tests with certificates for another name).
  std::string server_name_override;
  // Deadline applied by CrmClient::NewContext to every call.
  absl::Duration default_deadline = absl::Seconds(10);
  // Total attempts (first call included) for idempotent methods failing with
  // UNAVAILABLE. 1 disables retries; gRPC caps it at 5.
  int max_attempts = 3;
  // If set, calls on the channel carry the newest policy version it has
  // seen and update it (clients/consistency.h). CrmClient::Create sets one.
  std::shared_ptr<PolicyVersionTracker> consistency;
};

// Creates a channel with mTLS credentials and the retry service config.
// Reads and checks the PEM files now, so a missing, unreadable or non-PEM
// file fails here with INVALID_ARGUMENT (or NOT_FOUND) naming the file and
// the option, not later as an opaque handshake failure. Does not connect:
// connection errors surface on the first call as UNAVAILABLE.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(
    const ChannelOptions& options);

// Full method names ("crm.v1.AccountService/GetAccount") of every method of
// every service in a "crm.*" package linked into this binary whose name
// starts with Get, List, WhoAmI or Echo: the methods that are safe to retry.
// Computed from the generated descriptor pool, so new services are covered
// without editing this list. Sorted. Thread-safe.
std::vector<std::string> IdempotentMethodNames();

// True if a method name (the part after '/') names a retryable method.
bool IsIdempotentMethodName(const std::string& method_name);

// The gRPC service config JSON used by CreateChannel: one methodConfig whose
// retryPolicy (UNAVAILABLE only, exponential backoff 0.1 s x2 up to 2 s)
// applies to exactly `methods` (full names as above). With max_attempts < 2
// or no methods, a config with no retry policy.
std::string RetryServiceConfigJson(const std::vector<std::string>& methods,
                                   int max_attempts);

}  // namespace crm::client

#endif  // CRM_CLIENTS_CHANNEL_H_
