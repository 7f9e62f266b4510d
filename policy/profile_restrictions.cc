#include "policy/profile_restrictions.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/error.h"
#include "policy/system_permission.h"

namespace crm::policy {

std::string ProfileLabel(absl::string_view display_name) {
  return absl::StrCat("profile '", display_name, "'");
}

absl::StatusOr<login::LoginRestrictions> CompileProfileRestrictions(
    const crm::internal::PolicyProfile& profile) {
  login::LoginRuleSpec spec;
  spec.allowed_ip_ranges.assign(profile.allowed_ip_ranges().begin(),
                                profile.allowed_ip_ranges().end());
  spec.allowed_countries.assign(profile.allowed_countries().begin(),
                                profile.allowed_countries().end());
  spec.login_hours = profile.login_hours();
  spec.login_time_zone = profile.login_time_zone();
  absl::StatusOr<login::LoginRestrictions> compiled =
      login::LoginRestrictions::Create(ProfileLabel(profile.display_name()),
                                       spec);
  if (!compiled.ok()) {
    return base::WithMessage(
        compiled.status(),
        absl::StrCat(profile.name(), ": ", compiled.status().message()));
  }
  return compiled;
}

std::vector<base::FieldViolation> CheckProfileFields(
    const crm::v1::Profile& profile, const std::set<std::string>& fields) {
  std::vector<base::FieldViolation> out;
  if (fields.count("display_name")) {
    if (profile.display_name().empty()) {
      out.push_back({"display_name",
                     "required: a profile is known by its display name "
                     "(e.g. \"Sales Rep\")"});
    } else if (profile.display_name().size() > kMaxProfileDisplayNameBytes) {
      out.push_back(
          {"display_name",
           absl::StrCat("at most ", kMaxProfileDisplayNameBytes, " bytes")});
    }
  }
  for (const char* list : {"allowed_ip_ranges", "allowed_countries"}) {
    if (!fields.count(list)) continue;
    const auto& entries = std::string(list) == "allowed_ip_ranges"
                              ? profile.allowed_ip_ranges()
                              : profile.allowed_countries();
    for (int i = 0; i < entries.size(); ++i) {
      absl::string_view entry = absl::StripAsciiWhitespace(entries[i]);
      if (entry.empty() || absl::StrContains(entry, ',') ||
          absl::StrContains(entry, '\n')) {
        out.push_back({absl::StrCat(list, "[", i, "]"),
                       absl::StrCat("'", entries[i],
                                    "' is not one entry; give each range or "
                                    "code as its own element")});
      }
    }
  }
  if (fields.count("system_permissions")) {
    for (int i = 0; i < profile.system_permissions_size(); ++i) {
      const int p = profile.system_permissions(i);
      if (SystemPermissionName(static_cast<crm::v1::SystemPermission>(p))
              .empty()) {
        out.push_back({absl::StrCat("system_permissions[", i, "]"),
                       absl::StrCat("system permission ", p,
                                    " is not a known SystemPermission; known: ",
                                    KnownSystemPermissionNames())});
      }
    }
  }
  return out;
}

}  // namespace crm::policy
