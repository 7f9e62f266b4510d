#include "auth/profile_restrictions.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace crm::auth {
namespace {

std::string ProfileLabel(const store::ProfileRow& profile) {
  return absl::StrCat("profile '", profile.name, "'");
}

}  // namespace

std::vector<std::string> SplitList(absl::string_view text, char separator) {
  std::vector<std::string> out;
  for (absl::string_view piece : absl::StrSplit(text, separator)) {
    piece = absl::StripAsciiWhitespace(piece);
    if (!piece.empty()) out.emplace_back(piece);
  }
  return out;
}

absl::StatusOr<LoginRestrictions> ProfileRestrictions(
    const store::ProfileRow& profile, absl::string_view user_time_zone) {
  std::string zone = profile.login_time_zone;
  if (zone.empty()) zone = std::string(user_time_zone);
  if (zone.empty()) zone = "UTC";
  std::string hours(absl::StripAsciiWhitespace(profile.login_hours));
  // An empty spec needs an empty (or any valid) zone; keep UTC then so that
  // a user's bad zone cannot refuse a profile without hours.
  if (hours.empty()) zone = "UTC";
  return LoginRestrictions::Create(
      ProfileLabel(profile), SplitList(profile.allowed_ip_ranges, '\n'),
      SplitList(profile.allowed_countries, ','), hours, zone);
}

absl::StatusOr<LoginRestrictions> ServiceRestrictions(
    const crm::internal::ServiceConfig& service) {
  std::vector<std::string> ranges(service.allowed_ip_ranges().begin(),
                                  service.allowed_ip_ranges().end());
  std::vector<std::string> countries(service.allowed_countries().begin(),
                                     service.allowed_countries().end());
  return LoginRestrictions::Create(
      absl::StrCat("service '", service.name(), "'"), ranges, countries, "",
      "");
}

absl::StatusOr<PermissionSet> ProfilePermissions(
    const store::ProfileRow& profile) {
  return ParseSystemPermissions(profile.system_permissions,
                                ProfileLabel(profile));
}

absl::Status ValidateProfile(const store::ProfileRow& profile) {
  if (profile.id.empty() || profile.name.empty()) {
    return absl::InvalidArgumentError("a profile needs an id and a name");
  }
  auto r = ProfileRestrictions(profile, "UTC");
  if (!r.ok()) return r.status();
  return ProfilePermissions(profile).status();
}

}  // namespace crm::auth
