#include "auth/service_registry.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace crm::auth {
namespace {

using crm::internal::ServiceConfig;

bool HasWhitespace(std::string_view s) {
  for (char c : s) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

absl::Status ValidateService(const ServiceConfig& service, int index) {
  const std::string where =
      absl::StrCat("services[", index, "] '", service.name(), "'");
  if (!IsValidServiceName(service.name())) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": invalid service name; names match [a-z][a-z0-9-]{0,62}"));
  }
  if (service.identities().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": no identities; add the URI or DNS SAN of its client "
                     "certificate, e.g. \"spiffe://crm.local/svc/",
                     service.name(), "\""));
  }
  for (const std::string& identity : service.identities()) {
    if (identity.empty() || HasWhitespace(identity)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": identity '", identity, "' is empty or contains spaces"));
    }
  }
  for (const auto& grant : service.grants()) {
    if (grant.object().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": a grant has no object; use a collection name or \"*\""));
    }
  }
  for (const std::string& range : service.allowed_ip_ranges()) {
    if (range.empty() || HasWhitespace(range)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": allowed_ip_ranges entry '", range, "' is not a CIDR"));
    }
  }
  for (const std::string& country : service.allowed_countries()) {
    if (country.size() != 2 || !absl::ascii_isupper(country[0]) ||
        !absl::ascii_isupper(country[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": allowed_countries entry '", country,
                       "' is not an ISO 3166-1 alpha-2 code like \"FR\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidServiceName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!absl::ascii_islower(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<ServiceRegistry> ServiceRegistry::Create(
    const google::protobuf::RepeatedPtrField<ServiceConfig>& services) {
  ServiceRegistry registry;
  registry.services_.reserve(services.size());
  for (int i = 0; i < services.size(); ++i) {
    const ServiceConfig& service = services[i];
    if (absl::Status s = ValidateService(service, i); !s.ok()) return s;
    const size_t index = registry.services_.size();
    if (!registry.by_name_.emplace(service.name(), index).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "services[", i, "]: duplicate service name '", service.name(), "'"));
    }
    for (const std::string& identity : service.identities()) {
      auto [it, inserted] = registry.by_identity_.emplace(identity, index);
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "services[", i, "] '", service.name(), "': identity '", identity,
            "' is already used by service '",
            registry.services_.size() > it->second
                ? registry.services_[it->second].name()
                : service.name(),
            "'; each certificate identity must map to one service"));
      }
    }
    registry.services_.push_back(service);
  }
  return registry;
}

const ServiceConfig* ServiceRegistry::FindByIdentity(
    std::string_view san) const {
  auto it = by_identity_.find(std::string(san));
  return it == by_identity_.end() ? nullptr : &services_[it->second];
}

const ServiceConfig* ServiceRegistry::FindByName(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &services_[it->second];
}

}  // namespace crm::auth
