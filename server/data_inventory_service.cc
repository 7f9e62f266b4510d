#include "server/data_inventory_service.h"

#include "absl/strings/str_cat.h"
#include "records/data_inventory.h"
#include "records/privacy.h"
#include "server/pipeline.h"

namespace crm::server {

grpc::Status DataInventoryServiceImpl::GetDataInventory(
    grpc::ServerContext* context,
    const crm::v1::GetDataInventoryRequest* request,
    crm::v1::DataInventory* response) {
  return core_->pipeline->Run(
      context, "crm.v1.DataInventoryService/GetDataInventory", *request,
      [&](const Call& call) {
        const policy::PolicySnapshot* snapshot = call.evaluator().snapshot();
        if (snapshot == nullptr) {
          return absl::UnavailableError(
              "no access policy is loaded; retry later");
        }
        absl::Status s = records::BuildDataInventory(
            *snapshot, records::DefaultErasureRules(),
            core_->config.privacy().retention_rules(), *request,
            core_->clock->Now(), response);
        if (s.ok()) {
          auto& attributes = *call.audit().mutable_attributes();
          attributes["policy_version"] =
              absl::StrCat(response->policy_version());
          attributes["objects"] = absl::StrCat(response->objects_size());
          attributes["flagged_fields"] =
              absl::StrCat(response->flagged_fields());
        }
        return s;
      },
      {.requires_permission = crm::v1::PRIVACY_OPERATIONS,
       .decision_kind = "system",
       .audit_action = "privacy.inventory"});
}

}  // namespace crm::server
