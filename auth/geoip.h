// Country lookup for login restrictions from a MaxMind database (the
// interface, login::CountryResolver, is in login/country_resolver.h).
#ifndef CRM_AUTH_GEOIP_H_
#define CRM_AUTH_GEOIP_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "login/country_resolver.h"
#include "login/ip_address.h"

struct MMDB_s;

namespace crm::auth {

// Reads a MaxMind GeoIP2/GeoLite2 Country (or City) database with
// libmaxminddb. Uses `country.iso_code`, falling back to
// `registered_country.iso_code`. The file is memory-mapped; lookups take no
// lock and are safe from any number of threads. Replacing the file on disk
// does not affect an open resolver (open a new one to reload).
class MaxMindCountryResolver : public login::CountryResolver {
 public:
  // Opens the database at `path`. Errors: NOT_FOUND if it does not exist,
  // FAILED_PRECONDITION if it is not a readable MaxMind DB.
  static absl::StatusOr<std::unique_ptr<MaxMindCountryResolver>> Open(
      const std::string& path);

  ~MaxMindCountryResolver() override;
  MaxMindCountryResolver(const MaxMindCountryResolver&) = delete;
  MaxMindCountryResolver& operator=(const MaxMindCountryResolver&) = delete;

  std::optional<std::string> CountryOf(
      const login::IpAddress& address) const override;

  // The database's metadata type, e.g. "GeoLite2-Country".
  std::string database_type() const;

 private:
  explicit MaxMindCountryResolver(std::unique_ptr<MMDB_s> db);
  std::unique_ptr<MMDB_s> db_;
};

}  // namespace crm::auth

#endif  // CRM_AUTH_GEOIP_H_
