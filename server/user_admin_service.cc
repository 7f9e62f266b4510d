#include "server/user_admin_service.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "auth/account_rules.h"
#include "auth/authenticator.h"
#include "auth/password_hasher.h"
#include "auth/system_permissions.h"
#include "base/error.h"
#include "google/protobuf/util/time_util.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "policy/profile_restrictions.h"
#include "server/admin_support.h"
#include "server/profile_fields.h"
#include "server/log.h"
#include "server/pipeline.h"
#include "server/request_context.h"
#include "server/status_util.h"
#include "store/identity_store.h"

namespace crm::server {
namespace {

using crm::internal::PolicyState;
using crm::v1::Profile;
using crm::v1::User;
using google::protobuf::util::TimeUtil;

constexpr size_t kMaxDisplayNameBytes = 200;
constexpr int kMaxUsersShown = 10;

// --- Names ----------------------------------------------------------------

// "{prefix}/{id}" -> id. INVALID_ARGUMENT naming `field` and the form.
absl::StatusOr<std::string> IdOf(absl::string_view name,
                                 absl::string_view prefix,
                                 absl::string_view field) {
  absl::string_view id = name;
  if (absl::ConsumePrefix(&id, prefix) && absl::ConsumePrefix(&id, "/") &&
      model::IsValidRecordId(id)) {
    return std::string(id);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": '", name, "' is not a name of the form \"", prefix,
      "/{id}\" (id: 1-64 characters [A-Za-z0-9_-])"));
}

absl::Status CheckNewId(absl::string_view id, absl::string_view field) {
  if (model::IsValidRecordId(id)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": '", id, "' is not a valid id; use 1-64 characters "
      "[A-Za-z0-9_-]"));
}

absl::Status CheckDisplayName(absl::string_view value, absl::string_view field,
                              bool required) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (value.size() > kMaxDisplayNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": at most ", kMaxDisplayNameBytes, " bytes"));
  }
  return absl::OkStatus();
}

// "" or "roles/{id}" -> "" or the id.
absl::StatusOr<std::string> RoleIdOf(absl::string_view role) {
  if (role.empty()) return std::string();
  return IdOf(role, "roles", "user.role");
}

// --- Update masks -----------------------------------------------------------

// The paths of `mask`, each one of `allowed` ("*" = all of them).
// INVALID_ARGUMENT for an empty mask or an unknown path.
absl::StatusOr<std::set<std::string>> MaskPaths(
    const google::protobuf::FieldMask& mask,
    const std::vector<std::string>& allowed) {
  const std::string known = absl::StrJoin(allowed, ", ");
  if (mask.paths().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "update_mask: name the fields to change (", known, ", or \"*\")"));
  }
  std::set<std::string> out;
  for (const std::string& path : mask.paths()) {
    if (path == "*") {
      out.insert(allowed.begin(), allowed.end());
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), path) == allowed.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("update_mask: '", path,
                       "' cannot be changed here; use ", known, " or \"*\""));
    }
    out.insert(path);
  }
  return out;
}

// --- Users ------------------------------------------------------------------

void SetTime(int64_t micros, google::protobuf::Timestamp* out) {
  *out = TimeUtil::MicrosecondsToTimestamp(micros);
}

User ToUser(const store::UserWithProfile& up, int64_t now) {
  const store::UserRow& u = up.user;
  User out;
  out.set_name(absl::StrCat("users/", u.id));
  out.set_username(u.username);
  out.set_display_name(u.display_name);
  out.set_profile(absl::StrCat("profiles/", u.profile_id));
  out.set_profile_display_name(up.profile.name);
  out.set_time_zone(u.time_zone);
  out.set_active(u.active);
  if (!u.role_id.empty()) out.set_role(absl::StrCat("roles/", u.role_id));
  out.set_locked(u.locked_until > now);
  SetTime(u.create_time, out.mutable_create_time());
  SetTime(u.update_time, out.mutable_update_time());
  out.set_etag(model::EtagOf(u.version));
  return out;
}

