#include "server/tls.h"

#include <dirent.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

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
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.", field, ": '", path,
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
      "%s/%08lx.r0", dir,
      X509_NAME_hash_ex(X509_get_subject_name(ca), nullptr, nullptr, nullptr));
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
    return absl::FailedPreconditionError(
        absl::StrCat("tls.crl_directory: '", crl_path, "' is not a PEM CRL"));
  }
  return absl::OkStatus();
}

void LogJson(const char* level, const char* event, const std::string& message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  std::fputs(absl::StrCat("{\"time\":\"",
                          absl::FormatTime(absl::RFC3339_full, absl::Now(),
                                           absl::UTCTimeZone()),
                          "\",\"level\":\"", level, "\",\"event\":\"", event,
                          "\",\"message\":\"", escaped, "\"}\n")
                 .c_str(),
             stderr);
}

// Serial numbers revoked by CRLs that carry a valid signature of a CA in
// ca_file, keyed by the DER of the issuer name.
using RevokedSet = std::set<std::pair<std::string, std::string>>;

std::string NameDer(const X509_NAME* name) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_NAME(name, &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), len);
  OPENSSL_free(der);
  return out;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

bool IsCrlFileName(const std::string& name) {
  // HASH.rN as produced by `openssl crl -hash`: 8 hex digits, ".r", digits.
  if (name.size() < 11 || name.compare(8, 2, ".r") != 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i == 8 || i == 9) continue;
    const char c = name[i];
    const bool ok = i < 8 ? std::isxdigit(static_cast<unsigned char>(c))
                          : std::isdigit(static_cast<unsigned char>(c));
    if (!ok) return false;
  }
  return true;
}

// The CRL-reload half of revocation checking (see tls.h, "CRL reload").
// Thread-safe: Verify may run concurrently on gRPC's handshake threads.
class CrlWatcher {
 public:
  CrlWatcher(std::string ca_file, std::string crl_directory,
             absl::Duration refresh)
      : ca_file_(std::move(ca_file)),
        crl_directory_(std::move(crl_directory)),
        refresh_(refresh) {
    absl::MutexLock lock(&mu_);
    MaybeReloadLocked(/*force=*/true);
  }

