#include "server/auth_service.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "auth/authenticator.h"
#include "policy/evaluator.h"
#include "policy/system_permission.h"
#include "server/admin_support.h"
#include "server/pipeline.h"
#include "server/log.h"
#include "server/request_context.h"
#include "server/status_util.h"

namespace crm::server {
namespace {

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

void FillUser(const auth::AuthenticatedUser& user, crm::v1::User* out) {
  out->set_name(absl::StrCat("users/", user.user_id));
  out->set_username(user.username);
  out->set_display_name(user.display_name);
  out->set_profile(absl::StrCat("profiles/", user.profile_id));
  out->set_profile_display_name(user.profile_name);
  out->set_time_zone(user.time_zone);
}

std::string Who(const RequestContext& rc) {
  return rc.user.has_value()
             ? absl::StrCat("services/", rc.principal.service, " acting for ",
                            rc.principal.ResourceName())
             : rc.principal.ResourceName();
}

// The user named by "users/{id}" or by username. NOT_FOUND naming it.
absl::StatusOr<store::UserWithProfile> FindTarget(const ServerCore& core,
                                                  const std::string& name,
                                                  const std::string& username) {
  if (name.empty() == username.empty()) {
    return absl::InvalidArgumentError(
        "set exactly one of user (\"users/{id}\") and username");
  }
  store::IdentityStore& store = core.authn->identities();
  absl::StatusOr<std::optional<store::UserWithProfile>> found;
  std::string label;
  if (!name.empty()) {
    absl::string_view id = name;
    if (!absl::ConsumePrefix(&id, "users/") || id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user: '", name, "' is not a user name; expected \"users/{id}\""));
    }
    found = store.FindUserById(id);
    label = name;
  } else {
    found = store.FindUserByUsername(auth::NormalizeUsername(username));
    label = absl::StrCat("user '", username, "'");
  }
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(absl::StrCat(label, " not found"));
  }
  return **std::move(found);
}

}  // namespace

grpc::Status AuthServiceImpl::Login(grpc::ServerContext* context,
                                    const crm::v1::LoginRequest* request,
                                    crm::v1::LoginResponse* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuthService/Login", *request,
      [&](const Call& call) -> absl::Status {
        const RequestContext& rc = call.context();
        (*call.audit().mutable_attributes())["username"] = request->username();
        // The profile's restrictions as compiled in the call's snapshot.
        auto result = core_->authn->authenticator().Login(
            request->username(), request->password(), rc.principal.service,
            rc.client_address, call.evaluator().snapshot());
        LogInfo("auth.login",
                {{"service", rc.principal.service},
                 {"username", request->username()},
                 {"client_address", rc.client_address.ToString()},
                 {"result", result.ok() ? "ok" : result.status().ToString()}});
        if (!result.ok()) return result.status();
        call.audit().set_actor_user(absl::StrCat("users/", result->user.user_id));
        call.audit().set_resource(absl::StrCat("users/", result->user.user_id));
        response->set_session_token(result->token);
        SetTimestamp(result->expire_time, response->mutable_expire_time());
        FillUser(result->user, response->mutable_user());
        return absl::OkStatus();
      },
      {.decision_kind = "login", .audit_action = "login"});
}

grpc::Status AuthServiceImpl::Logout(grpc::ServerContext* context,
                                     const crm::v1::LogoutRequest* request,
                                     google::protobuf::Empty* /*response*/) {
  return core_->pipeline->Run(
      context, "crm.v1.AuthService/Logout", *request,
      [&](const Call& call) -> absl::Status {
        const RequestContext& rc = call.context();
        if (!rc.user.has_value()) {
          return absl::UnauthenticatedError(
              "Logout needs the session to end: send its token as "
              "'authorization: Bearer <token>'");
        }
        absl::Status s = core_->authn->sessions().Logout(rc.user->token_hash);
        LogInfo("auth.logout", {{"service", rc.principal.service},
                                {"user", rc.principal.ResourceName()},
                                {"result", s.ok() ? "ok" : s.ToString()}});
        return s;
      },
      {.audit_action = "logout"});
}

grpc::Status AuthServiceImpl::WhoAmI(grpc::ServerContext* context,
                                     const crm::v1::WhoAmIRequest* request,
                                     crm::v1::WhoAmIResponse* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuthService/WhoAmI", *request,
      [&](const Call& call) -> absl::Status {
        const RequestContext& rc = call.context();
        response->set_service(absl::StrCat("services/", rc.principal.service));
        response->set_acting_for_user(rc.user.has_value());
        response->set_client_address(rc.client_address.ToString());
        if (rc.user.has_value()) {
          FillUser(*rc.user, response->mutable_user());
          SetTimestamp(rc.user->session_expire_time,
                       response->mutable_session_expire_time());
        }
        // Exactly what the pipeline enforces for admin methods: the same
        // Evaluator, bound to the same snapshot, for this very call.
        for (crm::v1::SystemPermission p :
             call.evaluator().SystemPermissions()) {
          response->add_system_permissions(policy::SystemPermissionName(p));
        }
        return absl::OkStatus();
      });
}

grpc::Status AuthServiceImpl::RevokeUserSessions(
    grpc::ServerContext* context,
    const crm::v1::RevokeUserSessionsRequest* request,
    crm::v1::RevokeUserSessionsResponse* response) {
  return core_->pipeline->Run(
      context, "crm.v1.AuthService/RevokeUserSessions", *request,
      [&](const Call& call) -> absl::Status {
        auto target = FindTarget(*core_, request->user(), request->username());
        if (!target.ok()) return target.status();
        auto n = core_->authn->sessions().RevokeUserSessions(target->user.id);
        if (!n.ok()) return n.status();
        LogInfo("auth.sessions_revoked",
                {{"by", Who(call.context())},
                 {"user", "users/" + target->user.id},
                 {"count", absl::StrCat(*n)}});
        response->set_revoked_count(*n);
        call.audit().set_resource("users/" + target->user.id);
        (*call.audit().mutable_attributes())["count"] = absl::StrCat(*n);
        return absl::OkStatus();
      },
      {.requires_permission = crm::v1::MANAGE_USERS,
       .decision_kind = "system",
       .audit_action = "sessions.revoke"});
}

grpc::Status AuthServiceImpl::UnlockUser(
    grpc::ServerContext* context, const crm::v1::UnlockUserRequest* request,
    google::protobuf::Empty* /*response*/) {
  return core_->pipeline->Run(
      context, "crm.v1.AuthService/UnlockUser", *request,
      [&](const Call& call) -> absl::Status {
        auto target = FindTarget(*core_, request->user(), request->username());
        if (!target.ok()) return target.status();
        absl::Status s = core_->authn->authenticator().Unlock(target->user.id);
        LogInfo("auth.user_unlocked",
                {{"by", Who(call.context())},
                 {"user", "users/" + target->user.id},
                 {"result", s.ok() ? "ok" : s.ToString()}});
        call.audit().set_resource("users/" + target->user.id);
        return s;
      },
      {.requires_permission = crm::v1::MANAGE_USERS,
       .decision_kind = "system",
       .audit_action = "users.unlock"});
}

}  // namespace crm::server
