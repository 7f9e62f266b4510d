// Login restrictions of one owner (a profile or a service principal): allowed
// IP ranges, allowed countries, login hours. Checked at Login and on every
// request (see DESIGN.md "Login restrictions").
//
// Compiled once (Create) from the owner's configuration, then checked per
// call without parsing anything: a profile's restrictions are compiled with
// the policy version (policy/login_policy.h), a service's at start-up
// (server/request_context.cc).
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
// configured, is refused; login hours in the user's zone refuse a user
// whose zone does not load.
//
// Immutable after Create; thread-safe.
#ifndef CRM_LOGIN_LOGIN_RESTRICTIONS_H_
#define CRM_LOGIN_LOGIN_RESTRICTIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "login/country_resolver.h"
#include "login/ip_address.h"
#include "login/login_hours.h"

namespace crm::login {

// What a request or login looks like to the restrictions.
struct LoginContext {
  // The TLS peer's address, or the end user's address forwarded by a trusted
  // gateway. Unknown (default) if neither is available.
  IpAddress address;
  absl::Time now;
  // The user's own IANA time zone (users.time_zone), read by login hours
  // that have no zone of their own; "" = UTC. Not retained.
  std::string_view user_time_zone;
};

// The rules of one owner as configured: the columns of a profile
// (store/identity_store.h), the fields of a ServiceConfig. The field names
// are those of crm.v1.Profile, and the violations of Create use them.
struct LoginRuleSpec {
  std::vector<std::string> allowed_ip_ranges;  // CIDR; none = any address
  std::vector<std::string> allowed_countries;  // ISO 3166-1 alpha-2, any case
  std::string login_hours;  // login/login_hours.h grammar; "" = any time
  // The IANA zone of login_hours; "" = the user's own
  // (LoginContext::user_time_zone, else UTC).
  std::string login_time_zone;
};

class LoginRestrictions {
 public:
  // No restriction at all.
  LoginRestrictions() = default;

  // Compiles `spec`. `owner_label` names whose restrictions these are in
  // messages, e.g. "profile 'Sales Rep'" or "service 'billing'". Errors:
  // INVALID_ARGUMENT "login restrictions of OWNER: FIELD: PROBLEM (and N
  // more: ...)" carrying a google.rpc.BadRequest with EVERY problem, one
  // violation per bad entry, fields as in LoginRuleSpec:
  // "allowed_ip_ranges[1]", "allowed_countries[0]", "login_hours",
  // "login_time_zone". Hours without a zone of their own are validated
  // against UTC (any zone reads the same grammar).
  static absl::StatusOr<LoginRestrictions> Create(std::string owner_label,
                                                  const LoginRuleSpec& spec);

  // OK if every configured rule allows `context`, else PERMISSION_DENIED
  // naming the rule. `geo` may be null (no GeoIP database configured); then
  // a country rule refuses everything. `geo` is not retained. Parses
  // nothing; only hours without a zone of their own look up the user's
  // zone by name (absl's loaded-zone cache).
  absl::Status Check(const LoginContext& context,
                     const CountryResolver* geo) const;

  bool unrestricted() const {
    return ranges_.empty() && countries_.empty() && hours_.unrestricted();
  }
  const std::string& owner_label() const { return owner_label_; }
  const CidrSet& ip_ranges() const { return ranges_; }
  const std::vector<std::string>& countries() const { return countries_; }
  const LoginHours& login_hours() const { return hours_; }
  // True iff login hours are set and read in the user's zone.
  bool hours_in_user_zone() const {
    return hours_in_user_zone_ && !hours_.unrestricted();
  }

 private:
  // PERMISSION_DENIED with ErrorInfo LOGIN_{IP,COUNTRY,HOURS}_RESTRICTED
  // (proto/crm/v1/errors.proto) by `rule`.
  absl::Status Deny(std::string_view rule, std::string_view detail,
                    const LoginContext& context,
                    std::string_view country = {}) const;
  absl::Status CheckHours(const LoginContext& context) const;

  std::string owner_label_;
  CidrSet ranges_;
  std::vector<std::string> countries_;  // upper case, sorted, unique
  LoginHours hours_;
  bool hours_in_user_zone_ = false;
};

}  // namespace crm::login

#endif  // CRM_LOGIN_LOGIN_RESTRICTIONS_H_
