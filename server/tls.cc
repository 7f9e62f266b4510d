#include "server/tls.h"

#include <atomic>
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
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/accept_guard.h"
#include "server/log.h"

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

// Serial numbers revoked by CRLs that carry a valid signature of a CA in
// ca_file: (DER of the issuer name, serial in hex).
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

// What the status checks need of a client certificate, parsed once per
// certificate (cached by its PEM text).
struct PeerCertificate {
  std::pair<std::string, std::string> key;  // issuer DER, serial hex
  std::string subject;
  absl::Time not_after = absl::InfiniteFuture();
  // Revocation verdict, valid while `generation` is the CRL generation.
  uint64_t generation = 0;
  bool revoked = false;
  // A refusal is logged once per certificate and CRL generation, not once
  // per call.
  uint64_t logged_generation = 0;
};

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm;
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InfiniteFuture();
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::optional<PeerCertificate> ParsePeerCertificate(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) return std::nullopt;
  PeerCertificate out;
  out.key = std::make_pair(NameDer(X509_get_issuer_name(cert.get())),
                           SerialHex(X509_get0_serialNumber(cert.get())));
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject,
                    sizeof(subject));
  out.subject = subject;
  out.not_after = Asn1TimeToAbsl(X509_get0_notAfter(cert.get()));
  return out;
}

// The status of client certificates: revoked by the CRLs currently in
// crl_directory (see tls.h, "CRL reload"), or expired. One instance per
// credentials object; shared by the handshake verifier, the per-call
// processor and its own refresh thread. Thread-safe.
std::atomic<int64_t> revoked_handshakes{0};
std::atomic<int64_t> failed_handshakes{0};

class CertificateStatus {
 public:
  // `crl_directory` may be empty: expiry is checked all the same.
  CertificateStatus(std::string ca_file, std::string crl_directory,
                    absl::Duration refresh)
      : ca_file_(std::move(ca_file)),
        crl_directory_(std::move(crl_directory)),
        refresh_(refresh) {
    {
      absl::MutexLock lock(&mu_);
      if (!crl_directory_.empty()) ReloadLocked(/*force=*/true);
    }
    thread_ = std::thread([this] { RefreshLoop(); });
  }

  ~CertificateStatus() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  // Handshake check: OK unless the CRLs on disk revoke `pem` (OpenSSL has
  // checked the chain and validity dates already).
  grpc::Status CheckHandshake(absl::string_view pem) {
    grpc::Status status = Check(pem, /*check_expiry=*/false);
    if (!status.ok()) {
      revoked_handshakes.fetch_add(1, std::memory_order_relaxed);
    }
    return status;
  }

  // Per-call check: refuses revoked and expired certificates, so that a
  // connection opened before the revocation or expiry stops being served.
  grpc::Status CheckCall(absl::string_view pem) {
    return Check(pem, /*check_expiry=*/true);
  }

 private:
  using Fingerprint = std::vector<std::tuple<std::string, off_t, int64_t>>;
  // Not a valid CRL file name, so it cannot collide with one.
  static constexpr char kCaFileEntry[] = "<ca_file>";
  // Parsed certificates kept; the cache starts over beyond this.
  static constexpr size_t kMaxCachedCertificates = 4096;

