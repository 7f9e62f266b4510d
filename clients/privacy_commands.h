// crmctl privacy ... (crm/v1/privacy_service.proto): subject requests.
//   privacy export PERSON [--out FILE]      the JSON document (stdout or
//                                           FILE, written whole or not at
//                                           all)
//   privacy erase PERSON [--dry-run] [--receipt-out FILE]
//                                           erase (or preview); prints the
//                                           receipt's records, writes the
//                                           receipt as JSON to FILE
//   privacy receipt get NAME [--out FILE]   a stored receipt
//   privacy receipt verify FILE [--public-key PEM]
//                                           offline: the signature, the
//                                           statement and, with PEM, the
//                                           pinned key; DATA_LOSS (exit 1)
//                                           when it does not verify
//   privacy rules                           the erasure rules
//   privacy retention dry-run | run | runs [--page-size N]
//                                           what retention would do now;
//                                           a run now; the latest runs
//   privacy inventory [--format markdown|json|csv] [--objects A,B]
//                     [--out FILE]           what we hold and why
//                                           (DataInventoryService): the
//                                           data map for a privacy notice
// PERSON: an e-mail address, a phone number, contacts/ID or leads/ID.
#ifndef CRM_CLIENTS_PRIVACY_COMMANDS_H_
#define CRM_CLIENTS_PRIVACY_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunPrivacy(CliSession& session,
                        const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_PRIVACY_COMMANDS_H_
