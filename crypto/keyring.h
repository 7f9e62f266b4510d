// Encryption of sensitive field values at rest (issue 13): AES-256-GCM
// under data keys (data_key.h), one of which is current (new values use
// it) while the others remain for reading values written before a
// rotation.
//
// Encrypted value, text safe for a TEXT column:
//   enc:v1:<data key id>:<base64url(nonce 12 | ciphertext | tag 16)>
// The ciphertext is as long as the plaintext; a 16-byte phone number
// becomes 81 characters with a "dk" + 12 hex id. The key id lets Decrypt
// pick the key, and lets rotation find the values still under an old key
// (NeedsReencryption) without decrypting them.
//
// AAD: the caller's `aad` binds a value to where it is stored. The store
// passes FieldAad(collection, field, record_id), "collection.field.
// record_id", so a value copied to another record or field, or swapped
// between two fields, fails to decrypt. GCM authenticates the value's
// header "enc:v1:<key id>:" followed by the caller's AAD (the header ends
// at the second ':' after "enc", and ids hold no ':', so the two parts
// cannot be confused).
//
// Failures are errors, never garbage: an unknown key id, another AAD, a
// changed, truncated or extended value all fail, and nothing decrypted
// before the tag check is returned. Error messages name at most the key id
// and the AAD's "collection.field" (the part before its second '.'); never
// the record id, the plaintext, the ciphertext or any key.
//
// Nonces: 96 random bits per value (RAND_bytes). With random nonces NIST
// SP 800-38D allows at most 2^32 encryptions under one key (keeping the
// chance of a repeated nonce, which would expose the two plaintexts' XOR
// and allow forgeries, below 2^-32). The keyring does not count (a count
// would not survive restarts or span servers): rotate the current key
// (WithNewCurrentKey) well before that; each new data key starts from
// zero. At 100 sensitive writes a second, 2^32 takes 1.4 years.
//
// Thread-safety: a Keyring is immutable; copies share its keys, and every
// method may be called concurrently. Keys are wiped when the last copy
// goes.
#ifndef CRM_CRYPTO_KEYRING_H_
#define CRM_CRYPTO_KEYRING_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/data_key.h"
#include "crypto/master_key.h"

namespace crm::crypto {

// A data key as the store keeps it.
struct WrappedDataKey {
  std::string id;
  std::string wrapped;  // WrapDataKey's output
};

class Keyring {
 public:
  // `keys`: at least one, ids valid (IsValidKeyId) and distinct;
  // `current_id` one of them. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<Keyring> Create(std::vector<DataKey> keys,
                                        absl::string_view current_id);
  // A keyring of one new random key (tests; a first start).
  static absl::StatusOr<Keyring> Generate();
  // Unwraps each key under `master` (UnwrapDataKey's errors, the first
  // one), then Create.
  static absl::StatusOr<Keyring> Unwrap(const MasterKey& master,
                                        const std::vector<WrappedDataKey>& keys,
                                        absl::string_view current_id);

  const std::string& current_key_id() const;
  // The current key, for WrapDataKey after a rotation.
  const DataKey& current_key() const;
  std::vector<std::string> key_ids() const;  // sorted
  bool HasKey(absl::string_view id) const;

  // `plaintext` (any bytes, up to 1 GiB) encrypted under the current key
  // for the place `aad`. INTERNAL only if OpenSSL or its RNG fails.
  absl::StatusOr<std::string> Encrypt(absl::string_view plaintext,
                                      absl::string_view aad) const;
  // The plaintext of `value` (Encrypt's output) stored at `aad`:
  //  - INVALID_ARGUMENT if `value` is not an encrypted value at all (no
  //    "enc:" prefix);
  //  - FAILED_PRECONDITION if its key id is not in this keyring;
  //  - DATA_LOSS if it is malformed or does not authenticate (altered,
  //    truncated, or encrypted for another aad).
  absl::StatusOr<std::string> Decrypt(absl::string_view value,
                                      absl::string_view aad) const;

  // True unless `value` is an encrypted value under the current key: a
  // value under an older key, and a plaintext value (a field newly marked
  // sensitive), both need Encrypt. Reads only the header: it does not
  // check that the value decrypts.
  bool NeedsReencryption(absl::string_view value) const;

  // Rotation: a keyring with a new random data key as current and every
  // key of this one kept, for decrypting older values. The caller wraps
  // and stores current_key() before using it for writes.
  absl::StatusOr<Keyring> WithNewCurrentKey() const;
  // The same with a given key (e.g. one another server generated).
  // INVALID_ARGUMENT for an invalid id or one already in the keyring.
  absl::StatusOr<Keyring> WithCurrentKey(DataKey key) const;

 private:
  struct State;
  explicit Keyring(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;
};

// True if `value` has the form of Keyring::Encrypt's output (prefix,
// valid key id, payload at least as long as nonce and tag); it does not
// check that the value decrypts.
bool IsEncrypted(absl::string_view value);

// The data key id of an encrypted value, or nullopt if !IsEncrypted.
std::optional<absl::string_view> EncryptedKeyId(absl::string_view value);

// "collection.field.record_id", the AAD the store uses for a field value.
std::string FieldAad(absl::string_view collection, absl::string_view field,
                     absl::string_view record_id);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_KEYRING_H_