  grpc::Status Check(absl::string_view pem, bool check_expiry) {
    std::string refusal;
    bool log = false;
    {
      absl::MutexLock lock(&mu_);
      PeerCertificate* cert = LookupLocked(pem);
      if (cert == nullptr) {
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "peer certificate cannot be parsed");
      }
      refusal = RefusalLocked(*cert, check_expiry, absl::Now());
      if (!refusal.empty() && cert->logged_generation != generation_) {
        cert->logged_generation = generation_;
        log = true;
      }
    }
    if (refusal.empty()) return grpc::Status::OK;
    if (log) {
      LogWarning("tls.certificate_refused",
                 {{"reason", refusal}, {"crl_directory", crl_directory_}});
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, refusal);
  }

  // The cached entry for `pem`, parsed and added if new; null if `pem` is
  // not a certificate.
  PeerCertificate* LookupLocked(absl::string_view pem)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = cache_.find(pem);
    if (it != cache_.end()) return &it->second;
    std::optional<PeerCertificate> parsed = ParsePeerCertificate(pem);
    if (!parsed.has_value()) return nullptr;
    if (cache_.size() >= kMaxCachedCertificates) cache_.clear();
    return &cache_.emplace(std::string(pem), *std::move(parsed)).first->second;
  }

  // Why `cert` is refused now, or "" if it is not.
  std::string RefusalLocked(PeerCertificate& cert, bool check_expiry,
                            absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (cert.generation != generation_) {
      cert.revoked = revoked_.count(cert.key) > 0;
      cert.generation = generation_;
    }
    if (cert.revoked) {
      return absl::StrCat("client certificate ", cert.subject, " serial ",
                          cert.key.second,
                          " has been revoked by its certificate authority");
    }
    if (check_expiry && now >= cert.not_after) {
      return absl::StrCat("client certificate ", cert.subject, " serial ",
                          cert.key.second, " expired at ",
                          absl::FormatTime(absl::RFC3339_sec, cert.not_after,
                                           absl::UTCTimeZone()),
                          "; connect again with a valid certificate");
    }
    return "";
  }

  // Every refresh interval: re-read the CRLs if they changed, then close
  // the connections (accept_guard.h) whose certificate is now refused.
  void RefreshLoop() {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), refresh_);
        if (stopping_) return;
        if (!crl_directory_.empty()) ReloadLocked(/*force=*/false);
      }
      CloseRefusedConnections();
    }
  }

  void CloseRefusedConnections() {
    const absl::Time now = absl::Now();
    ShutdownConnections(
        [&](const std::string& pem) {
          absl::MutexLock lock(&mu_);
          PeerCertificate* cert = LookupLocked(pem);
          return cert != nullptr &&
                 !RefusalLocked(*cert, /*check_expiry=*/true, now).empty();
        },
        [&](const std::string& peer, const std::string& pem) {
          std::string reason;
          {
            absl::MutexLock lock(&mu_);
            PeerCertificate* cert = LookupLocked(pem);
            if (cert != nullptr) reason = RefusalLocked(*cert, true, now);
          }
          LogWarning("tls.connection_closed",
                     {{"peer", peer}, {"reason", reason}});
        });
  }

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

  void ReloadLocked(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Fingerprint files = Scan();
    if (!force && files == fingerprint_) return;
    absl::StatusOr<RevokedSet> revoked = Load(files);
    if (!revoked.ok()) {
      // Keep the last good set; retried at the next refresh.
      LogError("tls.crl_reload_failed",
               {{"error", std::string(revoked.status().message())}});
      return;
    }
    revoked_ = *std::move(revoked);
    fingerprint_ = std::move(files);
    ++generation_;
    LogInfo("tls.crl_loaded", {{"directory", crl_directory_},
                               {"revoked", absl::StrCat(revoked_.size())}});
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
        LogWarning("tls.crl_ignored",
                   {{"file", path},
                    {"reason",
                     absl::StrCat("not signed by a CA in '", ca_file_, "'")}});
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
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Fingerprint fingerprint_ ABSL_GUARDED_BY(mu_);
  RevokedSet revoked_ ABSL_GUARDED_BY(mu_);
  // Bumped whenever revoked_ changes; invalidates cached verdicts.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, PeerCertificate> cache_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Runs after OpenSSL accepted the chain (and its cached CRL): refuses peers
// revoked by the CRLs currently on disk.
class CrlReloadingVerifier final
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit CrlReloadingVerifier(std::shared_ptr<CertificateStatus> status)
      : status_(std::move(status)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    *sync_status =
        status_->CheckHandshake(absl::string_view(pem.data(), pem.size()));
    return true;  // synchronous
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }

 private:
  std::shared_ptr<CertificateStatus> status_;
};

// Runs before every call, ahead of `inner`: refuses calls whose connection
// presented a certificate that has been revoked or has expired since the
// handshake (UNAUTHENTICATED, before any handler).
class CertificateStatusProcessor final : public grpc::AuthMetadataProcessor {
 public:
  CertificateStatusProcessor(std::shared_ptr<CertificateStatus> status,
                             std::shared_ptr<grpc::AuthMetadataProcessor> inner)
      : status_(std::move(status)), inner_(std::move(inner)) {}

  bool IsBlocking() const override { return inner_->IsBlocking(); }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override {
    const std::vector<grpc::string_ref> pem =
        context->FindPropertyValues("x509_pem_cert");
    if (!pem.empty()) {
      grpc::Status status =
          status_->CheckCall(absl::string_view(pem[0].data(), pem[0].size()));
      if (!status.ok()) return status;
    }
    return inner_->Process(auth_metadata, context, consumed_auth_metadata,
                           response_metadata);
  }

 private:
  std::shared_ptr<CertificateStatus> status_;
  std::shared_ptr<grpc::AuthMetadataProcessor> inner_;
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
  auto status = std::make_shared<CertificateStatus>(
      tls.ca_file(), tls.crl_directory(), absl::Seconds(refresh));
  if (!tls.crl_directory().empty()) {
    options.set_crl_directory(tls.crl_directory());
    options.set_certificate_verifier(
        grpc::experimental::ExternalCertificateVerifier::Create<
            CrlReloadingVerifier>(status));
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC refused the TLS server options");
  }
  if (processor != nullptr) {
    credentials->SetAuthMetadataProcessor(
        std::make_shared<CertificateStatusProcessor>(std::move(status),
                                                     std::move(processor)));
  }
  return credentials;
}

TlsHandshakeFailures TlsHandshakeFailureCounts() {
  return {revoked_handshakes.load(std::memory_order_relaxed),
          failed_handshakes.load(std::memory_order_relaxed)};
}

void CountTlsLogLine(absl::string_view message) {
  // gRPC 1.51, src/core/tsi/ssl_transport_security.cc: "Handshake failed
  // with fatal error SSL_ERROR_SSL: ..." once per refused handshake.
  if (absl::StartsWith(message, "Handshake failed with fatal error")) {
    failed_handshakes.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace crm::server