// What a user's audit event describes beyond the policy state (username,
// display name, time zone, ...): the User without its derived and output
// fields.
User Audited(const store::UserRow& row) {
  User out = ToUser({row, {}}, 0);
  out.clear_profile_display_name();
  out.clear_locked();
  out.clear_create_time();
  out.clear_update_time();
  out.clear_etag();
  return out;
}

// Copies the fields of `in` named in `paths` into `row`, validating each.
absl::Status ApplyUserFields(const User& in, const std::set<std::string>& paths,
                             store::UserRow* row) {
  if (paths.count("display_name")) {
    absl::Status s =
        CheckDisplayName(in.display_name(), "user.display_name", false);
    if (!s.ok()) return s;
    row->display_name = in.display_name();
  }
  if (paths.count("active")) row->active = in.active();
  if (paths.count("profile")) {
    auto id = IdOf(in.profile(), "profiles", "user.profile");
    if (!id.ok()) return id.status();
    row->profile_id = *id;
  }
  if (paths.count("role")) {
    auto id = RoleIdOf(in.role());
    if (!id.ok()) return id.status();
    row->role_id = *id;
  }
  if (paths.count("time_zone")) {
    absl::Status s = auth::ValidateTimeZone(in.time_zone(), "user.time_zone");
    if (!s.ok()) return s;
    row->time_zone = in.time_zone();
  }
  return absl::OkStatus();
}

const std::vector<std::string>& UserPaths() {
  static const auto* paths = new std::vector<std::string>{
      "display_name", "active", "profile", "role", "time_zone"};
  return *paths;
}

// INVALID_ARGUMENT unless the profile exists (read in the write's
// transaction).
absl::Status ProfileMustExist(store::IdentityStore& store,
                              store::Session& session,
                              const std::string& profile_id) {
  auto found = store.FindProfileById(session, profile_id);
  if (!found.ok()) return found.status();
  if (found->has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "user.profile: profiles/", profile_id,
      " does not exist; use ListProfiles or create it with CreateProfile"));
}

// The check of a user write: its role must exist in the policy.
StateCheck RoleMustExist(const std::string& role_id) {
  return [role_id](const PolicyState& state) -> absl::Status {
    if (role_id.empty()) return absl::OkStatus();
    const std::string name = absl::StrCat("roles/", role_id);
    for (const auto& role : state.roles()) {
      if (role.name() == name) return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "user.role: ", name, " does not exist; create it with "
        "PolicyAdminService or leave role empty"));
  };
}

absl::StatusOr<store::UserWithProfile> FindUser(store::IdentityStore& store,
                                                const std::string& id) {
  auto found = store.FindUserById(id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(absl::StrCat("users/", id, " not found"));
  }
  return **std::move(found);
}

// FAILED_PRECONDITION when the caller is acting for `user_id` (no one may
// deactivate or delete themselves and lock the door behind them).
absl::Status NotSelf(const RequestContext& rc, const std::string& user_id,
                     absl::string_view what) {
  if (rc.principal.user_id != user_id) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "you cannot ", what, " yourself (users/", user_id,
      "); ask another administrator"));
}

// --- Profiles ---------------------------------------------------------------

absl::StatusOr<store::ProfileRow> FindProfile(store::IdentityStore& store,
                                              const std::string& id) {
  auto found = store.FindProfileById(id);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(absl::StrCat("profiles/", id, " not found"));
  }
  return **std::move(found);
}

// A unique violation of a profile write: the id was checked first, so it is
// the display name.
absl::Status ExplainProfileConflict(absl::Status s,
                                    const store::ProfileRow& row) {
  if (!absl::IsAlreadyExists(s)) return s;
  return absl::AlreadyExistsError(absl::StrCat(
      "profile.display_name: '", row.name,
      "' is already the name of another profile (or profiles/", row.id,
      " exists); choose another"));
}

// --- The prologue of every method -------------------------------------------

