// A profile's login restrictions (allowed IP ranges, countries, login hours
// and their zone), compiled from its crm.internal.PolicyProfile once per
// policy version by PolicySnapshot::Build, and then only checked: the
// request path and Login look them up in the snapshot the call is decided
// with (PolicySnapshot::ProfileRestrictions) and parse nothing.
//
// Pure; thread-safe.
#ifndef CRM_POLICY_PROFILE_RESTRICTIONS_H_
#define CRM_POLICY_PROFILE_RESTRICTIONS_H_

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/error.h"
#include "crm/internal/policy_state.pb.h"
#include "crm/v1/user_admin_service.pb.h"
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

// The most bytes of a profile's display name.
inline constexpr size_t kMaxProfileDisplayNameBytes = 200;

// The checks of a profile's own fields beyond its login restrictions, for
// the fields named in `fields` (crm.v1.Profile field names): display_name
// set and at most kMaxProfileDisplayNameBytes; each allowed_ip_ranges and
// allowed_countries entry one non-empty entry without ',' or a line break
// (the profiles table stores them joined by those); every
// system_permissions value a known permission. One violation per problem,
// its field relative to the profile ("allowed_ip_ranges[1]"). What
// UserAdminService refuses before writing (server/user_admin_service.cc,
// which then compiles the restrictions with CompileProfileRestrictions) and
// what a policy bundle reports for its profiles (policy/bundle.h).
std::vector<base::FieldViolation> CheckProfileFields(
    const crm::v1::Profile& profile, const std::set<std::string>& fields);

}  // namespace crm::policy

#endif  // CRM_POLICY_PROFILE_RESTRICTIONS_H_
