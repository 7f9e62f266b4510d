// crmctl commands of the UserAdminService (crm/v1/user_admin_service.proto);
// every one needs manage_users.
//
//   crmctl users list
//   crmctl users get USER                      USER: users/ID or ID
//   crmctl users create ID FIELD=VALUE... [--password-stdin]
//       FIELD: username (default ID), display_name, profile (required,
//       profiles/ID or ID), role (roles/ID or ID), time_zone, active
//       (default true). Prompts for the password, or reads one line from
//       stdin with --password-stdin.
//   crmctl users update USER FIELD=VALUE... [--etag E]
//       update_mask = the fields given (display_name, active, profile,
//       role, time_zone); FIELD= clears.
//   crmctl users set-password USER [--password-stdin] [--keep-sessions]
//       [--etag E]                    ends the user's sessions unless kept
//   crmctl profiles list
//   crmctl profiles get PROFILE                PROFILE: profiles/ID or ID
//   crmctl profiles create ID JSON|@FILE
//       The profile (display_name, allowed_ip_ranges, allowed_countries,
//       login_hours, login_time_zone, system_permissions) as JSON (proto3
//       mapping), @FILE of JSON, or @FILE.textproto in protobuf text format
//       (a file of `crmctl policy export`'s profiles/ folder). Needs
//       manage_policy, like every profile write.
//   crmctl profiles update PROFILE JSON|@FILE [--fields F,...] [--etag E]
//       update_mask = the fields the input names (JSON keys; fields a
//       .textproto file sets), or --fields; to clear a field name it with
//       --fields (or give [] / "" in JSON). An etag in the input or --etag
//       makes the update conditional.
//   crmctl profiles delete PROFILE [--etag E]
// (`users unlock` and `users revoke-sessions` are auth_commands.h's.)
#ifndef CRM_CLIENTS_USER_COMMANDS_H_
#define CRM_CLIENTS_USER_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

// `users` verbs list, get, create, update, set-password.
absl::Status RunUserAdmin(CliSession& session,
                          const std::vector<std::string>& args);

absl::Status RunProfiles(CliSession& session,
                         const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_USER_COMMANDS_H_
