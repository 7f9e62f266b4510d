#include "auth/system_permissions.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::auth {
namespace {

struct Known {
  absl::string_view name;
  crm::v1::SystemPermission value;
};

// The one table of names and values.
constexpr Known kAll[] = {
    {kViewAllData, crm::v1::VIEW_ALL_DATA},
    {kModifyAllData, crm::v1::MODIFY_ALL_DATA},
    {kManageUsers, crm::v1::MANAGE_USERS},
    {kManagePolicy, crm::v1::MANAGE_POLICY},
    {kViewAudit, crm::v1::VIEW_AUDIT},
    {kExport, crm::v1::EXPORT},
    {kPrivacyOperations, crm::v1::PRIVACY_OPERATIONS},
};

absl::Status Add(absl::string_view name, absl::string_view owner_label,
                 PermissionSet* out) {
  name = absl::StripAsciiWhitespace(name);
  if (name.empty()) return absl::OkStatus();
  if (!IsSystemPermission(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "system_permissions of ", owner_label, ": unknown permission '", name,
        "'; known: ", KnownSystemPermissions()));
  }
  out->insert(std::string(name));
  return absl::OkStatus();
}

}  // namespace

bool IsSystemPermission(absl::string_view name) {
  return SystemPermissionFromName(name).ok();
}

absl::StatusOr<std::string> SystemPermissionName(crm::v1::SystemPermission p) {
  for (const Known& k : kAll) {
    if (k.value == p) return std::string(k.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "system permission ", static_cast<int>(p),
      " is not a known SystemPermission; known: ", KnownSystemPermissions()));
}

absl::StatusOr<crm::v1::SystemPermission> SystemPermissionFromName(
    absl::string_view name) {
  for (const Known& k : kAll) {
    if (k.name == name) return k.value;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown system permission '", name,
                   "'; known: ", KnownSystemPermissions()));
}

std::string KnownSystemPermissions() {
  std::vector<absl::string_view> names;
  for (const Known& k : kAll) names.push_back(k.name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<PermissionSet> ParseSystemPermissions(
    absl::string_view csv, absl::string_view owner_label) {
  PermissionSet out;
  for (absl::string_view name : absl::StrSplit(csv, ',')) {
    if (absl::Status s = Add(name, owner_label, &out); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<PermissionSet> ParseSystemPermissions(
    const std::vector<std::string>& names, absl::string_view owner_label) {
  PermissionSet out;
  for (const std::string& name : names) {
    if (absl::Status s = Add(name, owner_label, &out); !s.ok()) return s;
  }
  return out;
}

PermissionSet Intersect(const PermissionSet& a, const PermissionSet& b) {
  PermissionSet out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(),
                        std::inserter(out, out.end()));
  return out;
}

}  // namespace crm::auth
