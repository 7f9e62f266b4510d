// Step two of the request path: who is calling, for whom, from where.
// Turns the transport facts (the mTLS identity, the peer address, the
// metadata) into the principal that the policy evaluates, and enforces the
// login restrictions of the service and of the user's profile on every
// call. The rules are documented in proto/crm/v1/auth_service.proto.
#ifndef CRM_SERVER_REQUEST_CONTEXT_H_
#define CRM_SERVER_REQUEST_CONTEXT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "auth/authenticator.h"
#include "auth/clock.h"
#include "auth/geoip.h"
#include "auth/service_registry.h"
#include "auth/session_manager.h"
#include "auth/system_permissions.h"
#include "crm/internal/server_config.pb.h"
#include "grpcpp/server_context.h"
#include "login/ip_address.h"
#include "login/login_restrictions.h"
#include "policy/principal.h"
#include "policy/snapshot.h"
#include "server/server_core.h"
#include "store/database.h"
#include "store/identity_store.h"

namespace crm::server {

// Metadata names (lower case, as gRPC delivers them).
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kForwardedForHeader[] = "x-forwarded-for";

struct RequestContext {
  policy::Principal principal;
  std::string peer;  // gRPC peer string, for logs
  const crm::internal::ServiceConfig* service = nullptr;  // never null if OK
  // The address the restrictions were checked against.
  login::IpAddress client_address;
  // Set iff the call carried a valid session token.
  std::optional<auth::AuthenticatedUser> user;
  // System permissions are not here: policy::Evaluator::CheckSystem decides
  // them from the installed snapshot (the pipeline's CheckSystemPermission, WhoAmI).
};

// Everything the request path needs to authenticate calls, built once at
// start-up. Immutable afterwards; safe for concurrent calls.
class RequestAuthenticator {
 public:
  // Compiles every service's restrictions (and checks the names of its
  // system permissions, which the policy snapshot compiles) and opens
  // the GeoIP database (AuthConfig.geoip_database) if configured.
  // INVALID_ARGUMENT naming the bad service entry; NOT_FOUND or
  // FAILED_PRECONDITION for an unusable GeoIP database. `registry`, `db`
  // and `clock` must outlive the result.
  static absl::StatusOr<std::unique_ptr<RequestAuthenticator>> Create(
      const crm::internal::ServerConfig& config,
      const auth::ServiceRegistry* registry, store::Database* db,
      auth::Clock* clock);

  // See AuthenticateRequest.
  absl::StatusOr<RequestContext> Authenticate(
      const grpc::ServerContext& context,
      const policy::PolicySnapshot* policy) const;

  const auth::Authenticator& authenticator() const { return *authenticator_; }
  const auth::SessionManager& sessions() const { return *sessions_; }
  store::IdentityStore& identities() const { return *identities_; }
  const auth::AuthSettings& settings() const { return settings_; }
  // The GeoIP resolver, or null when AuthConfig.geoip_database is unset
  // (the pipeline's audit events, the access review's restriction checks).
  const login::CountryResolver* geo() const { return geo_.get(); }

 private:
  struct ServiceAuth {
    login::LoginRestrictions restrictions;
  };

  RequestAuthenticator() = default;

  absl::StatusOr<login::IpAddress> ClientAddress(
      const grpc::ServerContext& context,
      const crm::internal::ServiceConfig& service) const;

  const auth::ServiceRegistry* registry_ = nullptr;
  auth::Clock* clock_ = nullptr;
  auth::AuthSettings settings_;
  std::unique_ptr<login::CountryResolver> geo_;
  std::unique_ptr<store::IdentityStore> identities_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<auth::SessionManager> sessions_;
  std::map<std::string, ServiceAuth, std::less<>> by_service_;
};

// Authenticates one call, in order:
//   1. the registered service of the mTLS identity (UNAUTHENTICATED if none);
//   2. the client address: the TLS peer's, or for a trusted gateway the
//      rightmost address of "x-forwarded-for", the one the gateway appended
//      itself (INVALID_ARGUMENT if it is not an IP address); addresses left
//      of it are the end user's to choose and are never used; the header
//      from another service is ignored and logged;
//   3. the service's own login restrictions (PERMISSION_DENIED naming the
//      rule);
//   4. if "authorization: Bearer <token>" is present, the session (see
//      auth::SessionManager::Validate): UNAUTHENTICATED "session token is
//      invalid or expired", or PERMISSION_DENIED for a restriction of the
//      user's profile as compiled in `policy`, the snapshot the whole call
//      is decided with (the pipeline binds its Evaluator to the same one);
//      UNAVAILABLE POLICY_NOT_CURRENT if it lacks the profile (fail closed).
// Without a token, no storage is touched.
absl::StatusOr<RequestContext> AuthenticateRequest(
    const grpc::ServerContext& context, const ServerCore& core,
    const policy::PolicySnapshot* policy);

}  // namespace crm::server

#endif  // CRM_SERVER_REQUEST_CONTEXT_H_
