#include "policy/profile_restrictions.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "base/error.h"

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

}  // namespace crm::policy
