// The six resource services. Each is a thin shell: every method forwards to
// the one generic RecordHandler (record_handler.h; the lifecycle itself is
// records/record_ops.h), bound to the resource's schema. There is no per-object CRUD or enforcement code; the macro only
// spells out the generated method names gRPC requires.
#ifndef CRM_SERVER_RESOURCE_SERVICES_H_
#define CRM_SERVER_RESOURCE_SERVICES_H_

#include <memory>
#include <vector>

#include "crm/v1/crm_service.grpc.pb.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "server/server_core.h"

namespace crm::server {

// Creates one service per resource, all sharing `core` (which must outlive
// them).
std::vector<std::unique_ptr<grpc::Service>> MakeResourceServices(
    ServerCore* core);

}  // namespace crm::server

#endif  // CRM_SERVER_RESOURCE_SERVICES_H_
