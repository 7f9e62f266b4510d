// ConsentService (crm/v1/consent_service.proto): the gRPC adapter of
// records/consent.h. Each method runs through the request pipeline
// (server/pipeline.h) with the caller's policy::Evaluator.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_CONSENT_SERVICE_H_
#define CRM_SERVER_CONSENT_SERVICE_H_

#include "crm/v1/consent_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class ConsentServiceImpl final
    : public crm::v1::ConsentService::Service {
 public:
  // `core` must outlive the service.
  explicit ConsentServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status SetConsent(grpc::ServerContext* context,
                          const crm::v1::SetConsentRequest* request,
                          crm::v1::Consent* response) override;
  grpc::Status GetConsent(grpc::ServerContext* context,
                          const crm::v1::GetConsentRequest* request,
                          crm::v1::RecordConsent* response) override;
  grpc::Status ListConsentHistory(
      grpc::ServerContext* context,
      const crm::v1::ListConsentHistoryRequest* request,
      crm::v1::ListConsentHistoryResponse* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_CONSENT_SERVICE_H_
