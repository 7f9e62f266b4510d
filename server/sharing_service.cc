#include "server/sharing_service.h"

#include "absl/strings/str_cat.h"
#include "policy/evaluator.h"
#include "records/sharing.h"
#include "server/record_handler.h"

namespace crm::server {
using policy::Evaluator;

grpc::Status SharingServiceImpl::ShareRecord(
    grpc::ServerContext* context, const crm::v1::ShareRecordRequest* request,
    crm::v1::RecordShare* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.SharingService", "ShareRecord", *request,
      [&](const records::Deps& deps, const Evaluator& eval) {
        return records::ShareRecord(deps, eval, *request, response);
      });
}

grpc::Status SharingServiceImpl::UnshareRecord(
    grpc::ServerContext* context, const crm::v1::UnshareRecordRequest* request,
    google::protobuf::Empty*) {
  return RunRecordMethod(context, core_, "crm.v1.SharingService",
                         "UnshareRecord", *request,
                         [&](const records::Deps& deps, const Evaluator& eval) {
                           return records::UnshareRecord(deps, eval, *request);
                         });
}

grpc::Status SharingServiceImpl::ListRecordShares(
    grpc::ServerContext* context,
    const crm::v1::ListRecordSharesRequest* request,
    crm::v1::ListRecordSharesResponse* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.SharingService", "ListRecordShares", *request,
      [&](const records::Deps& deps, const Evaluator& eval) {
        return records::ListRecordShares(deps, eval, *request, response);
      });
}

grpc::Status SharingServiceImpl::TransferRecord(
    grpc::ServerContext* context, const crm::v1::TransferRecordRequest* request,
    crm::v1::TransferRecordResponse* response) {
  return RunRecordMethod(
      context, core_, "crm.v1.SharingService", "TransferRecord", *request,
      [&](const records::Deps& deps, const Evaluator& eval) {
        return records::TransferRecord(deps, eval, *request, response);
      });
}

}  // namespace crm::server
