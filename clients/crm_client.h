// CrmClient: one channel to the CRM server and typed stubs for its services.
//
// Example:
//   auto client = CrmClient::Create({.target = "localhost:8443", ...});
//   if (!client.ok()) return client.status();
//   (*client)->set_session_token(token);
//   auto ctx = (*client)->NewContext();
//   crm::v1::Account account;
//   grpc::Status s = (*client)->accounts().GetAccount(ctx.get(), req,
//   &account);
//   if (!s.ok()) {
//     // Machine-readable details (clients/error_details.h): reason,
//     // metadata, every field violation, retry delay.
//     ErrorDetails d = DecodeErrorDetails(s);
//     if (d.reason == "RECORD_NOT_FOUND") ...
//   }
#ifndef CRM_CLIENTS_CRM_CLIENT_H_
#define CRM_CLIENTS_CRM_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/channel.h"
#include "clients/consistency.h"
#include "clients/error_details.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/access_review_service.grpc.pb.h"
#include "crm/v1/key_admin_service.grpc.pb.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/auth_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "crm/v1/sharing_service.grpc.pb.h"
#include "crm/v1/user_admin_service.grpc.pb.h"

namespace crm::client {

// A new random request id (a version 4 UUID) for a Create's request_id
// (AIP-155): set it once per intended record and resend the same request
// after UNAVAILABLE or DEADLINE_EXCEEDED; the server then creates at most
// one record. E.g.
//   crm::v1::CreateAccountRequest req;
//   req.set_request_id(crm::client::NewRequestId());
// Thread-safe.
std::string NewRequestId();

// Thread-safety: the stubs and NewContext() may be used from any number of
// threads at once (gRPC stubs are thread-safe). The setters may also be
// called concurrently; a context made by NewContext() carries the values set
// before it was made. Each ClientContext is for one call only.
class CrmClient {
 public:
  // Connects (lazily) with CreateChannel; fails as CreateChannel does.
  static absl::StatusOr<std::unique_ptr<CrmClient>> Create(
      const ChannelOptions& options);

  // Wraps an existing channel (e.g. an in-process test channel).
  CrmClient(std::shared_ptr<grpc::Channel> channel,
            absl::Duration default_deadline);

  CrmClient(const CrmClient&) = delete;
  CrmClient& operator=(const CrmClient&) = delete;

  // Typed stubs, owned by this client and valid while it lives.
  crm::v1::AccountService::Stub& accounts() const { return *accounts_; }
  crm::v1::ContactService::Stub& contacts() const { return *contacts_; }
  crm::v1::LeadService::Stub& leads() const { return *leads_; }
  crm::v1::OpportunityService::Stub& opportunities() const {
    return *opportunities_;
  }
  crm::v1::CaseService::Stub& cases() const { return *cases_; }
  crm::v1::ActivityService::Stub& activities() const { return *activities_; }
  crm::v1::DiagnosticsService::Stub& diagnostics() const {
    return *diagnostics_;
  }
  crm::v1::AuthService::Stub& auth() const { return *auth_; }
  crm::v1::PolicyAdminService::Stub& policy_admin() const {
    return *policy_admin_;
  }
  crm::v1::SharingService::Stub& sharing() const { return *sharing_; }
  crm::v1::UserAdminService::Stub& user_admin() const { return *user_admin_; }
  crm::v1::AuditService::Stub& audit() const { return *audit_; }
  crm::v1::AccessReviewService::Stub& access_review() const {
    return *access_review_;
  }
  crm::v1::KeyAdminService::Stub& key_admin() const { return *key_admin_; }
  // For calls by method name with serialized messages (see generic_call.h).
  grpc::GenericStub& generic() const { return *generic_; }

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // A context for one call: deadline now + default deadline, metadata
  // "authorization: Bearer <token>" if a session token is set, and
  // "x-forwarded-for" if set. Never null.
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // The user session to act for; empty clears it (the call then acts as the
  // mTLS service identity only).
  void set_session_token(std::string token);
  // The end user's address, forwarded in "x-forwarded-for". The server
  // honours it only from a service registered as a trusted gateway, and
  // then only the rightmost address of a list (INVALID_ARGUMENT if that is
  // not an IP address); from any other caller it is ignored. Empty clears
  // it.
  void set_forwarded_for(std::string address);
  void set_default_deadline(absl::Duration deadline);

  // The newest policy version this client has seen, sent with every call
  // (clients/consistency.h); null for a client made from a bare channel.
  const std::shared_ptr<PolicyVersionTracker>& consistency() const {
    return consistency_;
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<crm::v1::AccountService::Stub> accounts_;
  std::unique_ptr<crm::v1::AuditService::Stub> audit_;
  std::unique_ptr<crm::v1::AccessReviewService::Stub> access_review_;
  std::unique_ptr<crm::v1::KeyAdminService::Stub> key_admin_;
  std::unique_ptr<crm::v1::ContactService::Stub> contacts_;
  std::unique_ptr<crm::v1::LeadService::Stub> leads_;
  std::unique_ptr<crm::v1::OpportunityService::Stub> opportunities_;
  std::unique_ptr<crm::v1::CaseService::Stub> cases_;
  std::unique_ptr<crm::v1::ActivityService::Stub> activities_;
  std::unique_ptr<crm::v1::DiagnosticsService::Stub> diagnostics_;
  std::unique_ptr<crm::v1::AuthService::Stub> auth_;
  std::unique_ptr<crm::v1::PolicyAdminService::Stub> policy_admin_;
  std::unique_ptr<crm::v1::SharingService::Stub> sharing_;
  std::unique_ptr<crm::v1::UserAdminService::Stub> user_admin_;
  std::unique_ptr<grpc::GenericStub> generic_;
  std::shared_ptr<PolicyVersionTracker> consistency_;

  mutable std::mutex mu_;  // Guards the three fields below.
  absl::Duration default_deadline_;
  std::string session_token_;
  std::string forwarded_for_;
};

}  // namespace crm::client

#endif  // CRM_CLIENTS_CRM_CLIENT_H_
