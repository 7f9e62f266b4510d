// PlanPolicy's access impact (crm/v1/admin_service.proto PolicyPlan): the
// live and the planned policy compiled as they would be enforced, every
// user's access compared through policy/plan_impact.h (the Evaluator's own
// answers, List's record filters), record counts taken in SQL through
// records/policy_impact.h, and each changed object's impact alone.
//
// Thread-safety: stateless.
#ifndef CRM_SERVER_PLAN_IMPACT_SERVICE_H_
#define CRM_SERVER_PLAN_IMPACT_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/v1/admin_service.pb.h"
#include "server/policy_loader.h"
#include "server/server_core.h"

namespace crm::server {

// Fills `out`'s users and grants for the change from `live` to `target`
// (both with the live users), unless out->no_change(). INVALID_ARGUMENT if
// `target` does not compile with them, or for a bad user, service or limit
// in `request` (checked in either case). `live_compiled`: `live` as
// compiled already (the installed snapshot of the same version), or null to
// compile it here.
absl::Status PlanImpact(
    const ServerCore& core, const PolicyLoader& loader,
    const std::string& calling_service,
    const crm::internal::PolicyState& live,
    const crm::internal::PolicyState& target,
    const crm::v1::PlanPolicyRequest& request, crm::v1::PolicyPlan* out,
    std::shared_ptr<const policy::PolicySnapshot> live_compiled = nullptr);

}  // namespace crm::server

#endif  // CRM_SERVER_PLAN_IMPACT_SERVICE_H_
