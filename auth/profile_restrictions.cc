#include "auth/profile_restrictions.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "auth/system_permissions.h"
#include "base/error.h"
#include "policy/profile_restrictions.h"

namespace crm::auth {

absl::Status CheckProfileRestrictions(const policy::PolicySnapshot* policy,
                                      absl::string_view profile_id,
                                      const login::LoginContext& context,
                                      const login::CountryResolver* geo) {
  const login::LoginRestrictions* restrictions =
      policy == nullptr ? nullptr : policy->ProfileRestrictions(profile_id);
  if (restrictions == nullptr) {
    const std::string version = policy == nullptr
                                    ? std::string("none")
                                    : absl::StrCat(policy->version());
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "the policy on this server (version ", version,
        ") does not have profiles/", profile_id,
        " yet, so its login restrictions cannot be checked; retry shortly"));
    status = base::WithErrorInfo(
        std::move(status), crm::v1::POLICY_NOT_CURRENT,
        {{"resource", absl::StrCat("profiles/", profile_id)},
         {"policy_version", version}});
    return base::WithRetryInfo(std::move(status), absl::Seconds(1));
  }
  return restrictions->Check(context, geo);
}

absl::StatusOr<login::LoginRestrictions> ServiceRestrictions(
    const crm::internal::ServiceConfig& service) {
  login::LoginRuleSpec spec;
  spec.allowed_ip_ranges.assign(service.allowed_ip_ranges().begin(),
                                service.allowed_ip_ranges().end());
  spec.allowed_countries.assign(service.allowed_countries().begin(),
                                service.allowed_countries().end());
  return login::LoginRestrictions::Create(
      absl::StrCat("service '", service.name(), "'"), spec);
}

absl::Status ValidateProfile(const store::ProfileRow& profile) {
  if (profile.id.empty() || profile.name.empty()) {
    return absl::InvalidArgumentError("a profile needs an id and a name");
  }
  auto restrictions =
      policy::CompileProfileRestrictions(store::ToPolicyProfile(profile));
  if (!restrictions.ok()) return restrictions.status();
  return ParseSystemPermissions(profile.system_permissions,
                                policy::ProfileLabel(profile.name))
      .status();
}

}  // namespace crm::auth
