#include "clients/auth_commands.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "clients/cli_args.h"
#include "clients/error_details.h"
#include "clients/output_format.h"
#include "clients/user_commands.h"
#include "crm/v1/auth_service.pb.h"

namespace crm::client {
namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  // Keeps the server's error details for RunCli to print.
  return RpcError(ToAbslStatus(s));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  absl::Time time = absl::FromUnixSeconds(t.seconds()) +
                    absl::Nanoseconds(t.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}


// "users/x" -> user field; anything else is a username.
template <typename Request>
void SetTarget(const std::string& arg, Request* request) {
  if (absl::StartsWith(arg, "users/")) {
    request->set_user(arg);
  } else {
    request->set_username(arg);
  }
}

}  // namespace

absl::StatusOr<std::string> ReadPassword(CliSession& s, bool from_stdin,
                                         const std::string& username) {
  std::string password;
  if (from_stdin) {
    std::istream& in = s.deps().in != nullptr ? *s.deps().in : std::cin;
    if (!std::getline(in, password) && password.empty()) {
      return absl::InvalidArgumentError(
          "--password-stdin: no password on stdin");
    }
    if (!password.empty() && password.back() == '\r') password.pop_back();
    return password;
  }
  const std::string prompt = absl::StrCat("Password for ", username, ": ");
  if (s.deps().read_password) return s.deps().read_password(prompt);
  return ReadPasswordFromTerminal(prompt);
}

absl::StatusOr<std::string> ReadPasswordFromTerminal(
    const std::string& prompt) {
  if (!isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        "login: stdin is not a terminal; pass the password on stdin with "
        "--password-stdin");
  }
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  termios old_mode;
  tcgetattr(STDIN_FILENO, &old_mode);
  termios silent = old_mode;
  silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &silent);
  std::string password;
  std::getline(std::cin, password);
  tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
  std::fputs("\n", stderr);
  return password;
}

absl::Status RunLogin(CliSession& s, const std::vector<std::string>& args) {
  auto parsed = ParseCommandArgs(args, {{"password-stdin", false}}, "login");
  if (!parsed.ok()) return parsed.status();
  if (parsed->positional.size() != 1) {
    return absl::InvalidArgumentError(
        "login: usage: crmctl login USERNAME [--password-stdin]");
  }
  const std::string& username = parsed->positional[0];
  auto password = ReadPassword(s, parsed->Has("password-stdin"), username);
  if (!password.ok()) return password.status();
  auto client = s.Client();
  if (!client.ok()) return client.status();
  // A stale CRM_TOKEN must not get in the way of a fresh login.
  (*client)->set_session_token("");
  crm::v1::LoginRequest request;
  request.set_username(username);
  request.set_password(*password);
  crm::v1::LoginResponse response;
  auto context = (*client)->NewContext();
  grpc::Status st = (*client)->auth().Login(context.get(), request, &response);
  (*client)->set_session_token(s.globals().token);
  if (!st.ok()) return FromGrpc(st);
  s.out() << "export CRM_TOKEN=" << response.session_token() << "\n"
          << "# logged in as " << response.user().username() << " ("
          << response.user().name() << ", profile "
          << response.user().profile_display_name()
          << "); the session expires at "
          << FormatTime(response.expire_time())
          << " or earlier when idle\n";
  return absl::OkStatus();
}

absl::Status RunLogout(CliSession& s, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError("logout: usage: crmctl logout");
  }
  if (s.globals().token.empty()) {
    return absl::InvalidArgumentError(
        "logout: no session: set CRM_TOKEN or pass --token");
  }
  auto client = s.Client();
  if (!client.ok()) return client.status();
  google::protobuf::Empty response;
  auto context = (*client)->NewContext();
  if (auto st = FromGrpc((*client)->auth().Logout(
          context.get(), crm::v1::LogoutRequest(), &response));
      !st.ok()) {
    return st;
  }
  s.out() << "logged out; run: unset CRM_TOKEN\n";
  return absl::OkStatus();
}

absl::Status RunWhoAmI(CliSession& s, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError("whoami: usage: crmctl whoami");
  }
  auto client = s.Client();
  if (!client.ok()) return client.status();
  crm::v1::WhoAmIResponse r;
  auto context = (*client)->NewContext();
  if (auto st = FromGrpc((*client)->auth().WhoAmI(
          context.get(), crm::v1::WhoAmIRequest(), &r));
      !st.ok()) {
    return st;
  }
  if (s.globals().output == OutputFormat::kJson) return s.PrintJson(r);
  std::vector<std::vector<std::string>> rows = {{"service", r.service()}};
  if (r.acting_for_user()) {
    rows.push_back({"user", r.user().name()});
    rows.push_back({"username", r.user().username()});
    rows.push_back({"display_name", r.user().display_name()});
    rows.push_back({"profile", absl::StrCat(r.user().profile_display_name(),
                                            " (", r.user().profile(), ")")});
    if (!r.user().time_zone().empty()) {
      rows.push_back({"time_zone", r.user().time_zone()});
    }
    rows.push_back(
        {"session_expire_time", FormatTime(r.session_expire_time())});
  } else {
    rows.push_back({"user", "(none: acting as the service itself)"});
  }
  rows.push_back({"client_address", r.client_address()});
  rows.push_back({"system_permissions",
                  absl::StrJoin(r.system_permissions(), ", ")});
  s.out() << FormatTable({"FIELD", "VALUE"}, rows);
  return absl::OkStatus();
}

absl::Status RunUsers(CliSession& s, const std::vector<std::string>& args) {
  if (args.size() != 2 ||
      (args[0] != "unlock" && args[0] != "revoke-sessions")) {
    return RunUserAdmin(s, args);
  }
  auto client = s.Client();
  if (!client.ok()) return client.status();
  auto context = (*client)->NewContext();
  if (args[0] == "unlock") {
    crm::v1::UnlockUserRequest request;
    SetTarget(args[1], &request);
    google::protobuf::Empty response;
    if (auto st = FromGrpc(
            (*client)->auth().UnlockUser(context.get(), request, &response));
        !st.ok()) {
      return st;
    }
    s.out() << "unlocked " << args[1] << "\n";
    return absl::OkStatus();
  }
  if (args[0] == "revoke-sessions") {
    crm::v1::RevokeUserSessionsRequest request;
    SetTarget(args[1], &request);
    crm::v1::RevokeUserSessionsResponse response;
    if (auto st = FromGrpc((*client)->auth().RevokeUserSessions(
            context.get(), request, &response));
        !st.ok()) {
      return st;
    }
    s.out() << "revoked " << response.revoked_count() << " session(s) of "
            << args[1] << "\n";
    return absl::OkStatus();
  }
  return RunUserAdmin(s, args);
}

}  // namespace crm::client
