#include "auth/login_restrictions.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"

namespace crm::auth {
namespace {

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::string Prefix(std::string_view rule, std::string_view owner) {
  return absl::StrCat("login restriction ", Sv(rule), " of ", Sv(owner), ": ");
}

}  // namespace

absl::StatusOr<LoginRestrictions> LoginRestrictions::Create(
    std::string owner_label, const std::vector<std::string>& cidrs,
    const std::vector<std::string>& countries, std::string_view hours_spec,
    std::string_view time_zone) {
  LoginRestrictions r;
  r.owner_label_ = std::move(owner_label);

  absl::StatusOr<CidrSet> ranges = CidrSet::Parse(cidrs);
  if (!ranges.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix("ip_ranges", r.owner_label_), ranges.status().message()));
  }
  r.ranges_ = *std::move(ranges);

  for (const std::string& raw : countries) {
    std::string code = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(raw));
    const bool valid = code.size() == 2 &&
                       absl::ascii_isalpha(static_cast<unsigned char>(code[0])) &&
                       absl::ascii_isalpha(static_cast<unsigned char>(code[1]));
    if (!valid) {
      return absl::InvalidArgumentError(absl::StrCat(
          Prefix("countries", r.owner_label_), "'", raw,
          "' is not a two-letter ISO 3166-1 country code such as DE or US"));
    }
    r.countries_.push_back(std::move(code));
  }
  std::sort(r.countries_.begin(), r.countries_.end());
  r.countries_.erase(std::unique(r.countries_.begin(), r.countries_.end()),
                     r.countries_.end());

  absl::StatusOr<LoginHours> hours = LoginHours::Parse(hours_spec, time_zone);
  if (!hours.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Prefix("login_hours", r.owner_label_), hours.status().message()));
  }
  r.hours_ = *std::move(hours);
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
    return Deny("ip_ranges",
                absl::StrCat("address ", address,
                             " is not in an allowed range (",
                             ranges_.ToString(), ")"),
                context);
  }
  if (!countries_.empty()) {
    const std::string allowed = absl::StrJoin(countries_, ", ");
    if (geo == nullptr) {
      return Deny("countries",
                  absl::StrCat("the GeoIP database is not configured, so the "
                               "country of address ",
                               address, " cannot be checked (allowed: ",
                               allowed, ")"),
                  context);
    }
    std::optional<std::string> country = geo->CountryOf(context.address);
    if (!country) {
      return Deny("countries",
                  absl::StrCat("address ", address,
                               " has no known country (allowed: ", allowed,
                               ")"),
                  context);
    }
    if (!std::binary_search(countries_.begin(), countries_.end(), *country)) {
      return Deny("countries",
                  absl::StrCat("address ", address, " is in ", *country,
                               ", allowed: ", allowed),
                  context, *country);
    }
  }
  if (!hours_.Allows(context.now)) {
    return Deny("login_hours",
                absl::StrCat(hours_.DescribeInstant(context.now),
                             " is outside ", hours_.Describe()),
                context);
  }
  return absl::OkStatus();
}

}  // namespace crm::auth
