#include "login/login_restrictions.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "base/error.h"

namespace crm::login {
namespace {

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::string Prefix(std::string_view rule, std::string_view owner) {
  return absl::StrCat("login restriction ", Sv(rule), " of ", Sv(owner), ": ");
}

}  // namespace

absl::StatusOr<LoginRestrictions> LoginRestrictions::Create(
    std::string owner_label, const LoginRuleSpec& spec) {
  LoginRestrictions r;
  r.owner_label_ = std::move(owner_label);
  std::vector<base::FieldViolation> bad;

  for (size_t i = 0; i < spec.allowed_ip_ranges.size(); ++i) {
    absl::StatusOr<CidrRange> range =
        CidrRange::Parse(spec.allowed_ip_ranges[i]);
    if (!range.ok()) {
      bad.push_back({absl::StrCat("allowed_ip_ranges[", i, "]"),
                     std::string(range.status().message())});
    }
  }
  if (bad.empty()) {
    absl::StatusOr<CidrSet> ranges = CidrSet::Parse(spec.allowed_ip_ranges);
    if (ranges.ok()) r.ranges_ = *std::move(ranges);
  }

  for (size_t i = 0; i < spec.allowed_countries.size(); ++i) {
    const std::string& raw = spec.allowed_countries[i];
    std::string code = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(raw));
    const bool valid =
        code.size() == 2 &&
        absl::ascii_isalpha(static_cast<unsigned char>(code[0])) &&
        absl::ascii_isalpha(static_cast<unsigned char>(code[1]));
    if (!valid) {
      bad.push_back({absl::StrCat("allowed_countries[", i, "]"),
                     absl::StrCat("'", raw,
                                  "' is not a two-letter ISO 3166-1 country "
                                  "code such as DE or US")});
      continue;
    }
    r.countries_.push_back(std::move(code));
  }
  std::sort(r.countries_.begin(), r.countries_.end());
  r.countries_.erase(std::unique(r.countries_.begin(), r.countries_.end()),
                     r.countries_.end());

  const absl::string_view zone =
      absl::StripAsciiWhitespace(spec.login_time_zone);
  const absl::string_view hours = absl::StripAsciiWhitespace(spec.login_hours);
  bool zone_ok = true;
  if (!zone.empty()) {
    absl::StatusOr<absl::TimeZone> loaded =
        LoginHours::LoadZone({zone.data(), zone.size()});
    if (!loaded.ok()) {
      zone_ok = false;
      bad.push_back(
          {"login_time_zone", std::string(loaded.status().message())});
    }
  }
  // Hours without a zone of their own follow the user's: the grammar is
  // checked here (with UTC), the zone at Check.
  r.hours_in_user_zone_ = zone.empty();
  absl::StatusOr<LoginHours> parsed = LoginHours::Parse(
      {hours.data(), hours.size()},
      zone.empty() || !zone_ok ? std::string_view("UTC")
                               : std::string_view(zone.data(), zone.size()));
  if (!parsed.ok()) {
    bad.push_back({"login_hours", std::string(parsed.status().message())});
  } else {
    r.hours_ = *std::move(parsed);
  }

  if (!bad.empty()) {
    absl::Status status = base::BadRequestError(bad);
    return base::WithMessage(
        status, absl::StrCat("login restrictions of ", r.owner_label_, ": ",
                             status.message()));
  }
  return r;
}

absl::Status LoginRestrictions::Deny(std::string_view rule,
                                     std::string_view detail,
                                     const LoginContext& context,
                                     std::string_view country) const {
  absl::Status status = absl::PermissionDeniedError(
      absl::StrCat(Prefix(rule, owner_label_), Sv(detail)));
  crm::v1::ErrorReason reason = crm::v1::LOGIN_IP_RESTRICTED;
  if (rule == "countries") reason = crm::v1::LOGIN_COUNTRY_RESTRICTED;
  if (rule == "login_hours") reason = crm::v1::LOGIN_HOURS_RESTRICTED;
  // The caller's own address and the rule's owner and name: nothing the
  // message does not already say, and no secret.
  base::ErrorMetadata metadata{{"restriction_owner", owner_label_},
                               {"rule", std::string(rule)}};
  if (reason != crm::v1::LOGIN_HOURS_RESTRICTED) {
    metadata["client_address"] = context.address.ToString();
  }
  if (!country.empty()) metadata["country"] = std::string(country);
  return base::WithErrorInfo(std::move(status), reason, std::move(metadata));
}

absl::Status LoginRestrictions::Check(const LoginContext& context,
                                      const CountryResolver* geo) const {
  const std::string address = context.address.ToString();
  if (!ranges_.empty() && !ranges_.Contains(context.address)) {
    return Deny(
        "ip_ranges",
        absl::StrCat("address ", address, " is not in an allowed range (",
                     ranges_.ToString(), ")"),
        context);
  }
  if (!countries_.empty()) {
    const std::string allowed = absl::StrJoin(countries_, ", ");
    if (geo == nullptr) {
      return Deny(
          "countries",
          absl::StrCat("the GeoIP database is not configured, so the "
                       "country of address ",
                       address, " cannot be checked (allowed: ", allowed, ")"),
          context);
    }
    std::optional<std::string> country = geo->CountryOf(context.address);
    if (!country) {
      return Deny(
          "countries",
          absl::StrCat("address ", address,
                       " has no known country (allowed: ", allowed, ")"),
          context);
    }
    if (!std::binary_search(countries_.begin(), countries_.end(), *country)) {
      return Deny("countries",
                  absl::StrCat("address ", address, " is in ", *country,
                               ", allowed: ", allowed),
                  context, *country);
    }
  }
  return CheckHours(context);
}

absl::Status LoginRestrictions::CheckHours(const LoginContext& context) const {
  if (hours_.unrestricted()) return absl::OkStatus();
  if (!hours_in_user_zone_) {
    if (hours_.Allows(context.now)) return absl::OkStatus();
    return Deny("login_hours",
                absl::StrCat(hours_.DescribeInstant(context.now),
                             " is outside ", hours_.Describe()),
                context);
  }
  const std::string_view name =
      context.user_time_zone.empty() ? "UTC" : context.user_time_zone;
  absl::StatusOr<absl::TimeZone> zone = LoginHours::LoadZone(name);
  if (!zone.ok()) {
    // Validated when the user was written; fail closed if it no longer loads.
    return Deny("login_hours",
                absl::StrCat("the user's time zone cannot be used (",
                             zone.status().message(), "), so ",
                             hours_.Describe(), " cannot be checked"),
                context);
  }
  if (hours_.Allows(context.now, *zone)) return absl::OkStatus();
  return Deny(
      "login_hours",
      absl::StrCat(LoginHours::DescribeInstant(context.now, *zone, name),
                   " is outside ", hours_.Describe()),
      context);
}

}  // namespace crm::login
