// AccessReviewService (crm/v1/access_review_service.proto): the gRPC
// adapter. Every method runs through the request pipeline with
// MethodPolicy{requires_permission = VIEW_AUDIT}; the handler validates the
// request (INVALID_ARGUMENT with a BadRequest naming every bad field),
// resolves the reviewed user and service on the call's policy snapshot
// (NOT_FOUND naming a missing one) and calls records/access_review.h with
// an Evaluator bound to that user, service and snapshot.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_ACCESS_REVIEW_SERVICE_H_
#define CRM_SERVER_ACCESS_REVIEW_SERVICE_H_

#include "crm/v1/access_review_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class AccessReviewServiceImpl final
    : public crm::v1::AccessReviewService::Service {
 public:
  // `core` must outlive the service.
  explicit AccessReviewServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status ExplainAccess(grpc::ServerContext* context,
                             const crm::v1::ExplainAccessRequest* request,
                             crm::v1::AccessExplanation* response) override;
  grpc::Status ListRecordAccessors(
      grpc::ServerContext* context,
      const crm::v1::ListRecordAccessorsRequest* request,
      crm::v1::ListRecordAccessorsResponse* response) override;
  grpc::Status SummarizeUserAccess(
      grpc::ServerContext* context,
      const crm::v1::SummarizeUserAccessRequest* request,
      crm::v1::UserAccessSummary* response) override;
  grpc::Status EffectivePermissions(
      grpc::ServerContext* context,
      const crm::v1::EffectivePermissionsRequest* request,
      crm::v1::EffectivePermissionsResponse* response) override;
  grpc::Status ExportAccessMatrix(
      grpc::ServerContext* context,
      const crm::v1::ExportAccessMatrixRequest* request,
      grpc::ServerWriter<crm::v1::AccessMatrixChunk>* writer) override;
  grpc::Status GetAccessReviewReport(
      grpc::ServerContext* context,
      const crm::v1::GetAccessReviewReportRequest* request,
      crm::v1::AccessReviewReport* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_ACCESS_REVIEW_SERVICE_H_
