#include "server/identity.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/log.h"

namespace crm::server {
namespace {

void LogRefusal(const char* reason, const std::vector<std::string>& sans,
                const std::string& common_name) {
  LogWarning("caller_refused", {{"reason", reason},
                                {"sans", absl::StrJoin(sans, ",")},
                                {"common_name", common_name}});
}

std::string FirstValue(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  return values.empty() ? std::string()
                        : std::string(values[0].data(), values[0].size());
}

}  // namespace

ServiceIdentityProcessor::ServiceIdentityProcessor(
    std::shared_ptr<const auth::ServiceRegistry> registry)
    : registry_(std::move(registry)) {}

std::vector<std::string> PeerIdentities(const grpc::AuthContext& context) {
  std::vector<std::string> identities;
  for (const char* name : {"peer_uri", "peer_dns"}) {
    for (const grpc::string_ref& value : context.FindPropertyValues(name)) {
      identities.emplace_back(value.data(), value.size());
    }
  }
  return identities;
}

absl::StatusOr<const crm::internal::ServiceConfig*> ResolveService(
    const grpc::AuthContext& context, const auth::ServiceRegistry& registry) {
  const std::vector<std::string> sans = PeerIdentities(context);
  const crm::internal::ServiceConfig* service = nullptr;
  for (const std::string& san : sans) {
    const crm::internal::ServiceConfig* match = registry.FindByIdentity(san);
    if (match == nullptr) continue;
    if (service != nullptr && service != match) {
      // One certificate naming two services: refuse rather than pick one.
      LogRefusal("ambiguous_identity", sans,
                 FirstValue(context, "x509_common_name"));
      return absl::UnauthenticatedError(absl::StrCat(
          "client certificate identity [", absl::StrJoin(sans, ", "),
          "] matches more than one service ('", service->name(), "', '",
          match->name(), "')"));
    }
    service = match;
  }
  if (service == nullptr) {
    LogRefusal(
        sans.empty() ? "no_certificate_identity" : "unregistered_identity",
        sans, FirstValue(context, "x509_common_name"));
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate identity [", absl::StrJoin(sans, ", "),
                     "] is not a registered service"));
  }
  return service;
}

grpc::Status ServiceIdentityProcessor::Process(
    const InputMetadata& /*auth_metadata*/, grpc::AuthContext* context,
    OutputMetadata* /*consumed_auth_metadata*/,
    OutputMetadata* /*response_metadata*/) {
  // gRPC passes the connection's auth context, shared by every call on the
  // connection: it must not be modified here (properties would pile up per
  // call, and concurrent calls would race). Handlers resolve the service
  // again, read-only, with CallerService.
  auto service = ResolveService(*context, *registry_);
  if (!service.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        std::string(service.status().message()));
  }
  return grpc::Status::OK;
}

std::optional<std::string> CallerService(const grpc::ServerContext& context,
                                         const auth::ServiceRegistry& registry) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return std::nullopt;
  auto service = ResolveService(*auth, registry);
  if (!service.ok()) return std::nullopt;
  return (*service)->name();
}

}  // namespace crm::server
