// A profile's login restrictions (allowed IP ranges, countries, login hours
// and their zone), compiled from its crm.internal.PolicyProfile once per
// policy version by PolicySnapshot::Build, and then only checked: the
// request path and Login look them up in the snapshot the call is decided
// with (PolicySnapshot::ProfileRestrictions) and parse nothing.
//
// Pure; thread-safe.
#ifndef CRM_POLICY_PROFILE_RESTRICTIONS_H_
#define CRM_POLICY_PROFILE_RESTRICTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/policy_state.pb.h"
#include "login/login_restrictions.h"

namespace crm::policy {

// "profile 'Sales Rep'": how denials name a profile's restrictions.
std::string ProfileLabel(absl::string_view display_name);

// The restrictions of `profile`, labelled ProfileLabel(display_name).
// Hours without a login_time_zone follow the user's zone at the check
// (login::LoginContext::user_time_zone). Errors: INVALID_ARGUMENT
// "profiles/x: login restrictions of profile 'X': allowed_ip_ranges[1]:
// ... (and N more: ...)" with a google.rpc.BadRequest listing every problem
// (fields as in login::LoginRuleSpec, unprefixed).
absl::StatusOr<login::LoginRestrictions> CompileProfileRestrictions(
    const crm::internal::PolicyProfile& profile);

}  // namespace crm::policy

#endif  // CRM_POLICY_PROFILE_RESTRICTIONS_H_
