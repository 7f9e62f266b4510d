#include "policy/grantee.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace crm::policy {
namespace {

constexpr absl::string_view kRoleAndSubordinates = "roleAndSubordinates/";

// "prefix{id}" with a non-empty id free of '/'.
bool HasForm(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix)) return false;
  absl::string_view id = name.substr(prefix.size());
  return !id.empty() && !absl::StrContains(id, '/');
}

absl::Status BadName(absl::string_view what, absl::string_view name,
                     absl::string_view form) {
  return absl::InvalidArgumentError(absl::StrCat(
      "grantee: ", what, " '", name, "' is not of the form '", form, "'"));
}

}  // namespace

absl::StatusOr<std::string> GranteeKey(const crm::v1::Grantee& grantee) {
  switch (grantee.kind_case()) {
    case crm::v1::Grantee::kUser:
      if (!HasForm(grantee.user(), "users/")) {
        return BadName("user", grantee.user(), "users/{id}");
      }
      return grantee.user();
    case crm::v1::Grantee::kRole:
      if (!HasForm(grantee.role(), "roles/")) {
        return BadName("role", grantee.role(), "roles/{id}");
      }
      return grantee.role();
    case crm::v1::Grantee::kRoleAndSubordinates: {
      const std::string& role = grantee.role_and_subordinates();
      if (!HasForm(role, "roles/")) {
        return BadName("role_and_subordinates", role, "roles/{id}");
      }
      return absl::StrCat(kRoleAndSubordinates, role.substr(6));
    }
    case crm::v1::Grantee::kGroup:
      if (!HasForm(grantee.group(), "groups/")) {
        return BadName("group", grantee.group(), "groups/{id}");
      }
      return grantee.group();
    case crm::v1::Grantee::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "grantee: none of user, role, role_and_subordinates or group is set");
}

absl::StatusOr<crm::v1::Grantee> GranteeFromKey(absl::string_view key) {
  crm::v1::Grantee g;
  if (HasForm(key, "users/")) {
    g.set_user(std::string(key));
  } else if (HasForm(key, "roles/")) {
    g.set_role(std::string(key));
  } else if (HasForm(key, kRoleAndSubordinates)) {
    g.set_role_and_subordinates(
        absl::StrCat("roles/", key.substr(kRoleAndSubordinates.size())));
  } else if (HasForm(key, "groups/")) {
    g.set_group(std::string(key));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "grantee key '", key,
        "' is not one of users/{id}, roles/{id}, roleAndSubordinates/{id}, "
        "groups/{id}"));
  }
  return g;
}

}  // namespace crm::policy