// Every method runs through the request pipeline, which checks `p`
// (Evaluator::CheckSystem) before `fn` runs.
template <typename Fn>
grpc::Status Run(grpc::ServerContext* context,
                 const google::protobuf::Message& request,
                 const ServerCore& core, const PolicyLoader& /*loader*/,
                 crm::v1::SystemPermission p, const char* method, Fn fn) {
  return core.pipeline->Run(
      context, absl::StrCat("crm.v1.UserAdminService/", method), request,
      [&](const Call& call) -> absl::Status {
        std::string target;  // what a write changed, for the log
        absl::Status s = fn(call.context(), &target);
        if (!target.empty()) {
          // Never the request: it may carry a password.
          LogInfo("user_admin.changed",
                  {{"method", method},
                   {"principal", call.principal().ResourceName()},
                   {"service", call.principal().service},
                   {"target", target},
                   {"result", s.ok() ? "ok"
                                     : std::string(absl::StatusCodeToString(
                                           s.code()))}});
        }
        if (!target.empty()) call.audit().set_resource(target);
        return s;
      },
      // Other writes are audited in their policy transaction (a diff of
      // the policy state); a password change is not part of the policy, so
      // the pipeline records it (without the password, of course).
      {.requires_permission = p,
       .decision_kind = "system",
       .audit_action = absl::string_view(method) == "SetUserPassword"
                           ? "users.set_password"
                           : ""});
}

}  // namespace

// --- Users ------------------------------------------------------------------

