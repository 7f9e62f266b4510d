// SharingService (crm/v1/sharing_service.proto): the gRPC adapter of
// records/sharing.h (manual shares and ownership transfer of single records
// of any collection). Each method authenticates the call, builds the
// policy::Evaluator for the caller and maps the records/ status to gRPC.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_SHARING_SERVICE_H_
#define CRM_SERVER_SHARING_SERVICE_H_

#include "crm/v1/sharing_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class SharingServiceImpl final : public crm::v1::SharingService::Service {
 public:
  // `core` must outlive the service.
  explicit SharingServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status ShareRecord(grpc::ServerContext* context,
                           const crm::v1::ShareRecordRequest* request,
                           crm::v1::RecordShare* response) override;
  grpc::Status UnshareRecord(grpc::ServerContext* context,
                             const crm::v1::UnshareRecordRequest* request,
                             google::protobuf::Empty* response) override;
  grpc::Status ListRecordShares(
      grpc::ServerContext* context,
      const crm::v1::ListRecordSharesRequest* request,
      crm::v1::ListRecordSharesResponse* response) override;
  grpc::Status TransferRecord(
      grpc::ServerContext* context,
      const crm::v1::TransferRecordRequest* request,
      crm::v1::TransferRecordResponse* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_SHARING_SERVICE_H_
