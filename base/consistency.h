// The consistency token (crm/v1/errors.proto POLICY_NOT_CURRENT; README
// "Consistency tokens"): every response names, in trailing metadata, the
// policy version its call was decided with (or made, for a policy write);
// a request that names a version its client has seen is decided by a
// snapshot at least that new, on whichever server it reaches. Both are
// decimal integers (policy versions, crm.v1.PolicyVersionInfo.version).
#ifndef CRM_BASE_CONSISTENCY_H_
#define CRM_BASE_CONSISTENCY_H_

namespace crm::base {

// Response (trailing metadata): "17".
inline constexpr char kPolicyVersionHeader[] = "x-crm-policy-version";
// Request: the highest x-crm-policy-version the client has seen.
inline constexpr char kMinPolicyVersionHeader[] = "x-crm-min-policy-version";

}  // namespace crm::base

#endif  // CRM_BASE_CONSISTENCY_H_
