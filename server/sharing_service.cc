#include "server/sharing_service.h"

#include "policy/evaluator.h"
#include "records/sharing.h"
#include "server/request_context.h"
#include "server/status_util.h"

namespace crm::server {
namespace {

using policy::Evaluator;

// Authenticates and runs `fn(deps, eval)` with an evaluator for the caller.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core, Fn fn) {
  auto rc = AuthenticateRequest(*context, *core);
  if (!rc.ok()) return ToGrpcStatus(rc.status());
  const Evaluator eval(core->policy->Current(), rc->principal);
  return ToGrpcStatus(fn(core->RecordDeps(), eval));
}

}  // namespace

grpc::Status SharingServiceImpl::ShareRecord(
    grpc::ServerContext* context, const crm::v1::ShareRecordRequest* request,
    crm::v1::RecordShare* response) {
  return Run(context, core_,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::ShareRecord(deps, eval, *request, response);
             });
}

grpc::Status SharingServiceImpl::UnshareRecord(
    grpc::ServerContext* context, const crm::v1::UnshareRecordRequest* request,
    google::protobuf::Empty*) {
  return Run(context, core_,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::UnshareRecord(deps, eval, *request);
             });
}

grpc::Status SharingServiceImpl::ListRecordShares(
    grpc::ServerContext* context,
    const crm::v1::ListRecordSharesRequest* request,
    crm::v1::ListRecordSharesResponse* response) {
  return Run(context, core_,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::ListRecordShares(deps, eval, *request, response);
             });
}

grpc::Status SharingServiceImpl::TransferRecord(
    grpc::ServerContext* context, const crm::v1::TransferRecordRequest* request,
    crm::v1::TransferRecordResponse* response) {
  return Run(context, core_,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::TransferRecord(deps, eval, *request, response);
             });
}

}  // namespace crm::server
