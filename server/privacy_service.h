// PrivacyService (crm/v1/privacy_service.proto): the gRPC adapter of
// records/privacy.h. Each method runs through the request pipeline
// (server/pipeline.h) with the system permission PRIVACY_OPERATIONS.
//
// Keys: the pseudonym key is derived from the server's master key
// (ServerCore::master_key) and receipts are signed with the audit signer
// (ServerCore::audit). A server with no master key (no sensitive field in
// the schema) answers FAILED_PRECONDITION.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_PRIVACY_SERVICE_H_
#define CRM_SERVER_PRIVACY_SERVICE_H_

#include <optional>

#include "absl/status/statusor.h"
#include "crm/v1/privacy_service.grpc.pb.h"
#include "records/privacy.h"
#include "server/server_core.h"

namespace crm::server {

class PrivacyServiceImpl final : public crm::v1::PrivacyService::Service {
 public:
  // `core` must outlive the service; its master key and audit log are read
  // here, once.
  explicit PrivacyServiceImpl(ServerCore* core);

  grpc::Status ExportSubject(grpc::ServerContext* context,
                             const crm::v1::ExportSubjectRequest* request,
                             crm::v1::ExportSubjectResponse* response) override;
  grpc::Status EraseSubject(grpc::ServerContext* context,
                            const crm::v1::EraseSubjectRequest* request,
                            crm::v1::EraseSubjectResponse* response) override;
  grpc::Status GetErasureReceipt(
      grpc::ServerContext* context,
      const crm::v1::GetErasureReceiptRequest* request,
      crm::v1::ErasureReceipt* response) override;
  grpc::Status GetErasureRules(grpc::ServerContext* context,
                               const crm::v1::GetErasureRulesRequest* request,
                               crm::v1::ErasureRules* response) override;
  grpc::Status PreviewRetention(grpc::ServerContext* context,
                                const crm::v1::PreviewRetentionRequest* request,
                                crm::v1::RetentionReport* response) override;
  grpc::Status RunRetention(grpc::ServerContext* context,
                            const crm::v1::RunRetentionRequest* request,
                            crm::v1::RetentionRun* response) override;
  grpc::Status ListRetentionRuns(
      grpc::ServerContext* context,
      const crm::v1::ListRetentionRunsRequest* request,
      crm::v1::ListRetentionRunsResponse* response) override;

 private:
  ServerCore* core_;
  absl::StatusOr<records::PrivacyKeys> keys_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_PRIVACY_SERVICE_H_
