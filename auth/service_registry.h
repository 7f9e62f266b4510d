// The registered service principals: internal systems that call the CRM
// over mTLS, identified by a SAN of their client certificate.
#ifndef CRM_AUTH_SERVICE_REGISTRY_H_
#define CRM_AUTH_SERVICE_REGISTRY_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/internal/server_config.pb.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace crm::auth {

// An immutable index of ServiceConfig entries by name and by identity.
//
// Built once from the server configuration; afterwards every method is const
// and safe to call from any number of threads without locking. Share it as
// std::shared_ptr<const ServiceRegistry>. Returned pointers stay valid for
// the registry's lifetime.
//
// Validation done by Create (anything else fails with INVALID_ARGUMENT and a
// message naming the offending entry):
//   - names match [a-z][a-z0-9-]{0,62} and are unique;
//   - every service has at least one identity; identities are non-empty,
//     contain no whitespace, and are unique across all services (one
//     certificate identity maps to exactly one service);
//   - grants name an object (the object names themselves are checked later
//     by the policy compiler), allowed_ip_ranges are non-empty strings (kept
//     as strings; parsed by the network restriction code),
//     allowed_countries are two upper-case letters.
class ServiceRegistry {
 public:
  static absl::StatusOr<ServiceRegistry> Create(
      const google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig>&
          services);

  ServiceRegistry(ServiceRegistry&&) = default;
  ServiceRegistry& operator=(ServiceRegistry&&) = default;
  ServiceRegistry(const ServiceRegistry&) = delete;
  ServiceRegistry& operator=(const ServiceRegistry&) = delete;

  // The service one of whose identities equals `san` exactly (URI SANs such
  // as "spiffe://crm.local/svc/billing", or DNS SANs), or nullptr.
  const crm::internal::ServiceConfig* FindByIdentity(
      std::string_view san) const;

  // The service called `name` (without the "services/" prefix), or nullptr.
  const crm::internal::ServiceConfig* FindByName(std::string_view name) const;

  // Every registered service, in configuration order.
  const std::vector<crm::internal::ServiceConfig>& services() const {
    return services_;
  }

 private:
  ServiceRegistry() = default;

  std::vector<crm::internal::ServiceConfig> services_;
  // Values index into services_.
  std::unordered_map<std::string, size_t> by_name_;
  std::unordered_map<std::string, size_t> by_identity_;
};

// True if `name` is a valid service name: [a-z][a-z0-9-]{0,62}.
bool IsValidServiceName(std::string_view name);

}  // namespace crm::auth

#endif  // CRM_AUTH_SERVICE_REGISTRY_H_
