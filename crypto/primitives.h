// The OpenSSL primitives this library is built on, with nothing of its own
// formats: AES-256-GCM with an explicit nonce, HMAC-SHA256, HKDF-SHA256,
// SHA-256 and random bytes. Internal to crypto/ (and its known-answer
// tests, which check the wiring against published vectors); the rest of
// the server uses keyring.h, data_key.h, master_key.h and blind_index.h.
//
// Thread-safety: every function may be called concurrently. Algorithms are
// fetched from OpenSSL's default provider once per process.
#ifndef CRM_CRYPTO_PRIMITIVES_H_
#define CRM_CRYPTO_PRIMITIVES_H_

#include <cstddef>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crypto/key_bytes.h"

namespace crm::crypto {

inline constexpr size_t kGcmNonceSize = 12;  // 96 bits, GCM's native size
inline constexpr size_t kGcmTagSize = 16;    // 128 bits, the full tag
// Longest plaintext AesGcmSeal takes (EVP counts lengths in int).
inline constexpr size_t kMaxPlaintextSize = size_t{1} << 30;

// The additional authenticated data is the concatenation of the pieces
// (so a fixed header and the caller's data need no copy into one buffer).
using AadPieces = std::initializer_list<absl::string_view>;

// Appends AES-256-GCM(key, nonce, aad) of `plaintext` to *out: the
// ciphertext (as long as the plaintext) then the 16-byte tag. `nonce` must
// be kGcmNonceSize bytes and must never repeat under one key (callers use
// RandomBytes). No argument may point into *out (it grows).
// INVALID_ARGUMENT for a wrong nonce size or a plaintext over
// kMaxPlaintextSize; INTERNAL if OpenSSL fails. On error *out is unchanged.
absl::Status AesGcmSeal(const KeyBytes& key, absl::string_view nonce,
                        absl::string_view plaintext, AadPieces aad,
                        std::string* out);

// The inverse: `sealed` is ciphertext | tag. Replaces *out with the
// plaintext and returns true only if the tag verifies, i.e. key, nonce,
// aad, ciphertext and tag are exactly those of a seal. Otherwise returns
// false and leaves *out empty (any bytes decrypted before the tag check
// are wiped), so a caller never sees unauthenticated plaintext.
bool AesGcmOpen(const KeyBytes& key, absl::string_view nonce,
                absl::string_view sealed, AadPieces aad, std::string* out);

inline constexpr size_t kSha256Size = 32;

// HMAC-SHA256 of `data` under `key` (any length), 32 bytes into `out`.
void HmacSha256(absl::string_view key, absl::string_view data,
                unsigned char out[kSha256Size]);

// HKDF-SHA256 (RFC 5869, extract then expand) of `ikm` with `salt` and
// `info`, `out_size` bytes into `out` (at most 255 * 32). INTERNAL if
// OpenSSL fails.
absl::Status HkdfSha256(absl::string_view ikm, absl::string_view salt,
                        absl::string_view info, unsigned char* out,
                        size_t out_size);

// SHA-256 of `data`, 32 raw bytes (into `out`, or returned). OpenSSL 3's
// one-shot SHA256() and EVP_sha256() look the algorithm up in the provider
// store on every call, which costs more than hashing a few hundred bytes;
// this fetches it once (the audit chain hashes every event, the audit spool
// checks every record).
void Sha256(absl::string_view data, unsigned char out[kSha256Size]);
std::string Sha256(absl::string_view data);

// `size` bytes from OpenSSL's CSPRNG. INTERNAL if it fails.
absl::Status RandomBytes(unsigned char* out, size_t size);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_PRIMITIVES_H_
