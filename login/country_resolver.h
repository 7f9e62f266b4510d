// Country lookup for login restrictions: the interface only. The MaxMind
// implementation (I/O: a memory-mapped database) is auth/geoip.h.
#ifndef CRM_LOGIN_COUNTRY_RESOLVER_H_
#define CRM_LOGIN_COUNTRY_RESOLVER_H_

#include <optional>
#include <string>

#include "login/ip_address.h"

namespace crm::login {

// Maps an address to an ISO 3166-1 alpha-2 country code ("DE").
// Implementations are thread-safe.
class CountryResolver {
 public:
  virtual ~CountryResolver() = default;
  // The country of `address`, or nullopt if it has none or lookup failed
  // (callers restricting by country then deny: fail closed).
  virtual std::optional<std::string> CountryOf(
      const IpAddress& address) const = 0;
};

}  // namespace crm::login

#endif  // CRM_LOGIN_COUNTRY_RESOLVER_H_
