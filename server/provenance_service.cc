#include "server/provenance_service.h"

#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/provenance.h"
#include "server/record_handler.h"

namespace crm::server {
grpc::Status ProvenanceServiceImpl::GetRecordProvenance(
    grpc::ServerContext* context,
    const crm::v1::GetRecordProvenanceRequest* request,
    crm::v1::RecordProvenance* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.ProvenanceService", "GetRecordProvenance",
      *request, [&](const records::Deps& deps, const policy::Evaluator& eval) {
        return records::GetRecordProvenance(deps, eval, *request, response);
      });
}

grpc::Status ProvenanceServiceImpl::ListFieldHistory(
    grpc::ServerContext* context,
    const crm::v1::ListFieldHistoryRequest* request,
    crm::v1::ListFieldHistoryResponse* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.ProvenanceService", "ListFieldHistory", *request,
      [&](const records::Deps& deps, const policy::Evaluator& eval) {
        return records::ListFieldHistory(deps, eval, *request, response);
      });
}

}  // namespace crm::server
