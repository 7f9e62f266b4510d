// Server-side mutual TLS: credentials built from TlsConfig, with certificate
// rotation and certificate revocation lists that take effect without a
// restart.
#ifndef CRM_SERVER_TLS_H_
#define CRM_SERVER_TLS_H_

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/server_config.pb.h"

namespace crm::server {

// Checks, before anything listens, that the TLS files are usable: the three
// paths are set (else INVALID_ARGUMENT), readable (else FAILED_PRECONDITION),
// ca_file and cert_file hold at least one PEM certificate, key_file a PEM
// private key matching cert_file (else INVALID_ARGUMENT); if crl_directory
// is set it is a directory holding a parseable CRL for the CA, named
// HASH.r0 (else FAILED_PRECONDITION: with CRL checking on, a CA without a
// CRL would make every client fail). Every message names the field and path.
absl::Status ValidateTlsConfig(const crm::internal::TlsConfig& tls);

// Mutual-TLS server credentials for `tls` (validated first, see above):
//   - key, certificate and CA are read by a FileWatcherCertificateProvider
//     and re-read every refresh_interval_seconds (0: 10 s); a changed file
//     applies to new handshakes, existing connections are kept;
//   - every client must present a certificate chaining to ca_file
//     (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); a client
//     without one, or from another CA, or expired, fails the handshake (it
//     sees UNAVAILABLE);
//   - with crl_directory set, revoked client certificates fail the
//     handshake, and CRL changes apply to new handshakes within the refresh
//     interval (see "CRL reload" below);
//   - `processor` (normally a ServiceIdentityProcessor) runs for every call
//     before its handler, after the certificate status check below. It may
//     be null only in tests (then there is no per-call check either).
// The returned credentials own the provider, the watcher thread, the CRL
// verifier and the certificate status thread; they can be shared by
// several ports.
//
// CRL reload. Found empirically with gRPC 1.51.1 + OpenSSL 3.0
// (server/tls_test.cc, RevocationAfterStartApplies*): set_crl_directory
// installs OpenSSL's hashed-directory lookup in the SSL_CTX, which loads
// HASH.r0 once and caches it for the life of the SSL_CTX; gRPC only builds
// a new SSL_CTX when the certificate provider reports new key/cert/CA
// contents. So rewriting HASH.r0 (certs/revoke.sh) is NOT seen by new
// handshakes: a revoked certificate keeps working until the server cert or
// CA changes or the server restarts. To make revocation take effect, the
// credentials also install an ExternalCertificateVerifier that, after
// OpenSSL's own checks pass, checks the peer certificate against the CRLs
// currently in crl_directory (files HASH.rN). A thread re-reads the
// directory every refresh interval when a file's name, size or mtime (or
// ca_file) changed, uses only CRLs whose signature verifies against a CA in
// ca_file (others are ignored with a warning), and keeps the last good set,
// logging an error, if a file cannot be parsed. A revoked client then fails
// the handshake (it sees UNAVAILABLE). Limitation: a certificate taken back
// out of a CRL stays refused by OpenSSL's cached copy until the SSL_CTX is
// rebuilt (server certificate or CA change, or restart).
//
// Open connections. gRPC checks a certificate only at the handshake, and
// 1.51 has no API to close one connection. So that a revocation (or an
// expiry) reaches connections that are already open:
//   - `processor` is wrapped in a check of the connection's certificate
//     (AuthContext "x509_pem_cert", parsed once and cached with its verdict
//     per CRL generation): a call on a revoked or expired certificate is
//     refused with UNAUTHENTICATED, naming the certificate and why, before
//     any handler (logged once per certificate);
//   - every refresh interval the same thread shuts down (accept_guard.h,
//     ShutdownConnections) each open connection whose certificate is now
//     revoked or expired, and logs it (tls.connection_closed). A connection
//     is known by the certificate recorded on its first call
//     (connection_limits.h); one that never got a call through is not,
//     but every call on it is refused as above.
// Both take effect within one refresh interval of the CRL file's change
// (or the expiry). They are process-wide: verdicts are keyed by issuer and
// serial number, so a process running several servers (tests) closes a
// revoked certificate's connections to each of them.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerCredentials(
    const crm::internal::TlsConfig& tls,
    std::shared_ptr<grpc::AuthMetadataProcessor> processor);

// TLS handshakes refused since the process started (process-wide, like the
// CRL verdicts; crm_tls_handshake_failures_total reads them at scrape time):
//   revoked   - refused by the CRL verifier above (a revoked certificate);
//   handshake - refused by OpenSSL inside gRPC (no client certificate, one
//               from another CA, an expired one, no common protocol, ...),
//               counted from gRPC's own log line for it (CountTlsLogLine).
struct TlsHandshakeFailures {
  int64_t revoked = 0;
  int64_t handshake = 0;
};
TlsHandshakeFailures TlsHandshakeFailureCounts();
// Called with every gRPC log message (server.cc's gpr log hook, before any
// level filtering): counts the ones that report a failed TLS handshake.
void CountTlsLogLine(absl::string_view message);

}  // namespace crm::server

#endif  // CRM_SERVER_TLS_H_
