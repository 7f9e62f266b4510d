// Ed25519 keys for audit checkpoints (OpenSSL). A Signer holds the
// server's private key; a PublicKey is what an auditor pins and verifies
// with, offline if need be.
//
// Key id: the first 16 hex characters of SHA-256 of the public key in DER
// (SubjectPublicKeyInfo), so two parties can compare keys by a short string.
//
// Thread-safety: both classes are immutable after creation; Sign and
// Verify may be called concurrently.
#ifndef CRM_AUDIT_SIGNING_H_
#define CRM_AUDIT_SIGNING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::audit {

class PublicKey {
 public:
  // From PEM (SubjectPublicKeyInfo). INVALID_ARGUMENT if it is not
  // an Ed25519 public key.
  static absl::StatusOr<PublicKey> FromPem(absl::string_view pem);

  const std::string& pem() const { return pem_; }
  const std::string& key_id() const { return key_id_; }
  // True if `signature_hex` is this key's Ed25519 signature of `message`.
  bool Verify(absl::string_view message, absl::string_view signature_hex) const;

 private:
  friend class Signer;
  PublicKey() = default;
  std::shared_ptr<void> key_;  // EVP_PKEY
  std::string pem_;
  std::string key_id_;
};

class Signer {
 public:
  // From a PEM private key (PKCS#8; certs/make-dev-certs.sh makes one).
  // INVALID_ARGUMENT if it is not an Ed25519 key; the message never
  // contains key material.
  static absl::StatusOr<Signer> FromPem(absl::string_view pem);
  // A new random key (tests, and a server configured without a key).
  static Signer Generate();

  // The private key as PEM (PKCS#8), to write to a file.
  std::string PrivateKeyPem() const;
  const PublicKey& public_key() const { return public_key_; }
  // Ed25519 signature of `message`, lower-case hex (128 characters).
  std::string Sign(absl::string_view message) const;

 private:
  Signer() = default;
  std::shared_ptr<void> key_;  // EVP_PKEY
  PublicKey public_key_;
};

}  // namespace crm::audit

#endif  // CRM_AUDIT_SIGNING_H_
