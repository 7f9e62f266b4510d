// ProvenanceService (crm/v1/provenance_service.proto): the gRPC adapter of
// records/provenance.h. Each method runs through the request pipeline
// (server/pipeline.h) with the caller's policy::Evaluator.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_PROVENANCE_SERVICE_H_
#define CRM_SERVER_PROVENANCE_SERVICE_H_

#include "crm/v1/provenance_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class ProvenanceServiceImpl final
    : public crm::v1::ProvenanceService::Service {
 public:
  // `core` must outlive the service.
  explicit ProvenanceServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status GetRecordProvenance(
      grpc::ServerContext* context,
      const crm::v1::GetRecordProvenanceRequest* request,
      crm::v1::RecordProvenance* response) override;
  grpc::Status ListFieldHistory(
      grpc::ServerContext* context,
      const crm::v1::ListFieldHistoryRequest* request,
      crm::v1::ListFieldHistoryResponse* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_PROVENANCE_SERVICE_H_