grpc::Status UserAdminServiceImpl::CreateUser(
    grpc::ServerContext* context, const crm::v1::CreateUserRequest* request,
    crm::v1::User* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS, "CreateUser",
             [&](const RequestContext&, std::string* target) -> absl::Status {
    const User& in = request->user();
    if (absl::Status s = CheckNewId(request->user_id(), "user_id"); !s.ok()) {
      return s;
    }
    if (absl::Status s = auth::ValidateUsername(in.username()); !s.ok()) {
      return s;
    }
    store::UserRow row;
    row.id = request->user_id();
    row.username = auth::NormalizeUsername(in.username());
    if (absl::Status s = ApplyUserFields(in, {UserPaths().begin(),
                                              UserPaths().end()}, &row);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            auth::ValidateNewPassword(request->password(), row.username);
        !s.ok()) {
      return s;
    }
    *target = absl::StrCat("users/", row.id);
    store::IdentityStore& store = core_->authn->identities();
    auto by_id = store.FindUserById(row.id);
    if (!by_id.ok()) return by_id.status();
    if (by_id->has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(*target, " already exists"));
    }
    auto by_name = store.FindUserByUsername(row.username);
    if (!by_name.ok()) return by_name.status();
    if (by_name->has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "username '", row.username, "' is taken (by users/",
          (*by_name)->user.id, ")"));
    }
    auto hash = auth::HashPassword(request->password(),
                                   core_->authn->settings().hash_params);
    if (!hash.ok()) return hash.status();
    row.password_hash = *std::move(hash);
    row.create_time = absl::ToUnixMicros(core_->clock->Now());
    row.update_time = row.create_time;
    const User after = Audited(row);
    const DescribedObject described{*target, nullptr, &after};
    absl::Status s = WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) -> absl::Status {
          if (absl::Status p = ProfileMustExist(store, session, row.profile_id);
              !p.ok()) {
            return p;
          }
          return store.CreateUser(session, row);
        },
        RoleMustExist(row.role_id), &described);
    if (!s.ok()) return s;
    auto created = FindUser(store, row.id);
    if (!created.ok()) return created.status();
    *response = ToUser(*created, row.create_time);
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::GetUser(
    grpc::ServerContext* context, const crm::v1::GetUserRequest* request,
    crm::v1::User* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS, "GetUser",
             [&](const RequestContext&, std::string*) -> absl::Status {
    auto id = IdOf(request->name(), "users", "name");
    if (!id.ok()) return id.status();
    auto user = FindUser(core_->authn->identities(), *id);
    if (!user.ok()) return user.status();
    *response = ToUser(*user, absl::ToUnixMicros(core_->clock->Now()));
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::ListUsers(
    grpc::ServerContext* context, const crm::v1::ListUsersRequest* request,
    crm::v1::ListUsersResponse* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS, "ListUsers",
             [&](const RequestContext&, std::string*) -> absl::Status {
    auto page_size = PageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    auto after = DecodePageToken(request->page_token(), "users", "ListUsers");
    if (!after.ok()) return after.status();
    auto rows = core_->authn->identities().ListUsers(*after, *page_size + 1);
    if (!rows.ok()) return rows.status();
    const bool more = static_cast<int>(rows->size()) > *page_size;
    if (more) rows->resize(*page_size);
    const int64_t now = absl::ToUnixMicros(core_->clock->Now());
    for (const auto& up : *rows) *response->add_users() = ToUser(up, now);
    if (more) {
      response->set_next_page_token(
          EncodePageToken("users", rows->back().user.username));
    }
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::UpdateUser(
    grpc::ServerContext* context, const crm::v1::UpdateUserRequest* request,
    crm::v1::User* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS, "UpdateUser",
             [&](const RequestContext& rc, std::string* target) -> absl::Status {
    auto id = IdOf(request->user().name(), "users", "user.name");
    if (!id.ok()) return id.status();
    auto paths = MaskPaths(request->update_mask(), UserPaths());
    if (!paths.ok()) return paths.status();
    auto expected = ParseOptionalEtag(request->user().etag());
    if (!expected.ok()) return expected.status();
    *target = absl::StrCat("users/", *id);
    store::IdentityStore& store = core_->authn->identities();
    auto current = FindUser(store, *id);
    if (!current.ok()) return current.status();
    store::UserRow row = current->user;
    if (absl::Status s = CheckEtag(*target, *expected, row.version); !s.ok()) {
      return s;
    }
    if (absl::Status s = ApplyUserFields(request->user(), *paths, &row);
        !s.ok()) {
      return s;
    }
    if (!row.active) {
      if (absl::Status s = NotSelf(rc, row.id, "deactivate"); !s.ok()) return s;
    }
    row.update_time = absl::ToUnixMicros(core_->clock->Now());
    const User before = Audited(current->user);
    const User after = Audited(row);
    const DescribedObject described{*target, &before, &after};
    absl::Status s = WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) -> absl::Status {
          if (absl::Status p = ProfileMustExist(store, session, row.profile_id);
              !p.ok()) {
            return p;
          }
          auto done = store.UpdateUser(session, row, current->user.version);
          if (!done.ok()) return done.status();
          return *done ? absl::OkStatus() : ChangedMeanwhile(*target);
        },
        RoleMustExist(row.role_id), &described);
    if (!s.ok()) return s;
    auto updated = FindUser(store, row.id);
    if (!updated.ok()) return updated.status();
    *response = ToUser(*updated, row.update_time);
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::SetUserPassword(
    grpc::ServerContext* context,
    const crm::v1::SetUserPasswordRequest* request,
    google::protobuf::Empty*) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS,
             "SetUserPassword",
             [&](const RequestContext&, std::string* target) -> absl::Status {
    auto id = IdOf(request->name(), "users", "name");
    if (!id.ok()) return id.status();
    auto expected = ParseOptionalEtag(request->etag());
    if (!expected.ok()) return expected.status();
    *target = absl::StrCat("users/", *id);
    store::IdentityStore& store = core_->authn->identities();
    auto current = FindUser(store, *id);
    if (!current.ok()) return current.status();
    if (absl::Status s = CheckEtag(*target, *expected, current->user.version);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = auth::ValidateNewPassword(request->password(),
                                                   current->user.username);
        !s.ok()) {
      return s;
    }
    auto hash = auth::HashPassword(request->password(),
                                   core_->authn->settings().hash_params);
    if (!hash.ok()) return hash.status();
    auto done = store.SetPasswordHash(*id, current->user.version, *hash,
                                      !request->keep_sessions(),
                                      absl::ToUnixMicros(core_->clock->Now()));
    if (!done.ok()) return done.status();
    return *done ? absl::OkStatus() : ChangedMeanwhile(*target);
  });
}

grpc::Status UserAdminServiceImpl::DeleteUser(
    grpc::ServerContext* context, const crm::v1::DeleteUserRequest* request,
    google::protobuf::Empty*) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_USERS, "DeleteUser",
             [&](const RequestContext& rc, std::string* target) -> absl::Status {
    auto id = IdOf(request->name(), "users", "name");
    if (!id.ok()) return id.status();
    auto expected = ParseOptionalEtag(request->etag());
    if (!expected.ok()) return expected.status();
    *target = absl::StrCat("users/", *id);
    if (absl::Status s = NotSelf(rc, *id, "delete"); !s.ok()) return s;
    store::IdentityStore& store = core_->authn->identities();
    auto current = FindUser(store, *id);
    if (!current.ok()) return current.status();
    if (absl::Status s = CheckEtag(*target, *expected, current->user.version);
        !s.ok()) {
      return s;
    }
    int64_t shares = 0;
    const User before = Audited(current->user);
    const DescribedObject described{*target, &before, nullptr};
    return WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) -> absl::Status {
          auto n = store::PolicyStore(core_->database.get())
                       .CountSharesWithGrantee(session, {*target});
          if (!n.ok()) return n.status();
          shares = *n;
          auto done = store.DeleteUser(session, *id, current->user.version);
          if (!done.ok()) return done.status();
          return *done ? absl::OkStatus() : ChangedMeanwhile(*target);
        },
        [&](const PolicyState& state) {
          std::vector<std::string> referrers = PolicyReferrers(state, *target);
          if (shares > 0) {
            referrers.push_back(absl::StrCat(shares, " record share(s)"));
          }
          return RefuseIfReferenced(*target, std::move(referrers));
        },
        &described);
  });
}

