// crmctl provenance RECORD and crmctl history RECORD [--field F]
// (crm/v1/provenance_service.proto): where each field of a record came
// from, and the changes of its fields. Both print a table, or the reply as
// JSON with --json.
#ifndef CRM_CLIENTS_PROVENANCE_COMMANDS_H_
#define CRM_CLIENTS_PROVENANCE_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunProvenance(CliSession& session,
                           const std::vector<std::string>& args);
absl::Status RunHistory(CliSession& session,
                        const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_PROVENANCE_COMMANDS_H_
