#include "crypto/key_bytes.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include "absl/status/status.h"

namespace crm::crypto {

KeyBytes::KeyBytes() { std::memset(bytes_, 0, kKeySize); }

KeyBytes::~KeyBytes() { OPENSSL_cleanse(bytes_, kKeySize); }

KeyBytes::KeyBytes(const KeyBytes& other) {
  std::memcpy(bytes_, other.bytes_, kKeySize);
}

KeyBytes& KeyBytes::operator=(const KeyBytes& other) {
  if (this != &other) std::memcpy(bytes_, other.bytes_, kKeySize);
  return *this;
}

KeyBytes::KeyBytes(KeyBytes&& other) noexcept {
  std::memcpy(bytes_, other.bytes_, kKeySize);
  OPENSSL_cleanse(other.bytes_, kKeySize);
}

KeyBytes& KeyBytes::operator=(KeyBytes&& other) noexcept {
  if (this != &other) {
    std::memcpy(bytes_, other.bytes_, kKeySize);
    OPENSSL_cleanse(other.bytes_, kKeySize);
  }
  return *this;
}

absl::StatusOr<KeyBytes> KeyBytes::Random() {
  KeyBytes key;
  if (RAND_bytes(key.bytes_, static_cast<int>(kKeySize)) != 1) {
    return absl::InternalError(
        "RAND_bytes failed: OpenSSL has no entropy source; no key was made");
  }
  return key;
}

std::optional<KeyBytes> KeyBytes::FromBytes(absl::string_view bytes) {
  if (bytes.size() != kKeySize) return std::nullopt;
  KeyBytes key;
  std::memcpy(key.bytes_, bytes.data(), kKeySize);
  return key;
}

bool KeyBytes::operator==(const KeyBytes& other) const {
  return CRYPTO_memcmp(bytes_, other.bytes_, kKeySize) == 0;
}

}  // namespace crm::crypto
