// DataInventoryService (crm/v1/data_inventory_service.proto): the gRPC
// adapter of records/data_inventory.h. GetDataInventory runs through the
// request pipeline (server/pipeline.h) with the system permission
// PRIVACY_OPERATIONS and is audited as [privacy.inventory]; the report is
// computed from the call's own policy snapshot (the one it was authorized
// with), the server's erasure rules and its configured retention rules.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_DATA_INVENTORY_SERVICE_H_
#define CRM_SERVER_DATA_INVENTORY_SERVICE_H_

#include "crm/v1/data_inventory_service.grpc.pb.h"
#include "server/server_core.h"

namespace crm::server {

class DataInventoryServiceImpl final
    : public crm::v1::DataInventoryService::Service {
 public:
  // `core` must outlive the service.
  explicit DataInventoryServiceImpl(ServerCore* core) : core_(core) {}

  grpc::Status GetDataInventory(grpc::ServerContext* context,
                                const crm::v1::GetDataInventoryRequest* request,
                                crm::v1::DataInventory* response) override;

 private:
  ServerCore* core_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_DATA_INVENTORY_SERVICE_H_
