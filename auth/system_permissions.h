// System permissions: rights that are not about records (who may manage
// users, policy, audit, exports). Held by profiles (comma-separated in
// profiles.system_permissions) and by services (ServiceConfig
// .system_permissions). When a service acts for a user, the effective set is
// the intersection: a service's scope limits what a user can do through it.
//
// Pure functions; thread-safe.
#ifndef CRM_AUTH_SYSTEM_PERMISSIONS_H_
#define CRM_AUTH_SYSTEM_PERMISSIONS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::auth {

inline constexpr absl::string_view kViewAllData = "view_all_data";
inline constexpr absl::string_view kModifyAllData = "modify_all_data";
inline constexpr absl::string_view kManageUsers = "manage_users";
inline constexpr absl::string_view kManagePolicy = "manage_policy";
inline constexpr absl::string_view kViewAudit = "view_audit";
inline constexpr absl::string_view kExport = "export";

using PermissionSet = std::set<std::string>;

// True for the six names above.
bool IsSystemPermission(absl::string_view name);

// Parses a comma-separated list (whitespace around names ignored, empty
// entries skipped). INVALID_ARGUMENT naming `owner_label` and the unknown
// name, listing the known ones.
absl::StatusOr<PermissionSet> ParseSystemPermissions(
    absl::string_view csv, absl::string_view owner_label);

// Same for a list of names (a service's config).
absl::StatusOr<PermissionSet> ParseSystemPermissions(
    const std::vector<std::string>& names, absl::string_view owner_label);

// Names in both sets.
PermissionSet Intersect(const PermissionSet& a, const PermissionSet& b);

}  // namespace crm::auth

#endif  // CRM_AUTH_SYSTEM_PERMISSIONS_H_
