// The names of system permissions (crm.v1.SystemPermission): the lower-case
// names of the enum values ("manage_users" for MANAGE_USERS), as written in
// ServiceConfig.system_permissions, profiles.system_permissions and
// WhoAmIResponse.system_permissions. This is the one mapping between names
// and values; auth/system_permissions.h forwards to it.
//
// Who holds a system permission is decided by policy::Evaluator::CheckSystem
// (the rule is written there, in evaluator.h).
//
// Pure functions; thread-safe.
#ifndef CRM_POLICY_SYSTEM_PERMISSION_H_
#define CRM_POLICY_SYSTEM_PERMISSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/policy.pb.h"

namespace crm::policy {

// Every known system permission, in enum order (UNSPECIFIED excluded).
const std::vector<crm::v1::SystemPermission>& AllSystemPermissions();

// "manage_users" for MANAGE_USERS; "" for UNSPECIFIED or an unknown value.
std::string SystemPermissionName(crm::v1::SystemPermission p);

// The value named `name` (lower case, exactly); INVALID_ARGUMENT "unknown
// system permission 'x'; known: view_all_data, ..." otherwise.
absl::StatusOr<crm::v1::SystemPermission> SystemPermissionFromName(
    absl::string_view name);

// "view_all_data, modify_all_data, ..." (for messages).
std::string KnownSystemPermissionNames();

// The bit of `p` in a system permission mask (1 << p), 0 if out of range.
inline uint32_t SystemBit(crm::v1::SystemPermission p) {
  const int v = static_cast<int>(p);
  return v > 0 && v < 32 ? uint32_t{1} << v : 0;
}

}  // namespace crm::policy

#endif  // CRM_POLICY_SYSTEM_PERMISSION_H_
