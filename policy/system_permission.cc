#include "policy/system_permission.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crm::policy {

const std::vector<crm::v1::SystemPermission>& AllSystemPermissions() {
  static const auto* all = [] {
    auto* out = new std::vector<crm::v1::SystemPermission>();
    const auto* e = crm::v1::SystemPermission_descriptor();
    for (int i = 0; i < e->value_count(); ++i) {
      int v = e->value(i)->number();
      if (v > 0 && v < 32) {
        out->push_back(static_cast<crm::v1::SystemPermission>(v));
      }
    }
    return out;
  }();
  return *all;
}

std::string SystemPermissionName(crm::v1::SystemPermission p) {
  if (SystemBit(p) == 0 || !crm::v1::SystemPermission_IsValid(p)) return "";
  return absl::AsciiStrToLower(crm::v1::SystemPermission_Name(p));
}

absl::StatusOr<crm::v1::SystemPermission> SystemPermissionFromName(
    absl::string_view name) {
  for (crm::v1::SystemPermission p : AllSystemPermissions()) {
    if (SystemPermissionName(p) == name) return p;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown system permission '", name,
                   "'; known: ", KnownSystemPermissionNames()));
}

std::string KnownSystemPermissionNames() {
  std::vector<std::string> names;
  for (crm::v1::SystemPermission p : AllSystemPermissions()) {
    names.push_back(SystemPermissionName(p));
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace crm::policy
