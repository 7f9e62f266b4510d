// crmctl commands of the KeyAdminService (crm/v1/key_admin_service.proto);
// both need manage_policy.
//
//   crmctl keys status [--json]
//       The master key id, every data key (oldest first: id, created,
//       current) and per sensitive field how many values are not under the
//       current key; ends with what to run if some are.
//   crmctl keys rotate [--batch N] [--resume]
//       A new current data key, then every sensitive value re-encrypted
//       under it online, N records per transaction (default 500). Waits
//       for the rotation however long it takes (no deadline; --deadline
//       does not apply): interrupting crmctl stops the server between two
//       batches, and the batches done stay. --resume re-encrypts under the
//       current key without making a new one: after an interruption, or
//       when `keys status` shows values left.
//
// --json is --output json. Errors exit 2 + the gRPC code, as every command.
#ifndef CRM_CLIENTS_KEY_COMMANDS_H_
#define CRM_CLIENTS_KEY_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunKeys(CliSession& session, const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_KEY_COMMANDS_H_
