#include "server/sharing_service.h"

#include "policy/evaluator.h"
#include "records/sharing.h"
#include "absl/strings/str_cat.h"
#include "server/pipeline.h"

namespace crm::server {
namespace {

using policy::Evaluator;

// Runs `fn(deps, eval)` through the request pipeline as
// "crm.v1.SharingService/{method}".
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context, ServerCore* core,
                 const char* method, const google::protobuf::Message& request,
                 Fn fn) {
  const records::Deps deps = core->RecordDeps();
  return core->pipeline->Run(
      context, absl::StrCat("crm.v1.SharingService/", method), request,
      [&](const Call& call) { return fn(deps, call.evaluator()); },
      {.decision_kind = "record"});
}

}  // namespace

grpc::Status SharingServiceImpl::ShareRecord(
    grpc::ServerContext* context, const crm::v1::ShareRecordRequest* request,
    crm::v1::RecordShare* response) {
  return Run(context, core_, "ShareRecord", *request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::ShareRecord(deps, eval, *request, response);
             });
}

grpc::Status SharingServiceImpl::UnshareRecord(
    grpc::ServerContext* context, const crm::v1::UnshareRecordRequest* request,
    google::protobuf::Empty*) {
  return Run(context, core_, "UnshareRecord", *request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::UnshareRecord(deps, eval, *request);
             });
}

grpc::Status SharingServiceImpl::ListRecordShares(
    grpc::ServerContext* context,
    const crm::v1::ListRecordSharesRequest* request,
    crm::v1::ListRecordSharesResponse* response) {
  return Run(context, core_, "ListRecordShares", *request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::ListRecordShares(deps, eval, *request, response);
             });
}

grpc::Status SharingServiceImpl::TransferRecord(
    grpc::ServerContext* context, const crm::v1::TransferRecordRequest* request,
    crm::v1::TransferRecordResponse* response) {
  return Run(context, core_, "TransferRecord", *request,
             [&](const records::Deps& deps, const Evaluator& eval) {
               return records::TransferRecord(deps, eval, *request, response);
             });
}

}  // namespace crm::server