// --- Profiles ---------------------------------------------------------------

grpc::Status UserAdminServiceImpl::CreateProfile(
    grpc::ServerContext* context, const crm::v1::CreateProfileRequest* request,
    crm::v1::Profile* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_POLICY,
             "CreateProfile",
             [&](const RequestContext&, std::string* target) -> absl::Status {
    if (absl::Status s = CheckNewId(request->profile_id(), "profile_id");
        !s.ok()) {
      return s;
    }
    store::ProfileRow row;
    row.id = request->profile_id();
    if (absl::Status s = ApplyProfileFields(
            request->profile(), {ProfilePaths().begin(), ProfilePaths().end()},
            &row);
        !s.ok()) {
      return s;
    }
    *target = absl::StrCat("profiles/", row.id);
    store::IdentityStore& store = core_->authn->identities();
    auto existing = store.FindProfileById(row.id);
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return absl::AlreadyExistsError(absl::StrCat(*target, " already exists"));
    }
    absl::Status s = WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) {
          return store.CreateProfile(session, row);
        },
        nullptr);
    if (!s.ok()) return ExplainProfileConflict(s, row);
    auto profile = ToProfile(row);
    if (!profile.ok()) return profile.status();
    *response = *std::move(profile);
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::GetProfile(
    grpc::ServerContext* context, const crm::v1::GetProfileRequest* request,
    crm::v1::Profile* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_POLICY, "GetProfile",
             [&](const RequestContext&, std::string*) -> absl::Status {
    auto id = IdOf(request->name(), "profiles", "name");
    if (!id.ok()) return id.status();
    auto row = FindProfile(core_->authn->identities(), *id);
    if (!row.ok()) return row.status();
    auto profile = ToProfile(*row);
    if (!profile.ok()) return profile.status();
    *response = *std::move(profile);
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::ListProfiles(
    grpc::ServerContext* context, const crm::v1::ListProfilesRequest* request,
    crm::v1::ListProfilesResponse* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_POLICY,
             "ListProfiles",
             [&](const RequestContext&, std::string*) -> absl::Status {
    auto page_size = PageSize(request->page_size());
    if (!page_size.ok()) return page_size.status();
    auto after =
        DecodePageToken(request->page_token(), "profiles", "ListProfiles");
    if (!after.ok()) return after.status();
    auto rows = core_->authn->identities().ListProfiles(*after, *page_size + 1);
    if (!rows.ok()) return rows.status();
    const bool more = static_cast<int>(rows->size()) > *page_size;
    if (more) rows->resize(*page_size);
    for (const auto& row : *rows) {
      auto profile = ToProfile(row);
      if (!profile.ok()) return profile.status();
      *response->add_profiles() = *std::move(profile);
    }
    if (more) {
      response->set_next_page_token(
          EncodePageToken("profiles", rows->back().id));
    }
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::UpdateProfile(
    grpc::ServerContext* context, const crm::v1::UpdateProfileRequest* request,
    crm::v1::Profile* response) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_POLICY,
             "UpdateProfile",
             [&](const RequestContext&, std::string* target) -> absl::Status {
    auto id = IdOf(request->profile().name(), "profiles", "profile.name");
    if (!id.ok()) return id.status();
    auto paths = MaskPaths(request->update_mask(), ProfilePaths());
    if (!paths.ok()) return paths.status();
    auto expected = ParseOptionalEtag(request->profile().etag());
    if (!expected.ok()) return expected.status();
    *target = absl::StrCat("profiles/", *id);
    store::IdentityStore& store = core_->authn->identities();
    auto current = FindProfile(store, *id);
    if (!current.ok()) return current.status();
    const int64_t version = current->version;
    if (absl::Status s = CheckEtag(*target, *expected, version); !s.ok()) {
      return s;
    }
    store::ProfileRow row = *current;
    if (absl::Status s = ApplyProfileFields(request->profile(), *paths, &row);
        !s.ok()) {
      return s;
    }
    bool changed = true;
    absl::Status s = WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) -> absl::Status {
          auto done = store.UpdateProfile(session, row, version);
          if (!done.ok()) return done.status();
          return *done ? absl::OkStatus() : ChangedMeanwhile(*target);
        },
        nullptr, nullptr, {.skip_if_unchanged = true, .changed = &changed});
    if (!s.ok()) return ExplainProfileConflict(s, row);
    // An update that changes nothing writes nothing: the etag stays.
    row.version = changed ? version + 1 : version;
    auto profile = ToProfile(row);
    if (!profile.ok()) return profile.status();
    *response = *std::move(profile);
    return absl::OkStatus();
  });
}

