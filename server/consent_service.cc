#include "server/consent_service.h"

#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/consent.h"
#include "server/record_handler.h"

namespace crm::server {
grpc::Status ConsentServiceImpl::SetConsent(
    grpc::ServerContext* context, const crm::v1::SetConsentRequest* request,
    crm::v1::Consent* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.ConsentService", "SetConsent", *request,
      [&](const records::Deps& deps, const policy::Evaluator& eval) {
        return records::SetConsent(deps, eval, *request, response);
      });
}

grpc::Status ConsentServiceImpl::GetConsent(
    grpc::ServerContext* context, const crm::v1::GetConsentRequest* request,
    crm::v1::RecordConsent* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.ConsentService", "GetConsent", *request,
      [&](const records::Deps& deps, const policy::Evaluator& eval) {
        return records::GetConsent(deps, eval, *request, response);
      });
}

grpc::Status ConsentServiceImpl::ListConsentHistory(
    grpc::ServerContext* context,
    const crm::v1::ListConsentHistoryRequest* request,
    crm::v1::ListConsentHistoryResponse* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.ConsentService", "ListConsentHistory", *request,
      [&](const records::Deps& deps, const policy::Evaluator& eval) {
        return records::ListConsentHistory(deps, eval, *request, response);
      });
}

}  // namespace crm::server
