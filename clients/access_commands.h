// crmctl commands of the AccessReviewService
// (crm/v1/access_review_service.proto); every one needs view_audit.
//
//   crmctl access explain USER RECORD|OBJECT ACTION
//                 [--service S] [--field F] [--from ADDRESS] [--json]
//       Why USER (bob or users/bob) may or may not perform ACTION (read,
//       create, edit, delete, share, transfer) on RECORD (accounts/acme) or
//       on OBJECT (accounts): the verdict and the refusing layer, every
//       grant that reaches the record, restriction rules, the object
//       permission's and each field's grants. --field adds that field's
//       permission to the verdict; --from checks the user's login
//       restrictions for a request from ADDRESS now.
//   crmctl access accessors RECORD [--service S] [--json]
//       Every user who can read RECORD, their level and paths (every page).
//   crmctl access summary USER [OBJECT...] [--service S] [--json]
//       Per object: how many records USER can read, edit and delete, and
//       through which grants.
//   crmctl access permissions USER [--service S] [--json]
//       Object, field and system permissions with the grant behind each.
//
// --service: the service the user acts through (default: the one crmctl
// calls as, admin-cli). --json is --output json. Output is a readable
// summary with tables, or the response as JSON.
#ifndef CRM_CLIENTS_ACCESS_COMMANDS_H_
#define CRM_CLIENTS_ACCESS_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunAccess(CliSession& session,
                       const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_ACCESS_COMMANDS_H_
