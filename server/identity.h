// Caller (service) identity: which registered service is calling, as proven
// by its mTLS client certificate.
#ifndef CRM_SERVER_IDENTITY_H_
#define CRM_SERVER_IDENTITY_H_

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "auth/service_registry.h"

namespace crm::server {

// Runs for every call on the TLS port (including health checks and
// reflection), after the TLS handshake and before any handler: maps the
// client certificate's SANs to a registered service. It does not write to
// the AuthContext, which gRPC shares between all calls of a connection;
// handlers resolve the service again with CallerService. A call whose
// certificate matches no registered service (or, ambiguously, two different
// ones) is refused with UNAUTHENTICATED before its handler runs, and one
// JSON line is written to stderr. BuildServerCredentials (tls.h) puts a
// check in front of it that refuses calls whose certificate has been
// revoked or has expired since the handshake.
//
// Immutable; safe for concurrent calls. Non-blocking (pure in-memory).
class ServiceIdentityProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit ServiceIdentityProcessor(
      std::shared_ptr<const auth::ServiceRegistry> registry);

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  std::shared_ptr<const auth::ServiceRegistry> registry_;
};

// The identities a peer certificate presents, from the AuthContext.
//
// Checked with gRPC 1.51.1 (server/tls_test.cc, PeerPropertiesAreAsDocumented)
// for a client certificate with URI and DNS SANs, the TLS transport sets:
// "x509_subject_alternative_name" once per SAN (URI and DNS alike, untyped),
// the typed "peer_uri" and "peer_dns" (one value per SAN of that type),
// "peer_spiffe_id" (the URI SAN when it is a SPIFFE ID), "x509_common_name",
// "x509_subject", "x509_pem_cert", "x509_pem_cert_chain",
// "transport_security_type" = "tls", "security_level" and
// "ssl_session_reused". We return the typed peer_uri then peer_dns values:
// the registry holds URI and DNS SANs only, so an IP or e-mail SAN can never
// be taken for one.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& context);

// The registered service a certificate's identities name: UNAUTHENTICATED
// (and one JSON log line) if none or more than one. Read-only.
absl::StatusOr<const crm::internal::ServiceConfig*> ResolveService(
    const grpc::AuthContext& context, const auth::ServiceRegistry& registry);

// The calling service's name, or nullopt (no TLS peer, or no registered
// identity). Handlers must refuse the call on nullopt (fail closed).
std::optional<std::string> CallerService(const grpc::ServerContext& context,
                                         const auth::ServiceRegistry& registry);

}  // namespace crm::server

#endif  // CRM_SERVER_IDENTITY_H_
