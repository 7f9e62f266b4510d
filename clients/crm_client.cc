#include "clients/crm_client.h"

#include "clients/consistency.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_format.h"

namespace crm::client {

absl::StatusOr<std::unique_ptr<CrmClient>> CrmClient::Create(
    const ChannelOptions& options) {
  ChannelOptions with_tracker = options;
  if (with_tracker.consistency == nullptr) {
    with_tracker.consistency = std::make_shared<PolicyVersionTracker>();
  }
  auto channel = CreateChannel(with_tracker);
  if (!channel.ok()) return channel.status();
  auto client = std::make_unique<CrmClient>(*std::move(channel),
                                            options.default_deadline);
  client->consistency_ = std::move(with_tracker.consistency);
  return client;
}

CrmClient::CrmClient(std::shared_ptr<grpc::Channel> channel,
                     absl::Duration default_deadline)
    : channel_(std::move(channel)),
      accounts_(crm::v1::AccountService::NewStub(channel_)),
      audit_(crm::v1::AuditService::NewStub(channel_)),
      access_review_(crm::v1::AccessReviewService::NewStub(channel_)),
      key_admin_(crm::v1::KeyAdminService::NewStub(channel_)),
      contacts_(crm::v1::ContactService::NewStub(channel_)),
      leads_(crm::v1::LeadService::NewStub(channel_)),
      opportunities_(crm::v1::OpportunityService::NewStub(channel_)),
      cases_(crm::v1::CaseService::NewStub(channel_)),
      activities_(crm::v1::ActivityService::NewStub(channel_)),
      diagnostics_(crm::v1::DiagnosticsService::NewStub(channel_)),
      auth_(crm::v1::AuthService::NewStub(channel_)),
      policy_admin_(crm::v1::PolicyAdminService::NewStub(channel_)),
      sharing_(crm::v1::SharingService::NewStub(channel_)),
      user_admin_(crm::v1::UserAdminService::NewStub(channel_)),
      generic_(std::make_unique<grpc::GenericStub>(channel_)),
      default_deadline_(default_deadline) {}

std::unique_ptr<grpc::ClientContext> CrmClient::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  std::lock_guard<std::mutex> lock(mu_);
  if (default_deadline_ > absl::ZeroDuration() &&
      default_deadline_ != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + default_deadline_));
  }
  if (!session_token_.empty()) {
    context->AddMetadata("authorization", "Bearer " + session_token_);
  }
  if (!forwarded_for_.empty()) {
    context->AddMetadata("x-forwarded-for", forwarded_for_);
  }
  return context;
}

void CrmClient::set_session_token(std::string token) {
  std::lock_guard<std::mutex> lock(mu_);
  session_token_ = std::move(token);
}

void CrmClient::set_forwarded_for(std::string address) {
  std::lock_guard<std::mutex> lock(mu_);
  forwarded_for_ = std::move(address);
}

std::string NewRequestId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) abort();  // no safe fallback
  b[6] = (b[6] & 0x0f) | 0x40;                 // version 4
  b[8] = (b[8] & 0x3f) | 0x80;                 // RFC 4122 variant
  return absl::StrFormat(
      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
      b[12], b[13], b[14], b[15]);
}

void CrmClient::set_default_deadline(absl::Duration deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  default_deadline_ = deadline;
}

}  // namespace crm::client
