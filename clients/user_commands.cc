#include "clients/user_commands.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/auth_commands.h"
#include "clients/cli_args.h"
#include "clients/field_values.h"
#include "clients/output_format.h"
#include "clients/resource_requests.h"
#include "crm/v1/user_admin_service.pb.h"

namespace crm::client {
namespace {

using Args = std::vector<std::string>;

constexpr char kService[] = "crm.v1.UserAdminService/";
constexpr char kUsersUsage[] =
    "users list | users get USER | users create ID FIELD=VALUE... "
    "[--password-stdin] | users update USER FIELD=VALUE... [--etag E] | "
    "users set-password USER [--password-stdin] [--keep-sessions] [--etag E] "
    "| users unlock USER | users revoke-sessions USER";
constexpr char kProfilesUsage[] =
    "profiles list | profiles get PROFILE | profiles create ID JSON|@FILE | "
    "profiles update PROFILE JSON|@FILE [--fields F,...] [--etag E] | "
    "profiles delete PROFILE [--etag E]";

std::string Method(const char* name) { return absl::StrCat(kService, name); }

// "bob" -> "users/bob"; "users/bob" unchanged (likewise profiles, roles).
std::string Named(absl::string_view collection, const std::string& arg) {
  const std::string prefix = absl::StrCat(collection, "/");
  if (arg.empty() || absl::StartsWith(arg, prefix)) return arg;
  return prefix + arg;
}

// Applies FIELD=VALUE assignments to `user`, with profile and role taking
// bare ids too. Returns the assigned fields (the update mask).
absl::StatusOr<std::vector<std::string>> AssignUserFields(
    const Args& assignments, crm::v1::User* user) {
  auto paths = ApplyAssignments(user, assignments);
  if (!paths.ok()) return paths.status();
  user->set_profile(Named("profiles", user->profile()));
  user->set_role(Named("roles", user->role()));
  return paths;
}

// `messages` as a table of the named fields (all of them in full).
template <typename M>
std::string Table(const google::protobuf::RepeatedPtrField<M>& messages,
                  const std::vector<std::string>& fields) {
  if (messages.empty()) return "(none)\n";
  std::vector<std::vector<std::string>> rows;
  for (const M& m : messages) {
    std::vector<std::string> row;
    for (const std::string& f : fields) {
      row.push_back(FormatFieldValue(m, M::descriptor()->FindFieldByName(f)));
    }
    rows.push_back(std::move(row));
  }
  return FormatTable(fields, rows);
}

absl::Status UsersList(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "users list", 0, 0, "users list");
  if (!a.ok()) return a.status();
  crm::v1::ListUsersResponse all;
  if (auto st =
          ListAll(s, Method("ListUsers"), crm::v1::ListUsersRequest(), &all);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  s.out() << Table(all.users(), {"name", "username", "display_name", "profile",
                                 "role", "active", "locked"});
  return absl::OkStatus();
}

absl::Status UsersGet(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "users get", 1, 1, "users get USER");
  if (!a.ok()) return a.status();
  crm::v1::GetUserRequest request;
  request.set_name(Named("users", a->positional[0]));
  crm::v1::User reply;
  if (auto st = s.Call(Method("GetUser"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status UsersCreate(CliSession& s, const Args& args) {
  constexpr char kUsage[] =
      "users create ID FIELD=VALUE... [--password-stdin] (FIELD: username, "
      "display_name, profile, role, time_zone, active)";
  auto a = ParseCommand(args, {{"password-stdin", false}}, "users create", 1,
                        SIZE_MAX, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::CreateUserRequest request;
  request.set_user_id(a->positional[0]);
  crm::v1::User* user = request.mutable_user();
  user->set_active(true);
  auto assigned = AssignUserFields(
      Args(a->positional.begin() + 1, a->positional.end()), user);
  if (!assigned.ok()) return assigned.status();
  if (user->username().empty()) user->set_username(a->positional[0]);
  if (user->profile().empty()) {
    return absl::InvalidArgumentError(
        "users create: profile=ID is required (crmctl profiles list)");
  }
  auto password = ReadPassword(s, a->Has("password-stdin"), user->username());
  if (!password.ok()) return password.status();
  request.set_password(*password);
  crm::v1::User reply;
  if (auto st = s.Call(Method("CreateUser"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status UsersUpdate(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "users update USER FIELD=VALUE... [--etag E]";
  auto a =
      ParseCommand(args, {{"etag", true}}, "users update", 2, SIZE_MAX, kUsage);
  if (!a.ok()) return a.status();
  crm::v1::UpdateUserRequest request;
  crm::v1::User* user = request.mutable_user();
  auto paths = AssignUserFields(
      Args(a->positional.begin() + 1, a->positional.end()), user);
  if (!paths.ok()) return paths.status();
  user->set_name(Named("users", a->positional[0]));
  user->set_etag(a->Get("etag"));
  for (const std::string& path : *paths) {
    request.mutable_update_mask()->add_paths(path);
  }
  crm::v1::User reply;
  if (auto st = s.Call(Method("UpdateUser"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status UsersSetPassword(CliSession& s, const Args& args) {
  auto a = ParseCommand(
      args,
      {{"password-stdin", false}, {"keep-sessions", false}, {"etag", true}},
      "users set-password", 1, 1,
      "users set-password USER [--password-stdin] "
      "[--keep-sessions] [--etag E]");
  if (!a.ok()) return a.status();
  crm::v1::SetUserPasswordRequest request;
  request.set_name(Named("users", a->positional[0]));
  request.set_etag(a->Get("etag"));
  request.set_keep_sessions(a->Has("keep-sessions"));
  auto password = ReadPassword(s, a->Has("password-stdin"), request.name());
  if (!password.ok()) return password.status();
  request.set_password(*password);
  google::protobuf::Empty reply;
  if (auto st = s.Call(Method("SetUserPassword"), request, &reply); !st.ok()) {
    return st;
  }
  s.out() << "password set for " << request.name()
          << (request.keep_sessions() ? "" : "; their sessions ended") << "\n";
  return absl::OkStatus();
}

absl::Status ProfilesList(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "profiles list", 0, 0, "profiles list");
  if (!a.ok()) return a.status();
  crm::v1::ListProfilesResponse all;
  if (auto st = ListAll(s, Method("ListProfiles"),
                        crm::v1::ListProfilesRequest(), &all);
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(all);
  s.out() << Table(all.profiles(),
                   {"name", "display_name", "system_permissions",
                    "allowed_ip_ranges", "allowed_countries", "login_hours"});
  return absl::OkStatus();
}

absl::Status ProfilesGet(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {}, "profiles get", 1, 1, "profiles get PROFILE");
  if (!a.ok()) return a.status();
  crm::v1::GetProfileRequest request;
  request.set_name(Named("profiles", a->positional[0]));
  crm::v1::Profile reply;
  if (auto st = s.Call(Method("GetProfile"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

// The fields of a Profile a write may set (UpdateProfile's mask paths).
const std::set<std::string>& ProfileFields() {
  static const auto* fields = new std::set<std::string>{
      "display_name", "allowed_ip_ranges", "allowed_countries",
      "login_hours",  "login_time_zone",   "system_permissions"};
  return *fields;
}

// A profile given as JSON (proto3 mapping), @FILE of JSON, or
// @FILE.textproto (protobuf text format, as `policy export` writes it).
struct ProfileArg {
  crm::v1::Profile profile;
  std::vector<std::string> given;  // writable fields the input names
};

absl::StatusOr<ProfileArg> ParseProfileArg(const std::string& arg,
                                           absl::string_view command) {
  ProfileArg out;
  std::string text = arg;
  const bool from_file = absl::StartsWith(arg, "@");
  if (from_file) {
    std::ifstream in(arg.substr(1), std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat(command, ": cannot read '", arg.substr(1), "'"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  const auto* type = crm::v1::Profile::descriptor();
  if (from_file && absl::EndsWith(arg, ".textproto")) {
    google::protobuf::TextFormat::Parser parser;
    google::protobuf::TextFormat::ParseInfoTree tree;
    parser.WriteLocationsTo(&tree);
    if (!parser.ParseFromString(text, &out.profile)) {
      return absl::InvalidArgumentError(absl::StrCat(
          command, ": '", arg.substr(1),
          "' is not a crm.v1.Profile in text format (crmctl policy validate "
          "on its folder shows where)"));
    }
    for (const std::string& f : ProfileFields()) {
      const auto* field = type->FindFieldByName(f);
      if (tree.GetLocation(field, field->is_repeated() ? 0 : -1).line >= 0) {
        out.given.push_back(f);
      }
    }
    return out;
  }
  if (auto st = ParseJsonInto(absl::StrCat(command, ": the JSON"), text,
                              &out.profile);
      !st.ok()) {
    return st;
  }
  // Which fields the JSON names (an empty list names one, to clear it).
  google::protobuf::Struct keys;
  if (google::protobuf::util::JsonStringToMessage(text, &keys).ok()) {
    for (const auto& [key, value] : keys.fields()) {
      const auto* field = type->FindFieldByName(key);
      for (int i = 0; field == nullptr && i < type->field_count(); ++i) {
        if (type->field(i)->json_name() == key) field = type->field(i);
      }
      if (field != nullptr && ProfileFields().count(field->name())) {
        out.given.push_back(field->name());
      }
    }
  }
  return out;
}

absl::Status ProfilesCreate(CliSession& s, const Args& args) {
  constexpr char kUsage[] = "profiles create ID JSON|@FILE";
  auto a = ParseCommand(args, {}, "profiles create", 2, 2, kUsage);
  if (!a.ok()) return a.status();
  auto parsed = ParseProfileArg(a->positional[1], "profiles create");
  if (!parsed.ok()) return parsed.status();
  crm::v1::CreateProfileRequest request;
  request.set_profile_id(a->positional[0]);
  *request.mutable_profile() = parsed->profile;
  request.mutable_profile()->clear_name();
  request.mutable_profile()->clear_etag();
  crm::v1::Profile reply;
  if (auto st = s.Call(Method("CreateProfile"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status ProfilesUpdate(CliSession& s, const Args& args) {
  constexpr char kUsage[] =
      "profiles update PROFILE JSON|@FILE [--fields F,...] [--etag E]";
  auto a = ParseCommand(args, {{"fields", true}, {"etag", true}},
                        "profiles update", 2, 2, kUsage);
  if (!a.ok()) return a.status();
  const std::string name = Named("profiles", a->positional[0]);
  auto parsed = ParseProfileArg(a->positional[1], "profiles update");
  if (!parsed.ok()) return parsed.status();
  crm::v1::UpdateProfileRequest request;
  crm::v1::Profile* profile = request.mutable_profile();
  *profile = parsed->profile;
  if (!profile->name().empty() && profile->name() != name) {
    return absl::InvalidArgumentError(
        absl::StrCat("profiles update: the input's name is '", profile->name(),
                     "' but the command names ", name,
                     "; leave it out or make them the same"));
  }
  profile->set_name(name);
  if (a->Has("etag")) profile->set_etag(a->Get("etag"));
  std::vector<std::string> paths = parsed->given;
  if (a->Has("fields")) {
    paths.clear();
    for (absl::string_view f : absl::StrSplit(a->Get("fields"), ',')) {
      if (!ProfileFields().count(std::string(f))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "profiles update: --fields: '", f, "' is not a field; use ",
            absl::StrJoin(ProfileFields(), ", ")));
      }
      paths.emplace_back(f);
    }
  }
  if (paths.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "profiles update: the input sets none of ",
        absl::StrJoin(ProfileFields(), ", "),
        "; give the fields to change (to clear one, name it with --fields)"));
  }
  for (const std::string& p : paths)
    request.mutable_update_mask()->add_paths(p);
  crm::v1::Profile reply;
  if (auto st = s.Call(Method("UpdateProfile"), request, &reply); !st.ok()) {
    return st;
  }
  return s.PrintRecord(reply);
}

absl::Status ProfilesDelete(CliSession& s, const Args& args) {
  auto a = ParseCommand(args, {{"etag", true}}, "profiles delete", 1, 1,
                        "profiles delete PROFILE [--etag E]");
  if (!a.ok()) return a.status();
  crm::v1::DeleteProfileRequest request;
  request.set_name(Named("profiles", a->positional[0]));
  request.set_etag(a->Get("etag"));
  google::protobuf::Empty reply;
  if (auto st = s.Call(Method("DeleteProfile"), request, &reply); !st.ok()) {
    return st;
  }
  s.out() << "deleted " << request.name() << "\n";
  return absl::OkStatus();
}

struct Verb {
  const char* name;
  absl::Status (*run)(CliSession&, const Args&);
};

absl::Status Dispatch(CliSession& s, const Args& args, const char* command,
                      const char* usage, std::initializer_list<Verb> verbs) {
  if (args.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("usage: crmctl ", usage));
  }
  for (const Verb& v : verbs) {
    if (args[0] == v.name) return v.run(s, Args(args.begin() + 1, args.end()));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      command, ": unknown verb '", args[0], "'; usage: crmctl ", usage));
}

}  // namespace

absl::Status RunUserAdmin(CliSession& s, const Args& args) {
  return Dispatch(s, args, "users", kUsersUsage,
                  {{"list", UsersList},
                   {"get", UsersGet},
                   {"create", UsersCreate},
                   {"update", UsersUpdate},
                   {"set-password", UsersSetPassword}});
}

absl::Status RunProfiles(CliSession& s, const Args& args) {
  return Dispatch(s, args, "profiles", kProfilesUsage,
                  {{"list", ProfilesList},
                   {"get", ProfilesGet},
                   {"create", ProfilesCreate},
                   {"update", ProfilesUpdate},
                   {"delete", ProfilesDelete}});
}

}  // namespace crm::client
