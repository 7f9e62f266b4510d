#include "server/provenance_service.h"

#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/provenance.h"
#include "server/pipeline.h"

namespace crm::server {
namespace {

// Runs `fn(deps, eval)` through the request pipeline as
// "crm.v1.ProvenanceService/{method}".
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 const char* method, const google::protobuf::Message& request,
                 Fn fn) {
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.ProvenanceService/", method), request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.decision_kind = "record"});
}

}  // namespace

grpc::Status ProvenanceServiceImpl::GetRecordProvenance(
    grpc::ServerContext* context,
    const crm::v1::GetRecordProvenanceRequest* request,
    crm::v1::RecordProvenance* response) {
  return Run(context, core_, "GetRecordProvenance", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               return records::GetRecordProvenance(deps, eval, *request,
                                                   response);
             });
}

grpc::Status ProvenanceServiceImpl::ListFieldHistory(
    grpc::ServerContext* context,
    const crm::v1::ListFieldHistoryRequest* request,
    crm::v1::ListFieldHistoryResponse* response) {
  return Run(context, core_, "ListFieldHistory", *request,
             [&](const records::Deps& deps, const policy::Evaluator& eval) {
               return records::ListFieldHistory(deps, eval, *request,
                                                response);
             });
}

}  // namespace crm::server
