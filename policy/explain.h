// Explanations of access decisions for the access review API
// (proto/crm/v1/access_review_service.proto): why a user may or may not do
// something, through which grants, and what they may do in general.
//
// Nothing here decides: every verdict is the Evaluator's, from the same code
// the request path runs (Evaluator::CheckObject, TraceRecord - CheckRecord
// that records every grant instead of stopping at the first -, Fields,
// CheckSystem). This file only names the grants behind the verdict: which
// permission set gives an object or field permission to whom, how a user is
// reached by a role hierarchy, a sharing rule or a group.
//
// Pure: no I/O; the caller loads the record and its facts
// (records/record_access.h) and checks login restrictions.
//
// Thread-safety: stateless functions over an immutable Evaluator.
#ifndef CRM_POLICY_EXPLAIN_H_
#define CRM_POLICY_EXPLAIN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "crm/v1/access_review_service.pb.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"

namespace crm::policy {

// What ExplainAccess needs beyond the evaluator.
struct ExplainInput {
  const model::ObjectSchema* schema = nullptr;  // required
  Operation op = Operation::kRead;
  // The record and its facts; null for a question about the object type.
  const RecordFacts* facts = nullptr;
  // Optional field whose permission is part of the verdict.
  const model::FieldSchema* field = nullptr;
  // The login restriction check of the user's profile: null when not
  // checked, else its outcome (OK or the refusal).
  const absl::Status* login = nullptr;
};

// The explanation of `in.op` by `eval`'s principal (the user acting through
// the service). `allowed` is the request path's verdict in this order:
// principal, login restrictions (if checked), object permission, record
// access (if a record is given), field (if given); `refused_layer` names the
// first layer that refused. Leaves user/service/record/object/action and
// policy_version for the caller to fill.
crm::v1::AccessExplanation ExplainAccess(const Evaluator& eval,
                                         const ExplainInput& in);

// The paths of a trace (Evaluator::TraceRecord) for `needed`, in the
// proto's form, appended to `out`.
void AppendPaths(const Evaluator& eval, const model::ObjectSchema& schema,
                 const RecordTrace& trace, Level needed,
                 google::protobuf::RepeatedPtrField<crm::v1::RecordAccessPath>*
                     out);

// The grants the principal's access to the records of `schema` is made of
// (for SummarizeUserAccess), and the object permissions it starts from.
std::vector<std::string> GrantSummary(const Evaluator& eval,
                                      const model::ObjectSchema& schema);

// Object, field and system permissions with their sources, for every
// object of the policy. Leaves user/service/policy_version to the caller.
crm::v1::EffectivePermissionsResponse EffectivePermissions(
    const Evaluator& eval);

// One row of the access matrix for the principal: per object of the policy
// the effective object permissions and the record scope of read and edit
// (the shape of RecordFilter's predicate, the filter List applies), per
// sensitive field read and edit (object permission AND field permission).
// Leaves user, username, profile, role and active to the caller.
crm::v1::AccessMatrixRow AccessMatrixRow(const Evaluator& eval);

// The principal's user's privileges (whatever service it acts through):
// the system permissions VIEW_ALL_DATA, MODIFY_ALL_DATA, MANAGE_POLICY,
// MANAGE_USERS, VIEW_AUDIT and PRIVACY_OPERATIONS (export and erase any
// person's data), and view-all / modify-all on any object,
// each with the grants that give it. Empty for an inactive user.
std::vector<crm::v1::PrivilegeGrant> UserPrivileges(const Evaluator& eval);

// ACTION_READ -> Operation::kRead, ...; false for UNSPECIFIED or unknown.
bool OperationOf(crm::v1::AccessAction action, Operation* op);

}  // namespace crm::policy

#endif  // CRM_POLICY_EXPLAIN_H_
