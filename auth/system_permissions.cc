#include "auth/system_permissions.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "policy/system_permission.h"

namespace crm::auth {
namespace {

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
  std::string name = policy::SystemPermissionName(p);
  if (!name.empty()) return name;
  return absl::InvalidArgumentError(absl::StrCat(
      "system permission ", static_cast<int>(p),
      " is not a known SystemPermission; known: ", KnownSystemPermissions()));
}

absl::StatusOr<crm::v1::SystemPermission> SystemPermissionFromName(
    absl::string_view name) {
  return policy::SystemPermissionFromName(name);
}

std::string KnownSystemPermissions() {
  return policy::KnownSystemPermissionNames();
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