  // OK, or an error naming the revoked certificate.
  grpc::Status Check(const std::string& peer_pem) {
    BioPtr bio = MemBio(peer_pem);
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (cert == nullptr) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "peer certificate cannot be parsed");
    }
    const auto key =
        std::make_pair(NameDer(X509_get_issuer_name(cert.get())),
                       SerialHex(X509_get0_serialNumber(cert.get())));
    absl::MutexLock lock(&mu_);
    MaybeReloadLocked(/*force=*/false);
    if (revoked_.count(key) == 0) return grpc::Status::OK;
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(cert.get()), subject,
                      sizeof(subject));
    const std::string message =
        absl::StrCat("client certificate ", subject, " serial ", key.second,
                     " is revoked (CRL in ", crl_directory_, ")");
    LogJson("warning", "tls_certificate_revoked", message);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, message);
  }

 private:
  using Fingerprint = std::vector<std::tuple<std::string, off_t, int64_t>>;
  // Not a valid CRL file name, so it cannot collide with one.
  static constexpr char kCaFileEntry[] = "<ca_file>";

  Fingerprint Scan() const {
    Fingerprint files;
    DIR* dir = opendir(crl_directory_.c_str());
    if (dir == nullptr) return files;
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (!IsCrlFileName(name)) continue;
      struct stat st;
      if (stat((crl_directory_ + "/" + name).c_str(), &st) != 0) continue;
      files.emplace_back(
          name, st.st_size,
          int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec);
    }
    closedir(dir);
    // The CA file is part of the fingerprint too: a CRL skipped because its
    // CA was not trusted yet must be picked up once the CA rotates in.
    struct stat ca_st;
    if (stat(ca_file_.c_str(), &ca_st) == 0) {
      files.emplace_back(
          kCaFileEntry, ca_st.st_size,
          int64_t{ca_st.st_mtim.tv_sec} * 1000000000 + ca_st.st_mtim.tv_nsec);
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  void MaybeReloadLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    if (!force && now - last_scan_ < refresh_) return;
    last_scan_ = now;
    Fingerprint files = Scan();
    if (!force && files == fingerprint_) return;
    absl::StatusOr<RevokedSet> revoked = Load(files);
    if (!revoked.ok()) {
      // Keep the last good set; retried at the next refresh.
      LogJson("error", "tls_crl_reload_failed",
              std::string(revoked.status().message()));
      return;
    }
    revoked_ = *std::move(revoked);
    fingerprint_ = std::move(files);
  }

  absl::StatusOr<RevokedSet> Load(const Fingerprint& files) const {
    absl::StatusOr<std::string> ca_pem = ReadFile("ca_file", ca_file_);
    if (!ca_pem.ok()) return ca_pem.status();
    std::vector<X509Ptr> cas;
    BioPtr ca_bio = MemBio(*ca_pem);
    while (X509* ca =
               PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
      cas.emplace_back(ca);
    }
    ERR_clear_error();
    RevokedSet revoked;
    for (const auto& file : files) {
      if (std::get<0>(file) == kCaFileEntry) continue;
      const std::string path = crl_directory_ + "/" + std::get<0>(file);
      absl::StatusOr<std::string> pem = ReadFile("crl_directory", path);
      if (!pem.ok()) return pem.status();
      BioPtr bio = MemBio(*pem);
      CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
      ERR_clear_error();
      if (crl == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("tls.crl_directory: '", path, "' is not a PEM CRL"));
      }
      bool signed_by_ca = false;
      for (const X509Ptr& ca : cas) {
        if (X509_NAME_cmp(X509_get_subject_name(ca.get()),
                          X509_CRL_get_issuer(crl.get())) == 0 &&
            X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) == 1) {
          signed_by_ca = true;
          break;
        }
      }
      ERR_clear_error();
      if (!signed_by_ca) {
        LogJson("warning", "tls_crl_ignored",
                absl::StrCat("'", path, "' is not signed by a CA in '",
                             ca_file_, "'; ignored"));
        continue;
      }
      const std::string issuer = NameDer(X509_CRL_get_issuer(crl.get()));
      STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
      for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
        const X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
        revoked.emplace(issuer,
                        SerialHex(X509_REVOKED_get0_serialNumber(entry)));
      }
    }
    return revoked;
  }

  const std::string ca_file_;
  const std::string crl_directory_;
  const absl::Duration refresh_;
  absl::Mutex mu_;
  absl::Time last_scan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  Fingerprint fingerprint_ ABSL_GUARDED_BY(mu_);
  RevokedSet revoked_ ABSL_GUARDED_BY(mu_);
};

// Runs after OpenSSL accepted the chain (and its cached CRL): refuses peers
// revoked by the CRLs currently on disk.
class CrlReloadingVerifier final
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit CrlReloadingVerifier(std::shared_ptr<CrlWatcher> watcher)
      : watcher_(std::move(watcher)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    *sync_status = watcher_->Check(std::string(pem.data(), pem.size()));
    return true;  // synchronous
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  std::shared_ptr<CrlWatcher> watcher_;
};

}  // namespace

absl::Status ValidateTlsConfig(const TlsConfig& tls) {
  absl::StatusOr<std::string> ca_pem = ReadFile("ca_file", tls.ca_file());
  if (!ca_pem.ok()) return ca_pem.status();
  absl::StatusOr<std::string> cert_pem = ReadFile("cert_file", tls.cert_file());
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile("key_file", tls.key_file());
  if (!key_pem.ok()) return key_pem.status();

  absl::StatusOr<X509Ptr> ca =
      ParseFirstCert("ca_file", tls.ca_file(), *ca_pem);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<X509Ptr> cert =
      ParseFirstCert("cert_file", tls.cert_file(), *cert_pem);
  if (!cert.ok()) return cert.status();

  BioPtr bio = MemBio(*key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key_file: '", tls.key_file(),
                     "' holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.key_file: '", tls.key_file(),
        "' is not the private key of tls.cert_file '", tls.cert_file(), "'"));
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
    options.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<
            CrlReloadingVerifier>(std::make_shared<CrlWatcher>(
            tls.ca_file(), tls.crl_directory(), absl::Seconds(refresh))));
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
