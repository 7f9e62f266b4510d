// Login restrictions at Login and on every authenticated call, without
// parsing anything per call: a user's are their profile's, compiled with
// the policy version (policy/profile_restrictions.h) and read from the
// snapshot the call is decided with; a service's are compiled once at
// start-up (ServiceRestrictions). Also the check a direct writer of profile
// rows runs before storing one (ValidateProfile).
//
// Pure functions; thread-safe.
#ifndef CRM_AUTH_PROFILE_RESTRICTIONS_H_
#define CRM_AUTH_PROFILE_RESTRICTIONS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/server_config.pb.h"
#include "login/country_resolver.h"
#include "login/login_restrictions.h"
#include "policy/snapshot.h"
#include "store/identity_store.h"

namespace crm::auth {

// Checks the login restrictions of profile `profile_id` (the id) as
// compiled in `policy`, for `context` (the user's own time zone in
// context.user_time_zone). OK, or PERMISSION_DENIED naming the rule
// (login/login_restrictions.h). Fail closed: when `policy` is null or does
// not have the profile (one created after the snapshot was built, until
// this server installs the next policy version: at most one poll),
// UNAVAILABLE with ErrorInfo POLICY_NOT_CURRENT and RetryInfo; never OK.
absl::Status CheckProfileRestrictions(const policy::PolicySnapshot* policy,
                                      absl::string_view profile_id,
                                      const login::LoginContext& context,
                                      const login::CountryResolver* geo);

// The restrictions of a service (allowed_ip_ranges, allowed_countries; no
// login hours), labelled "service 'NAME'". INVALID_ARGUMENT as
// login::LoginRestrictions::Create.
absl::StatusOr<login::LoginRestrictions> ServiceRestrictions(
    const crm::internal::ServiceConfig& service);

// Checks that `profile` may be stored: an id and a name, restrictions that
// compile exactly as the policy compiles them, known permission names. For
// code that writes profile rows directly (demo data, tests); the policy
// compile of every write refuses the same.
absl::Status ValidateProfile(const store::ProfileRow& profile);

}  // namespace crm::auth

#endif  // CRM_AUTH_PROFILE_RESTRICTIONS_H_
