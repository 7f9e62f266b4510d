// The audit events of a policy write: one per object that the write
// created, changed or removed, found by comparing the policy state before
// and after it (every kind in crm.internal.PolicyState: permission sets,
// org-wide defaults, roles, groups, sharing rules, restriction rules,
// users' role/profile/active, profiles with their login restrictions), so a
// new kind of policy object is audited without code here.
#ifndef CRM_AUDIT_POLICY_DIFF_H_
#define CRM_AUDIT_POLICY_DIFF_H_

#include <vector>

#include "crm/internal/policy_state.pb.h"
#include "crm/v1/audit_service.pb.h"

namespace crm::audit {

// Events "policy.create" / "policy.update" / "policy.delete" with the
// object's name as resource and the field-level diff (etags and derived
// fields left out), in PolicyState field order then name order.
std::vector<crm::v1::AuditEvent> PolicyChangeEvents(
    const crm::internal::PolicyState& before,
    const crm::internal::PolicyState& after);

}  // namespace crm::audit

#endif  // CRM_AUDIT_POLICY_DIFF_H_
