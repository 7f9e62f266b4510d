#include "audit/signing.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "audit/chain.h"

namespace crm::audit {
namespace {

std::shared_ptr<void> Wrap(EVP_PKEY* key) {
  return std::shared_ptr<void>(key, [](void* k) {
    EVP_PKEY_free(static_cast<EVP_PKEY*>(k));
  });
}

EVP_PKEY* Raw(const std::shared_ptr<void>& key) {
  return static_cast<EVP_PKEY*>(key.get());
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string KeyId(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  std::string id;
  if (n > 0) {
    id = Sha256Hex(absl::string_view(reinterpret_cast<char*>(der),
                                     static_cast<size_t>(n)))
             .substr(0, 16);
  }
  OPENSSL_free(der);
  return id;
}

}  // namespace

absl::StatusOr<PublicKey> PublicKey::FromPem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    if (key != nullptr) EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        "not an Ed25519 public key in PEM (SubjectPublicKeyInfo); "
        "get it with `crmctl audit public-key`");
  }
  PublicKey out;
  out.key_ = Wrap(key);
  out.pem_ = PublicPem(key);
  out.key_id_ = KeyId(key);
  return out;
}

bool PublicKey::Verify(absl::string_view message,
                       absl::string_view signature_hex) const {
  if (signature_hex.size() != 128) return false;
  for (char c : signature_hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  const std::string signature = absl::HexStringToBytes(signature_hex);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr,
                                 Raw(key_)) == 1 &&
            EVP_DigestVerify(
                ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                signature.size(),
                reinterpret_cast<const unsigned char*>(message.data()),
                message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

absl::StatusOr<Signer> Signer::FromPem(absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    if (key != nullptr) EVP_PKEY_free(key);
    return absl::InvalidArgumentError(
        "not an Ed25519 private key in PEM (PKCS#8); "
        "make one with `openssl genpkey -algorithm ed25519`");
  }
  Signer out;
  out.key_ = Wrap(key);
  auto pub = PublicKey::FromPem(PublicPem(key));
  if (!pub.ok()) abort();  // our own key always converts
  out.public_key_ = *std::move(pub);
  return out;
}

Signer Signer::Generate() {
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 ||
      EVP_PKEY_keygen(ctx, &key) != 1) {
    abort();  // no entropy or a broken OpenSSL: nothing sensible to do
  }
  EVP_PKEY_CTX_free(ctx);
  Signer out;
  out.key_ = Wrap(key);
  auto pub = PublicKey::FromPem(PublicPem(key));
  if (!pub.ok()) abort();
  out.public_key_ = *std::move(pub);
  return out;
}

std::string Signer::PrivateKeyPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, Raw(key_), nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string Signer::Sign(absl::string_view message) const {
  unsigned char signature[64];
  size_t length = sizeof(signature);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, Raw(key_)) != 1 ||
      EVP_DigestSign(ctx, signature, &length,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    abort();  // Ed25519 signing of a buffer cannot fail with a valid key
  }
  EVP_MD_CTX_free(ctx);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(signature), length));
}

}  // namespace crm::audit
