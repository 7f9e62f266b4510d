// System permissions: rights that are not about records (who may manage
// users, policy, audit, exports). Held by profiles (comma-separated in
// profiles.system_permissions), permission sets and services (ServiceConfig
// .system_permissions). Who holds one is decided in one place only,
// policy::Evaluator::CheckSystem (policy/evaluator.h); this file only
// parses and names them.
//
// Names are the lower-case names of the crm.v1.SystemPermission values
// (policy.proto); the mapping is policy/system_permission.h, which the
// functions below forward to.
//
// Pure functions; thread-safe.
#ifndef CRM_AUTH_SYSTEM_PERMISSIONS_H_
#define CRM_AUTH_SYSTEM_PERMISSIONS_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/v1/policy.pb.h"

namespace crm::auth {

inline constexpr absl::string_view kViewAllData = "view_all_data";
inline constexpr absl::string_view kModifyAllData = "modify_all_data";
inline constexpr absl::string_view kManageUsers = "manage_users";
inline constexpr absl::string_view kManagePolicy = "manage_policy";
inline constexpr absl::string_view kViewAudit = "view_audit";
inline constexpr absl::string_view kExport = "export";
inline constexpr absl::string_view kPrivacyOperations = "privacy_operations";

using PermissionSet = std::set<std::string>;

// True for the names above.
bool IsSystemPermission(absl::string_view name);

// The name of `p` ("manage_users" for MANAGE_USERS). INVALID_ARGUMENT for
// SYSTEM_PERMISSION_UNSPECIFIED or a value this build does not know.
absl::StatusOr<std::string> SystemPermissionName(crm::v1::SystemPermission p);

// The value named `name`; INVALID_ARGUMENT listing the known names.
absl::StatusOr<crm::v1::SystemPermission> SystemPermissionFromName(
    absl::string_view name);

// "view_all_data, manage_users, ..." (for messages).
std::string KnownSystemPermissions();

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