grpc::Status UserAdminServiceImpl::DeleteProfile(
    grpc::ServerContext* context, const crm::v1::DeleteProfileRequest* request,
    google::protobuf::Empty*) {
  return Run(context, *request, *core_, *loader_, crm::v1::MANAGE_POLICY,
             "DeleteProfile",
             [&](const RequestContext&, std::string* target) -> absl::Status {
    auto id = IdOf(request->name(), "profiles", "name");
    if (!id.ok()) return id.status();
    auto expected = ParseOptionalEtag(request->etag());
    if (!expected.ok()) return expected.status();
    *target = absl::StrCat("profiles/", *id);
    store::IdentityStore& store = core_->authn->identities();
    auto current = FindProfile(store, *id);
    if (!current.ok()) return current.status();
    if (absl::Status s = CheckEtag(*target, *expected, current->version);
        !s.ok()) {
      return s;
    }
    std::vector<std::string> users;  // who still has the profile
    return WritePolicyRows(
        core_, *loader_,
        [&](store::Session& session) -> absl::Status {
          users.clear();  // the transaction may be retried
          auto holders = store.UsersWithProfile(session, *id, kMaxUsersShown);
          if (!holders.ok()) return holders.status();
          for (const std::string& user : holders->user_ids) {
            users.push_back(absl::StrCat("users/", user, " (profile)"));
          }
          if (holders->total > kMaxUsersShown) {
            users.push_back(absl::StrCat(
                "and ", holders->total - kMaxUsersShown, " more users"));
          }
          // Deleting would trip the foreign key; the check below refuses.
          if (!users.empty()) return absl::OkStatus();
          auto done = store.DeleteProfile(session, *id, current->version);
          if (!done.ok()) return done.status();
          return *done ? absl::OkStatus() : ChangedMeanwhile(*target);
        },
        [&](const PolicyState& state) {
          std::vector<std::string> referrers = users;
          for (std::string& r : PolicyReferrers(state, *target)) {
            referrers.push_back(std::move(r));
          }
          return RefuseIfReferenced(*target, std::move(referrers));
        });
  });
}

}  // namespace crm::server
