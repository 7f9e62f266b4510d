// AuthService (proto/crm/v1/auth_service.proto): Login, Logout, WhoAmI and
// the admin calls RevokeUserSessions and UnlockUser. Thin: authentication
// of the call is AuthenticateRequest, the logic is in auth/.
//
// Thread-safety: stateless beyond the ServerCore; serves concurrent calls.
#ifndef CRM_SERVER_AUTH_SERVICE_H_
#define CRM_SERVER_AUTH_SERVICE_H_

#include <memory>

#include "crm/v1/auth_service.grpc.pb.h"
#include "server/policy_loader.h"
#include "server/server_core.h"

namespace crm::server {

class AuthServiceImpl final : public crm::v1::AuthService::Service {
 public:
  // `core` must outlive the service; core->authn must be set.
  // `loader` gives the installed policy, for the manage_users check of the
  // admin methods (server/admin_support.h).
  AuthServiceImpl(const ServerCore* core,
                  std::shared_ptr<const PolicyLoader> loader)
      : core_(core), loader_(std::move(loader)) {}

  grpc::Status Login(grpc::ServerContext* context,
                     const crm::v1::LoginRequest* request,
                     crm::v1::LoginResponse* response) override;
  grpc::Status Logout(grpc::ServerContext* context,
                      const crm::v1::LogoutRequest* request,
                      google::protobuf::Empty* response) override;
  grpc::Status WhoAmI(grpc::ServerContext* context,
                      const crm::v1::WhoAmIRequest* request,
                      crm::v1::WhoAmIResponse* response) override;
  grpc::Status RevokeUserSessions(
      grpc::ServerContext* context,
      const crm::v1::RevokeUserSessionsRequest* request,
      crm::v1::RevokeUserSessionsResponse* response) override;
  grpc::Status UnlockUser(grpc::ServerContext* context,
                          const crm::v1::UnlockUserRequest* request,
                          google::protobuf::Empty* response) override;

 private:
  const ServerCore* core_;
  std::shared_ptr<const PolicyLoader> loader_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_AUTH_SERVICE_H_
