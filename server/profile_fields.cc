#include "server/profile_fields.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "auth/system_permissions.h"
#include "base/error.h"
#include "model/record.h"
#include "policy/profile_restrictions.h"

namespace crm::server {

using crm::v1::Profile;

absl::StatusOr<Profile> ToProfile(const store::ProfileRow& row) {
  Profile out;
  out.set_name(absl::StrCat("profiles/", row.id));
  out.set_display_name(row.name);
  for (const std::string& r :
       store::SplitListColumn(row.allowed_ip_ranges, '\n')) {
    out.add_allowed_ip_ranges(r);
  }
  for (const std::string& c :
       store::SplitListColumn(row.allowed_countries, ',')) {
    out.add_allowed_countries(c);
  }
  out.set_login_hours(row.login_hours);
  out.set_login_time_zone(row.login_time_zone);
  // Canonical (enum) order, as the policy state has them.
  for (crm::v1::SystemPermission p :
       store::ParseProfilePermissions(row.system_permissions)) {
    out.add_system_permissions(p);
  }
  out.set_etag(model::EtagOf(row.version));
  return out;
}

namespace {

// Joins list entries with `separator` (each stripped of surrounding
// space), or nullopt if one is not a single entry (policy::CheckProfileFields
// reports it).
std::optional<std::string> JoinEntries(
    const google::protobuf::RepeatedPtrField<std::string>& entries,
    char separator) {
  std::vector<std::string> out;
  for (const std::string& raw : entries) {
    std::string entry(absl::StripAsciiWhitespace(raw));
    if (entry.empty() || absl::StrContains(entry, ',') ||
        absl::StrContains(entry, '\n')) {
      return std::nullopt;
    }
    out.push_back(std::move(entry));
  }
  return absl::StrJoin(out, std::string(1, separator));
}

// The names of `permissions` joined by commas, or nullopt if one is unknown
// (policy::CheckProfileFields reports it).
std::optional<std::string> PermissionNames(
    const google::protobuf::RepeatedField<int>& permissions) {
  std::set<std::string> names;
  for (int p : permissions) {
    auto name =
        auth::SystemPermissionName(static_cast<crm::v1::SystemPermission>(p));
    if (!name.ok()) return std::nullopt;
    names.insert(*name);
  }
  return absl::StrJoin(names, ",");
}

}  // namespace

const std::vector<std::string>& ProfilePaths() {
  static const auto* paths = new std::vector<std::string>{
      "display_name",    "allowed_ip_ranges", "allowed_countries",
      "login_hours",     "login_time_zone",   "system_permissions"};
  return *paths;
}

absl::Status ApplyProfileFields(const Profile& in,
                                const std::set<std::string>& paths,
                                store::ProfileRow* row) {
  base::BadRequestBuilder bad;
  for (const base::FieldViolation& v : policy::CheckProfileFields(in, paths)) {
    bad.Add(absl::StrCat("profile.", v.field), v.description);
  }
  // A list with a bad entry keeps its stored (valid) value, so that the
  // compiler below reports nothing twice.
  if (paths.count("display_name")) row->name = in.display_name();
  if (paths.count("allowed_ip_ranges")) {
    auto joined = JoinEntries(in.allowed_ip_ranges(), '\n');
    if (joined.has_value()) row->allowed_ip_ranges = *joined;
  }
  if (paths.count("allowed_countries")) {
    auto joined = JoinEntries(in.allowed_countries(), ',');
    if (joined.has_value()) row->allowed_countries = *joined;
  }
  if (paths.count("login_hours")) row->login_hours = in.login_hours();
  if (paths.count("login_time_zone")) {
    row->login_time_zone = in.login_time_zone();
  }
  if (paths.count("system_permissions")) {
    auto names = PermissionNames(in.system_permissions());
    if (names.has_value()) row->system_permissions = *names;
  }
  // The lists were joined entry by entry (or kept as stored, valid), so the
  // compiler's indexes are the request's.
  auto compiled =
      policy::CompileProfileRestrictions(store::ToPolicyProfile(*row));
  if (!compiled.ok()) {
    auto details = base::GetBadRequest(compiled.status());
    if (details.has_value() && details->field_violations_size() > 0) {
      for (const auto& v : details->field_violations()) {
        bad.Add(absl::StrCat("profile.", v.field()), v.description());
      }
    } else {
      bad.Add("profile", compiled.status());
    }
  }
  if (!bad.empty()) return bad.Build();
  row->allowed_countries = absl::AsciiStrToUpper(row->allowed_countries);
  return absl::OkStatus();
}

}  // namespace crm::server
