#include "server/consent_service.h"

#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/consent.h"
#include "server/pipeline.h"

namespace crm::server {
namespace {

// Runs `fn(deps, eval)` through the request pipeline as
// "crm.v1.ConsentService/{method}".
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 const char* method, const google::protobuf::Message& request,
                 Fn fn) {
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.ConsentService/", method), request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.decision_kind = "record"});
}

}  // namespace

grpc::Status ConsentServiceImpl::SetConsent(
    grpc::ServerContext* context, const crm::v1::SetConsentRequest* request,
    crm::v1::Consent* response) {
  return Run(context, core_, "SetConsent", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               return records::SetConsent(deps, eval, *request, response);
             });
}

grpc::Status ConsentServiceImpl::GetConsent(
    grpc::ServerContext* context, const crm::v1::GetConsentRequest* request,
    crm::v1::RecordConsent* response) {
  return Run(context, core_, "GetConsent", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               return records::GetConsent(deps, eval, *request, response);
             });
}

grpc::Status ConsentServiceImpl::ListConsentHistory(
    grpc::ServerContext* context,
    const crm::v1::ListConsentHistoryRequest* request,
    crm::v1::ListConsentHistoryResponse* response) {
  return Run(context, core_, "ListConsentHistory", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               return records::ListConsentHistory(deps, eval, *request,
                                                  response);
             });
}

}  // namespace crm::server
