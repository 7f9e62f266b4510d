// PolicyAdminService (crm/v1/admin_service.proto): generic CRUD over the
// stored policy objects (policy_admin_service.cc), whole bundles planned and
// applied, and the policy's history (policy_bundle_service.cc); every write
// validated by compiling the would-be policy in the write's transaction,
// and installed (PolicyLoader::Install) right after the commit so the very
// next request sees it.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_POLICY_ADMIN_SERVICE_H_
#define CRM_SERVER_POLICY_ADMIN_SERVICE_H_

#include <memory>

#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "policy/principal.h"
#include "server/admin_support.h"
#include "server/pipeline.h"
#include "server/policy_loader.h"
#include "server/server_core.h"

namespace crm::server {

// Runs one PolicyAdminService method (`method` without the service,
// "PlanPolicy") through the request pipeline, which checks `permission`
// (Evaluator::CheckSystem) before `handler` runs. The one way in for the
// files that implement the service (policy_admin_service.cc,
// policy_bundle_service.cc, shadow_policy_service.cc).
grpc::Status RunPolicyAdminMethod(grpc::ServerContext* context,
                                  const google::protobuf::Message& request,
                                  const ServerCore& core,
                                  absl::string_view method,
                                  crm::v1::SystemPermission permission,
                                  Pipeline::Handler handler);

class PolicyAdminServiceImpl final
    : public crm::v1::PolicyAdminService::Service {
 public:
  // `core` must outlive the service; the loader is shared with the server
  // (its refresh thread stops when the last owner lets go).
  PolicyAdminServiceImpl(ServerCore* core,
                         std::shared_ptr<PolicyLoader> loader)
      : core_(core), loader_(std::move(loader)) {}

  grpc::Status CreatePolicyObject(
      grpc::ServerContext* context,
      const crm::v1::CreatePolicyObjectRequest* request,
      crm::v1::PolicyObject* response) override;
  grpc::Status GetPolicyObject(grpc::ServerContext* context,
                               const crm::v1::GetPolicyObjectRequest* request,
                               crm::v1::PolicyObject* response) override;
  grpc::Status ListPolicyObjects(
      grpc::ServerContext* context,
      const crm::v1::ListPolicyObjectsRequest* request,
      crm::v1::ListPolicyObjectsResponse* response) override;
  grpc::Status UpdatePolicyObject(
      grpc::ServerContext* context,
      const crm::v1::UpdatePolicyObjectRequest* request,
      crm::v1::PolicyObject* response) override;
  grpc::Status DeletePolicyObject(
      grpc::ServerContext* context,
      const crm::v1::DeletePolicyObjectRequest* request,
      google::protobuf::Empty* response) override;

  // Policy as files (policy_bundle_service.cc).
  grpc::Status PlanPolicy(grpc::ServerContext* context,
                          const crm::v1::PlanPolicyRequest* request,
                          crm::v1::PolicyPlan* response) override;
  grpc::Status ApplyPolicy(grpc::ServerContext* context,
                           const crm::v1::ApplyPolicyRequest* request,
                           crm::v1::ApplyPolicyResponse* response) override;
  grpc::Status ListPolicyVersions(
      grpc::ServerContext* context,
      const crm::v1::ListPolicyVersionsRequest* request,
      crm::v1::ListPolicyVersionsResponse* response) override;
  grpc::Status GetPolicyVersion(
      grpc::ServerContext* context,
      const crm::v1::GetPolicyVersionRequest* request,
      crm::v1::PolicyVersionBundle* response) override;
  grpc::Status DiffPolicyVersions(
      grpc::ServerContext* context,
      const crm::v1::DiffPolicyVersionsRequest* request,
      crm::v1::DiffPolicyVersionsResponse* response) override;

  // Shadow policy (shadow_policy_service.cc).
  grpc::Status SetShadowPolicy(grpc::ServerContext* context,
                               const crm::v1::SetShadowPolicyRequest* request,
                               crm::v1::ShadowPolicyStatus* response) override;
  grpc::Status GetShadowPolicy(grpc::ServerContext* context,
                               const crm::v1::GetShadowPolicyRequest* request,
                               crm::v1::ShadowPolicyStatus* response) override;
  grpc::Status ClearShadowPolicy(
      grpc::ServerContext* context,
      const crm::v1::ClearShadowPolicyRequest* request,
      crm::v1::ShadowPolicyStatus* response) override;

  PolicyLoader& loader() { return *loader_; }

 private:
  ServerCore* core_;
  std::shared_ptr<PolicyLoader> loader_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_POLICY_ADMIN_SERVICE_H_
