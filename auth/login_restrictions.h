// Login restrictions of one owner (a profile or a service principal): allowed
// IP ranges, allowed countries, login hours. Checked at Login and on every
// request (see DESIGN.md "Login restrictions").
//
// Each rule is optional; an absent rule allows everything. Rules are checked
// in the order ip_ranges, countries, login_hours, and the first that refuses
// decides. Every refusal is PERMISSION_DENIED with a message naming the rule
// and its owner, and ErrorInfo LOGIN_IP_RESTRICTED, LOGIN_COUNTRY_RESTRICTED
// or LOGIN_HOURS_RESTRICTED with metadata restriction_owner, rule,
// client_address (not for hours) and country (when known):
//   login restriction ip_ranges of profile 'Sales Rep': address 127.5.0.1 is
//   not in an allowed range (10.0.0.0/8)
// Fail closed: an unknown address is in no range and has no country; an
// address without a country, or a country rule with no GeoIP database
// configured, is refused.
//
// Immutable after Create; thread-safe.
#ifndef CRM_AUTH_LOGIN_RESTRICTIONS_H_
#define CRM_AUTH_LOGIN_RESTRICTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "auth/geoip.h"
#include "auth/ip_address.h"
#include "auth/login_hours.h"

namespace crm::auth {

// What a request or login looks like to the restrictions.
struct LoginContext {
  // The TLS peer's address, or the end user's address forwarded by a trusted
  // gateway. Unknown (default) if neither is available.
  IpAddress address;
  absl::Time now;
};

class LoginRestrictions {
 public:
  // No restriction at all.
  LoginRestrictions() = default;

  // `owner_label` names whose restrictions these are in messages, e.g.
  // "profile 'Sales Rep'" or "service 'billing'". `cidrs` are CIDR ranges
  // (empty = any address), `countries` ISO 3166-1 alpha-2 codes, any case
  // (empty = any country), `hours_spec` and `time_zone` as in LoginHours
  // (empty spec = any time). Errors: INVALID_ARGUMENT naming the rule, the
  // owner and the bad entry.
  static absl::StatusOr<LoginRestrictions> Create(
      std::string owner_label, const std::vector<std::string>& cidrs,
      const std::vector<std::string>& countries, std::string_view hours_spec,
      std::string_view time_zone);

  // OK if every configured rule allows `context`, else PERMISSION_DENIED
  // naming the rule. `geo` may be null (no GeoIP database configured); then
  // a country rule refuses everything. `geo` is not retained.
  absl::Status Check(const LoginContext& context,
                     const CountryResolver* geo) const;

  bool unrestricted() const {
    return ranges_.empty() && countries_.empty() && hours_.unrestricted();
  }
  const std::string& owner_label() const { return owner_label_; }
  const CidrSet& ip_ranges() const { return ranges_; }
  const std::vector<std::string>& countries() const { return countries_; }
  const LoginHours& login_hours() const { return hours_; }

 private:
  // PERMISSION_DENIED with ErrorInfo LOGIN_{IP,COUNTRY,HOURS}_RESTRICTED
  // (proto/crm/v1/errors.proto) by `rule`.
  absl::Status Deny(std::string_view rule, std::string_view detail,
                    const LoginContext& context,
                    std::string_view country = {}) const;

  std::string owner_label_;
  CidrSet ranges_;
  std::vector<std::string> countries_;  // upper case, sorted, unique
  LoginHours hours_;
};

}  // namespace crm::auth

#endif  // CRM_AUTH_LOGIN_RESTRICTIONS_H_
