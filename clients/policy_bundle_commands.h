// crmctl commands for policy bundles (policy/bundle.h: the whole policy as
// text files, one per object).
//
//   crmctl policy export DIR
//       Writes every permission set, profile (with its login restrictions),
//       role, group, org-wide default, sharing rule and restriction rule the
//       server holds to DIR/{kind}/{id}.textproto (protobuf text format; no
//       etags, versions or times; byte-identical for the same policy).
//       Files under DIR's kind directories that name objects the server no
//       longer has are removed (so exporting into a git checkout shows
//       deletions); nothing else in DIR is touched. Needs manage_policy.
//   crmctl policy validate DIR [--server-config FILE]
//       Compiles the bundle in DIR with policy/ alone (no server): prints
//       every problem to stderr as "DIR/FILE:LINE:COLUMN: FIELD: message"
//       and fails (exit status 1) if there is one. With --server-config,
//       services/{name} assignees are checked against the services of
//       that server configuration (crm.internal.ServerConfig text format);
//       without it they are assumed registered. Users (users/{id}) are not
//       part of a bundle and are not checked.
//   crmctl policy plan DIR [--prune] [--user users/ID [--only-user]]
//                          [--service NAME] [--max-users N] [--json]
//       What applying DIR would change (object by object, field by field)
//       and who gains and loses which access on the live data
//       (PolicyAdminService.PlanPolicy): per user and object the
//       permissions, fields and record counts (exact for --user and for
//       the first --max-users users, default 20), per changed object the
//       users it alone affects. Ends with the apply command for the
//       version planned against. Nothing is written. With --only-user,
//       only --user's access is computed (a quick answer about one
//       person; no other user, no per-change impact).
//   crmctl policy apply DIR [--prune] [--expect-version V] [--message TEXT]
//       Makes the live policy DIR's in one transaction (ApplyPolicy); with
//       --expect-version, refused if the policy changed since that plan.
//       Applying what is live changes nothing.
//   crmctl policy history [--limit N]
//       The policy versions, newest first: who, when, how, what changed.
//   crmctl policy diff V1 V2
//       The objects that differ between two versions, field by field.
//   crmctl policy rollback V [--dry-run] [--message TEXT]
//       Plans the whole policy of version V (pruning what came after) and
//       applies it expecting the version it planned against: a new version
//       equal to V's policy.
//   crmctl policy shadow set DIR [--prune] [--message TEXT]
//       Evaluates DIR beside the live policy on every call, on every server,
//       without enforcing it (SetShadowPolicy); prints how it differs from
//       the live policy.
//   crmctl policy shadow status [--json]
//       The candidate, how it differs from the live policy now, and this
//       server's counts: decisions compared, disagreements.
//   crmctl policy shadow report [--limit N]
//       The recorded disagreements, newest first: who asked what about
//       which record, the live answer and the candidate's, each with its
//       rule (from the audit trail: needs view_audit).
//   crmctl policy shadow clear [--expect-revision R]
//       Stops shadow evaluation.
//
// A bundle is every regular file below DIR except hidden ones (a name
// starting with '.', e.g. .git) and files directly in DIR (a README).
#ifndef CRM_CLIENTS_POLICY_BUNDLE_COMMANDS_H_
#define CRM_CLIENTS_POLICY_BUNDLE_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clients/cli_session.h"
#include "crm/v1/admin_service.pb.h"
#include "policy/bundle.h"

namespace crm::client {

absl::Status PolicyExport(CliSession& session,
                          const std::vector<std::string>& args);
absl::Status PolicyValidate(CliSession& session,
                            const std::vector<std::string>& args);
absl::Status PolicyPlan(CliSession& session,
                        const std::vector<std::string>& args);
absl::Status PolicyApply(CliSession& session,
                         const std::vector<std::string>& args);
absl::Status PolicyHistory(CliSession& session,
                           const std::vector<std::string>& args);
absl::Status PolicyDiff(CliSession& session,
                        const std::vector<std::string>& args);
absl::Status PolicyRollback(CliSession& session,
                            const std::vector<std::string>& args);

// crmctl policy shadow ... (shadow_commands.cc).
absl::Status PolicyShadow(CliSession& session,
                          const std::vector<std::string>& args);

// The bundle files under `dir` (see the file comment). INVALID_ARGUMENT if
// `dir` is not a readable directory.
absl::StatusOr<policy::BundleFiles> ReadBundleDirectory(const std::string& dir);
// The same into a request's bundle; errors start with `command`.
absl::Status ReadBundleInto(const std::string& dir, absl::string_view command,
                            crm::v1::PolicyBundleFiles* out);
// Object-by-object, field-by-field changes, indented, one per line.
void PrintPolicyChanges(
    std::ostream& out,
    const google::protobuf::RepeatedPtrField<crm::v1::PolicyObjectChange>&
        changes);

}  // namespace crm::client

#endif  // CRM_CLIENTS_POLICY_BUNDLE_COMMANDS_H_
