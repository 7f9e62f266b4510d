// Turning stored profiles and configured services into LoginRestrictions
// and system permissions (the column formats are in store/identity_store.h).
//
// Pure functions; thread-safe.
#ifndef CRM_AUTH_PROFILE_RESTRICTIONS_H_
#define CRM_AUTH_PROFILE_RESTRICTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "auth/login_restrictions.h"
#include "auth/system_permissions.h"
#include "crm/internal/server_config.pb.h"
#include "store/identity_store.h"

namespace crm::auth {

// The restrictions of `profile` for a user whose own time zone is
// `user_time_zone`. Login hours are in the profile's login_time_zone, else
// the user's time zone, else UTC. INVALID_ARGUMENT naming the profile and
// the bad entry.
absl::StatusOr<LoginRestrictions> ProfileRestrictions(
    const store::ProfileRow& profile, absl::string_view user_time_zone);

// The restrictions of a service (allowed_ip_ranges, allowed_countries; no
// login hours), labelled "service 'NAME'".
absl::StatusOr<LoginRestrictions> ServiceRestrictions(
    const crm::internal::ServiceConfig& service);

// The profile's system permissions.
absl::StatusOr<PermissionSet> ProfilePermissions(
    const store::ProfileRow& profile);

// Checks that every column of `profile` parses (restrictions with zone
// "UTC" when none is set, permissions). Use before storing a profile.
absl::Status ValidateProfile(const store::ProfileRow& profile);

// "A\nB" -> {"A", "B"} and "A,B" -> {"A", "B"}: entries trimmed, empty ones
// dropped.
std::vector<std::string> SplitList(absl::string_view text, char separator);

}  // namespace crm::auth

#endif  // CRM_AUTH_PROFILE_RESTRICTIONS_H_
