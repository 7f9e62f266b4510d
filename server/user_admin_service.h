// UserAdminService (crm/v1/user_admin_service.proto): create, read, update
// and delete users and profiles. Thin: validation rules are auth/'s
// (account_rules.h, system_permissions.h) and, for a profile's login
// restrictions, the policy compiler's (policy/profile_restrictions.h: every
// problem reported as a field violation before anything is written), storage
// is store::IdentityStore, and every write goes through WritePolicyRows
// (server/admin_support.h): policy version bumped first, the would-be policy
// compiled in the write's transaction, installed after the commit.
//
// Passwords are hashed here (Argon2id with the server's AuthSettings) and
// never returned or logged.
//
// Thread-safety: immutable after construction; serves concurrent calls.
#ifndef CRM_SERVER_USER_ADMIN_SERVICE_H_
#define CRM_SERVER_USER_ADMIN_SERVICE_H_

#include <memory>

#include "crm/v1/user_admin_service.grpc.pb.h"
#include "server/policy_loader.h"
#include "server/server_core.h"

namespace crm::server {

class UserAdminServiceImpl final : public crm::v1::UserAdminService::Service {
 public:
  // `core` must outlive the service (core->authn set); the loader is shared
  // with the server and the policy admin service.
  UserAdminServiceImpl(ServerCore* core, std::shared_ptr<PolicyLoader> loader)
      : core_(core), loader_(std::move(loader)) {}

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const crm::v1::CreateUserRequest* request,
                          crm::v1::User* response) override;
  grpc::Status GetUser(grpc::ServerContext* context,
                       const crm::v1::GetUserRequest* request,
                       crm::v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const crm::v1::ListUsersRequest* request,
                         crm::v1::ListUsersResponse* response) override;
  grpc::Status UpdateUser(grpc::ServerContext* context,
                          const crm::v1::UpdateUserRequest* request,
                          crm::v1::User* response) override;
  grpc::Status SetUserPassword(grpc::ServerContext* context,
                               const crm::v1::SetUserPasswordRequest* request,
                               google::protobuf::Empty* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const crm::v1::DeleteUserRequest* request,
                          google::protobuf::Empty* response) override;

  grpc::Status CreateProfile(grpc::ServerContext* context,
                             const crm::v1::CreateProfileRequest* request,
                             crm::v1::Profile* response) override;
  grpc::Status GetProfile(grpc::ServerContext* context,
                          const crm::v1::GetProfileRequest* request,
                          crm::v1::Profile* response) override;
  grpc::Status ListProfiles(grpc::ServerContext* context,
                            const crm::v1::ListProfilesRequest* request,
                            crm::v1::ListProfilesResponse* response) override;
  grpc::Status UpdateProfile(grpc::ServerContext* context,
                             const crm::v1::UpdateProfileRequest* request,
                             crm::v1::Profile* response) override;
  grpc::Status DeleteProfile(grpc::ServerContext* context,
                             const crm::v1::DeleteProfileRequest* request,
                             google::protobuf::Empty* response) override;

 private:
  ServerCore* core_;
  std::shared_ptr<PolicyLoader> loader_;
};

}  // namespace crm::server

#endif  // CRM_SERVER_USER_ADMIN_SERVICE_H_
