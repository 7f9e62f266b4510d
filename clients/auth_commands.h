// crmctl commands of the AuthService: login, logout, whoami and the
// `users` admin commands (unlock, revoke-sessions).
//
//   crmctl login USERNAME [--password-stdin]
//       Prompts for the password without echo (stdin must be a terminal),
//       or reads one line from stdin with --password-stdin. Prints
//       "export CRM_TOKEN=<token>" (so `eval "$(crmctl login bob)"` works)
//       and a comment line with the user and the session's expiry.
//   crmctl logout          ends the session of --token / CRM_TOKEN
//   crmctl whoami          the service, user, client address, permissions
//   crmctl users unlock USER            (USER: users/{id} or a username)
//   crmctl users revoke-sessions USER
//   (the other `users` verbs are user_commands.h's)
#ifndef CRM_CLIENTS_AUTH_COMMANDS_H_
#define CRM_CLIENTS_AUTH_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunLogin(CliSession& session, const std::vector<std::string>& args);
absl::Status RunLogout(CliSession& session,
                       const std::vector<std::string>& args);
absl::Status RunWhoAmI(CliSession& session,
                       const std::vector<std::string>& args);
// unlock and revoke-sessions; any other verb goes to RunUserAdmin.
absl::Status RunUsers(CliSession& session, const std::vector<std::string>& args);

// The password for `username`: one line from stdin (CliDeps::in) if
// `from_stdin`, else a prompt without echo (CliDeps::read_password or the
// terminal).
absl::StatusOr<std::string> ReadPassword(CliSession& session, bool from_stdin,
                                         const std::string& username);

// Reads a password from the terminal on fd 0 without echo, after writing
// `prompt` to stderr. FAILED_PRECONDITION if stdin is not a terminal.
absl::StatusOr<std::string> ReadPasswordFromTerminal(const std::string& prompt);

}  // namespace crm::client

#endif  // CRM_CLIENTS_AUTH_COMMANDS_H_
