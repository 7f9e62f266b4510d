// crmctl commands of the AuditService (crm/v1/audit_service.proto). Every
// one needs VIEW_AUDIT (the calling service too, when a user acts through
// it), except `verify --file`, which needs nothing but the file and the
// pinned public key.
//
//   crmctl audit list [--filter F] [--page-size N] [--all]
//       Events newest first, as a table (--output json: the response). F is
//       the List filter language over time, sequence, request_id,
//       actor_user, actor_service, action, resource, outcome, reason,
//       client_address, country, e.g.
//         --filter 'action = "login" AND outcome = DENIED'
//       One page unless --all.
//   crmctl audit tail [--filter F]
//       Follows the trail: prints each event as it is committed (one line;
//       --output json: one JSON object per line) until interrupted.
//   crmctl audit export FILE [--filter F] [--after SEQ]
//       The trail as JSON Lines (one AuditExportLine per line, proto3 JSON
//       with proto field names; the schema is audit_service.proto). "-" is
//       stdout. Unfiltered exports carry the checkpoints and verify
//       offline.
//   crmctl audit verify
//       Online: the server verifies its stored chain.
//   crmctl audit verify --file FILE --public-key PEM [--expect OLDFILE]
//       Offline, with only the export and the pinned key (several keys:
//       repeat --public-key as a comma list). --expect: an earlier export
//       whose last checkpoint the new one must still contain (detects
//       truncation). Exit status 0 only if it verifies.
//   crmctl audit public-key          the checkpoint key (PEM) and its id
//   crmctl audit history NAME        every recorded change of one object
//                                    (e.g. sharingRules/retail), oldest
//                                    first, with its diff
#ifndef CRM_CLIENTS_AUDIT_COMMANDS_H_
#define CRM_CLIENTS_AUDIT_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunAudit(CliSession& session,
                      const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_AUDIT_COMMANDS_H_
