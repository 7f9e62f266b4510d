// A profile's API form (crm.v1.Profile) and its row (store::ProfileRow),
// both ways, with the checks every profile write makes: UserAdminService's
// Create/UpdateProfile and PolicyAdminService's ApplyPolicy (a bundle's
// profiles) store profiles through ApplyProfileFields alone.
//
// Thread-safety: free functions.
#ifndef CRM_SERVER_PROFILE_FIELDS_H_
#define CRM_SERVER_PROFILE_FIELDS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/v1/user_admin_service.pb.h"
#include "store/identity_store.h"

namespace crm::server {

// The stored row as the API returns it (name, lists, etag "v{version}").
absl::StatusOr<crm::v1::Profile> ToProfile(const store::ProfileRow& row);

// The fields a profile update may name: display_name, allowed_ip_ranges,
// allowed_countries, login_hours, login_time_zone, system_permissions.
const std::vector<std::string>& ProfilePaths();

// Copies the fields of `in` named in `paths` into `row`, then checks the
// whole row's login restrictions exactly as the policy compiles them
// (policy/profile_restrictions.h), so that no invalid profile is ever
// stored. The fields themselves are checked by policy::CheckProfileFields
// (as a policy bundle's profiles are). Every problem is reported:
// INVALID_ARGUMENT with a BadRequest of field violations
// ("profile.allowed_ip_ranges[1]", ...). Country codes are stored in upper
// case.
absl::Status ApplyProfileFields(const crm::v1::Profile& in,
                                const std::set<std::string>& paths,
                                store::ProfileRow* row);

}  // namespace crm::server

#endif  // CRM_SERVER_PROFILE_FIELDS_H_
