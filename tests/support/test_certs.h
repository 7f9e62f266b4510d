// Certificates for tests, generated per run by certs/make-test-certs.sh.
#ifndef CRM_TESTS_SUPPORT_TEST_CERTS_H_
#define CRM_TESTS_SUPPORT_TEST_CERTS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace crm::testing {

// Paths (not contents) of a generated test certificate set. See
// certs/make-test-certs.sh for what each certificate is. Client certificates
// exist for: web-frontend billing gateway admin-cli (registered-looking,
// identity spiffe://crm.local/svc/NAME and DNS NAME.svc.crm.local),
// unregistered, expired, revoked (listed in the CRL), foreign (signed by
// other_ca, identity spiffe://crm.local/svc/web-frontend).
struct TestCerts {
  std::string dir;
  std::string ca;           // the CA clients and the server trust
  std::string server_cert;  // localhost, 127.0.0.1, ::1
  std::string server_key;
  std::string crl_dir;  // holds HASH.r0 for `ca`
  std::string other_ca;

  std::string ClientCert(std::string_view name) const;  // dir/NAME.pem
  std::string ClientKey(std::string_view name) const;   // dir/NAME.key
  // SPIFFE identity of client `name`: spiffe://crm.local/svc/NAME.
  static std::string Identity(std::string_view name);
};

// Generates a fresh set into `dir` (created if missing) by running
// certs/make-test-certs.sh. Fails with the script's output on error.
absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir);

// One set per process, generated on first use into a new temp directory.
// Dies (test failure + abort) if generation fails. Thread-safe.
const TestCerts& SharedTestCerts();

// Revokes dir/NAME.pem and rewrites the CRL (certs/revoke.sh).
absl::Status RevokeTestCert(const TestCerts& certs, std::string_view name);

// A new empty directory under $TMPDIR (or /tmp), named crm-PREFIX-XXXXXX.
std::string MakeTempDir(std::string_view prefix);

// Removes `dir` and everything below it (rm -rf); warns on failure.
void RemoveTempDir(const std::string& dir);

// The repository root: $CRM_SOURCE_DIR, else the nearest ancestor of the
// working directory holding certs/make-test-certs.sh. Empty if not found.
std::string SourceDir();

// The whole file, or aborts with the path and errno in the message.
std::string ReadFileOrDie(const std::string& path);

}  // namespace crm::testing

#endif  // CRM_TESTS_SUPPORT_TEST_CERTS_H_
