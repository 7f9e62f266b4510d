// What the admin services (PolicyAdminService, UserAdminService) share:
// who may call (CheckSystemPermission, which asks policy::Evaluator), the one
// way to write the policy's input (bump the
// policy version first, validate by compiling the result in the same
// transaction, install after the commit), etags, referrer lists and simple
// key-ordered paging.
//
// Thread-safety: free functions; safe for concurrent calls.
#ifndef CRM_SERVER_ADMIN_SUPPORT_H_
#define CRM_SERVER_ADMIN_SUPPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/internal/server_config.pb.h"
#include "crm/v1/policy.pb.h"
#include "google/protobuf/message.h"
#include "grpcpp/server_context.h"
#include "policy/evaluator.h"
#include "policy/principal.h"
#include "server/policy_loader.h"
#include "server/server_core.h"
#include "server/request_context.h"
#include "store/database.h"
#include "store/policy_store.h"

namespace crm::server {

// OK if the caller `evaluator` is bound to holds system permission `p`, as
// policy::Evaluator::CheckSystem decides it (the rule is written there;
// WhoAmI lists the same). Else PERMISSION_DENIED "{permission} is required
// to call {rpc}; {who} does not hold it (...)" with ErrorInfo
// SYSTEM_PERMISSION_REQUIRED {permission, method} and the refusing rule as
// the decision note. `rpc` is e.g. "UserAdminService.CreateUser". The
// pipeline (pipeline.h) runs it for every method with
// MethodPolicy::requires_permission.
absl::Status CheckSystemPermission(const policy::Evaluator& evaluator,
                                   crm::v1::SystemPermission p,
                                   absl::string_view rpc);

// How a policy write is recorded and reported.
struct WriteOptions {
  // Kept in the version's history entry (ApplyPolicy's message).
  std::string message;
  // A write that changes nothing (no object, profile or user differs, as the
  // audit diff sees it) is rolled back: no version, no etag, no history.
  bool skip_if_unchanged = false;
  // If set: whether the write changed anything (false only with
  // skip_if_unchanged), and the version it made.
  bool* changed = nullptr;
  int64_t* version = nullptr;
};

// Every policy write (WritePolicy, WritePolicyRows, ApplyPolicyState) is
// also recorded in the policy's history (store/policy_store.h: the version,
// the call's actor, service, method and request id, the message, the
// changed objects and the resulting policy) in its transaction.

// A change of policy objects: applied to `state` (the committed policy,
// loaded after the version bump) and to the store, on `session`.
using PolicyChange = std::function<absl::Status(
    store::Session&, store::PolicyStore&, crm::internal::PolicyState&)>;

// One policy write in one transaction: bump the policy version first
// (serialising policy writers), load the state, apply `change`, compile the
// result (INVALID_ARGUMENT with the compiler's message if it does not);
// installed on this server after the commit. Nothing is written on failure.
absl::Status WritePolicy(ServerCore* core, PolicyLoader& loader,
                         const PolicyChange& change,
                         const WriteOptions& options = {});

// The general form: `change` reads `before` (the stored state after the
// bump), writes the rows and leaves the would-be state in `after`.
using PolicyStateChange = std::function<absl::Status(
    store::Session&, store::PolicyStore&, const crm::internal::PolicyState&,
    crm::internal::PolicyState&)>;
absl::Status ApplyPolicyState(ServerCore* core, PolicyLoader& loader,
                              const PolicyStateChange& change,
                              const WriteOptions& options = {});

// A change of rows the state is loaded from (users, profiles): `write`
// changes them on `session`; `check` (may be null) then inspects the state
// loaded after the write and may refuse it.
using RowsChange = std::function<absl::Status(store::Session&)>;
using StateCheck =
    std::function<absl::Status(const crm::internal::PolicyState&)>;

// An object whose fields the policy state does not hold (a user's username,
// display name, time zone): its field-level diff joins the audit event of
// the policy change (or makes one, "policy.create/update/delete" by which
// of before/after is null), in the same transaction. Fields the state
// already diffs are not repeated.
struct DescribedObject {
  std::string name;  // "users/bob"
  const google::protobuf::Message* before = nullptr;  // null: created
  const google::protobuf::Message* after = nullptr;   // null: deleted
};

// As WritePolicy, for a RowsChange: bump first, `write`, load the state,
// `check`, compile, audit (with `described`, if any), commit, install.
absl::Status WritePolicyRows(ServerCore* core, PolicyLoader& loader,
                             const RowsChange& write, const StateCheck& check,
                             const DescribedObject* described = nullptr,
                             const WriteOptions& options = {});

// -1 for an empty etag (unconditional), else its version (INVALID_ARGUMENT
// for a malformed one).
absl::StatusOr<int64_t> ParseOptionalEtag(const std::string& etag);

// ABORTED "{name} was changed since etag ..." if `expected` (>= 0) is not
// `current`.
absl::Status CheckEtag(const std::string& name, int64_t expected,
                       int64_t current);

// ABORTED "{name} was changed by another writer; read it again".
absl::Status ChangedMeanwhile(const std::string& name);

// The policy objects that name `name` ("roles/x", "groups/x", "users/x",
// "profiles/x"): child roles, users of a role, group members, sharing and
// restriction rule grantees, permission set assignees; each as "{object}"
// or "{object} ({how})".
std::vector<std::string> PolicyReferrers(
    const crm::internal::PolicyState& state, const std::string& name);

// The record shares that name role or group `name` ("roles/x" also as
// "roleAndSubordinates/x"), as one referrer "N record share(s)" appended
// to `referrers` when there are any. Other kinds: nothing.
absl::Status AddShareReferrers(store::Session& session,
                               store::PolicyStore& store,
                               const std::string& name,
                               std::vector<std::string>* referrers);

// OK if `referrers` is empty, else FAILED_PRECONDITION "{name} is still
// referenced by A, B, ... and N more; change them first".
absl::Status RefuseIfReferenced(const std::string& name,
                                std::vector<std::string> referrers);

// Page size of a List request: 1..kMaxPageSize, 0 meaning kDefaultPageSize;
// INVALID_ARGUMENT otherwise.
inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;
absl::StatusOr<int> PageSize(int requested);

// Page tokens of key-ordered lists: the last key of the page, tagged with
// `list` (e.g. "roles", "users") so a token of one list is refused by
// another. DecodePageToken gives "" for an empty token; INVALID_ARGUMENT
// naming `rpc` for a token it did not issue.
std::string EncodePageToken(absl::string_view list, absl::string_view key);
absl::StatusOr<std::string> DecodePageToken(const std::string& token,
                                            absl::string_view list,
                                            absl::string_view rpc);

}  // namespace crm::server

#endif  // CRM_SERVER_ADMIN_SUPPORT_H_
