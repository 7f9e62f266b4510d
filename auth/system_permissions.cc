#include "auth/system_permissions.h"

#include <algorithm>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::auth {
namespace {

constexpr absl::string_view kAll[] = {kViewAllData, kModifyAllData,
                                      kManageUsers, kManagePolicy,
                                      kViewAudit,   kExport};

absl::Status Add(absl::string_view name, absl::string_view owner_label,
                 PermissionSet* out) {
  name = absl::StripAsciiWhitespace(name);
  if (name.empty()) return absl::OkStatus();
  if (!IsSystemPermission(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "system_permissions of ", owner_label, ": unknown permission '", name,
        "'; known: view_all_data, modify_all_data, manage_users, "
        "manage_policy, view_audit, export"));
  }
  out->insert(std::string(name));
  return absl::OkStatus();
}

}  // namespace

bool IsSystemPermission(absl::string_view name) {
  return std::find(std::begin(kAll), std::end(kAll), name) != std::end(kAll);
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
