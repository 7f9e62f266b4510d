// A 256-bit key held in memory: 32 bytes that are wiped (OPENSSL_cleanse)
// when the holder is destroyed or overwritten, so a key does not outlive
// its owner in freed heap or stack memory. Every key of this library (the
// master key, data keys, blind index keys) is a KeyBytes.
//
// Copies are explicit copies of the secret; a moved-from KeyBytes is wiped
// (all zero). Comparison is constant time. Never print or log one.
#ifndef CRM_CRYPTO_KEY_BYTES_H_
#define CRM_CRYPTO_KEY_BYTES_H_

#include <cstddef>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crm::crypto {

inline constexpr size_t kKeySize = 32;  // AES-256, HMAC-SHA256

class KeyBytes {
 public:
  KeyBytes();  // all zero
  ~KeyBytes();
  KeyBytes(const KeyBytes& other);
  KeyBytes& operator=(const KeyBytes& other);
  KeyBytes(KeyBytes&& other) noexcept;
  KeyBytes& operator=(KeyBytes&& other) noexcept;

  // 32 bytes from OpenSSL's CSPRNG (RAND_bytes). INTERNAL if it fails
  // (no entropy source).
  static absl::StatusOr<KeyBytes> Random();
  // Exactly kKeySize bytes, or nullopt.
  static std::optional<KeyBytes> FromBytes(absl::string_view bytes);

  const unsigned char* data() const { return bytes_; }
  unsigned char* data() { return bytes_; }
  static constexpr size_t size() { return kKeySize; }

  // Constant time (CRYPTO_memcmp).
  bool operator==(const KeyBytes& other) const;
  bool operator!=(const KeyBytes& other) const { return !(*this == other); }

 private:
  unsigned char bytes_[kKeySize];
};

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_KEY_BYTES_H_
