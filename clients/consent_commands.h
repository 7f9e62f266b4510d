// crmctl consent set|get|history (crm/v1/consent_service.proto): record a
// person's consent for a channel and purpose, show a record's consent, and
// its history. Tables, or the reply as JSON with --json.
#ifndef CRM_CLIENTS_CONSENT_COMMANDS_H_
#define CRM_CLIENTS_CONSENT_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunConsent(CliSession& session,
                        const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_CONSENT_COMMANDS_H_
