// crmctl commands of the PolicyAdminService (crm/v1/admin_service.proto) and
// the SharingService (crm/v1/sharing_service.proto).
//
//   crmctl policy list KIND
//       KIND: permissionSets, orgWideDefaults, roles, groups, sharingRules,
//       restrictionRules. Every page, as a table (or JSON with --output json).
//   crmctl policy get NAME                  e.g. roles/sales-rep,
//                                           orgWideDefaults/accounts
//   crmctl policy create KIND ID JSON|@FILE
//       JSON is the object itself in the proto3 JSON mapping (a SharingRule
//       for sharingRules, ...), e.g.
//       crmctl policy create sharingRules retail '{"object": "accounts",
//         "criteria": "industry = \"Retail\"",
//         "shared_with": {"role": "roles/sales-rep"}, "access": "READ"}'
//       @FILE reads it from a file.
//   crmctl policy update NAME JSON|@FILE [--etag E]
//       Replaces the whole object (fields left out become empty), so the
//       usual way is: crmctl --output json policy get NAME > f.json, edit,
//       crmctl policy update NAME @f.json. An etag in the JSON (as `get`
//       prints it) or --etag makes the update conditional (ABORTED if the
//       object changed since). A name (or, for an org-wide default, object)
//       in the JSON must be NAME's.
//   crmctl policy delete NAME [--etag E]
//   crmctl policy export DIR | policy validate DIR [--server-config FILE]
//       The whole policy as text files, one per object, and their offline
//       check (policy_bundle_commands.h).
//
//   crmctl share RECORD GRANTEE [read|read_write]     (default read)
//       RECORD: COLLECTION/ID, e.g. accounts/acme. GRANTEE: users/ID,
//       roles/ID, roleAndSubordinates/ID (the role and every role below it)
//       or groups/ID.
//   crmctl unshare SHARE            e.g. accounts/acme/shares/5f0c...
//   crmctl shares RECORD            the record's manual shares, every page
//   crmctl transfer RECORD NEW_OWNER [--etag E]    NEW_OWNER: users/ID or ID
//
// Bad input is refused locally with INVALID_ARGUMENT naming the argument and
// what is expected, before anything is sent.
#ifndef CRM_CLIENTS_POLICY_COMMANDS_H_
#define CRM_CLIENTS_POLICY_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "clients/cli_session.h"

namespace crm::client {

absl::Status RunPolicy(CliSession& session,
                       const std::vector<std::string>& args);
absl::Status RunShare(CliSession& session,
                      const std::vector<std::string>& args);
absl::Status RunUnshare(CliSession& session,
                        const std::vector<std::string>& args);
absl::Status RunShares(CliSession& session,
                       const std::vector<std::string>& args);
absl::Status RunTransfer(CliSession& session,
                         const std::vector<std::string>& args);

}  // namespace crm::client

#endif  // CRM_CLIENTS_POLICY_COMMANDS_H_
