#include "server/tls.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crm::server {
namespace {

using crm::internal::TlsConfig;

constexpr unsigned kDefaultRefreshSeconds = 10;

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;

// Reads `path` for config field `field`; FAILED_PRECONDITION if unreadable.
absl::StatusOr<std::string> ReadFile(const char* field,
                                     const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.", field, " is not set; it must name a PEM file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.", field, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate in `pem`, or INVALID_ARGUMENT naming field and path.
absl::StatusOr<X509Ptr> ParseFirstCert(const char* field,
                                       const std::string& path,
                                       const std::string& pem) {
  BioPtr bio = MemBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.", field, ": '", path,
                     "' holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return cert;
}

absl::Status CheckCrlDirectory(const TlsConfig& tls, X509* ca) {
  const std::string& dir = tls.crl_directory();
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("tls.crl_directory: '", dir, "' is not a directory"));
  }
  const std::string crl_path = absl::StrFormat(
      "%s/%08lx.r0", dir, X509_NAME_hash_ex(X509_get_subject_name(ca), nullptr,
                                            nullptr, nullptr));
  std::ifstream in(crl_path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.crl_directory: no CRL for the CA of '", tls.ca_file(),
        "': cannot read '", crl_path,
        "' (with CRL checking on, every client would be refused; generate "
        "one with `openssl ca -gencrl`, see certs/README.md)"));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string pem = contents.str();
  BioPtr bio = MemBio(pem);
  CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (crl == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tls.crl_directory: '", crl_path, "' is not a PEM CRL"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTlsConfig(const TlsConfig& tls) {
  absl::StatusOr<std::string> ca_pem = ReadFile("ca_file", tls.ca_file());
  if (!ca_pem.ok()) return ca_pem.status();
  absl::StatusOr<std::string> cert_pem = ReadFile("cert_file", tls.cert_file());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile("key_file", tls.key_file());
  if (!key_pem.ok()) return key_pem.status();

  absl::StatusOr<X509Ptr> ca = ParseFirstCert("ca_file", tls.ca_file(), *ca_pem);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<X509Ptr> cert =
      ParseFirstCert("cert_file", tls.cert_file(), *cert_pem);
  if (!cert.ok()) return cert.status();

  BioPtr bio = MemBio(*key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.key_file: '", tls.key_file(),
        "' holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key_file: '", tls.key_file(),
                     "' is not the private key of tls.cert_file '",
                     tls.cert_file(), "'"));
  }
  if (!tls.crl_directory().empty()) {
    return CheckCrlDirectory(tls, ca->get());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerCredentials(
    const TlsConfig& tls,
    std::shared_ptr<grpc::AuthMetadataProcessor> processor) {
  if (absl::Status s = ValidateTlsConfig(tls); !s.ok()) return s;
  const unsigned refresh = tls.refresh_interval_seconds() == 0
                               ? kDefaultRefreshSeconds
                               : tls.refresh_interval_seconds();
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          tls.key_file(), tls.cert_file(), tls.ca_file(), refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!tls.crl_directory().empty()) {
    options.set_crl_directory(tls.crl_directory());
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  if (processor != nullptr) credentials->SetAuthMetadataProcessor(processor);
  return credentials;
}

}  // namespace crm::server
