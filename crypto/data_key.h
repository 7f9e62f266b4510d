// Data keys: the keys that encrypt field values (keyring.h). Envelope
// encryption: a data key is stored in the database only wrapped
// (encrypted) under the master key (master_key.h), so a database dump
// alone decrypts nothing, replacing the master key means rewrapping a
// handful of data keys rather than re-encrypting every value, and a new
// data key (rotation) needs no new master key.
//
// Id: "dk" followed by 12 random lower-case hex characters (48 bits). Short
// because every encrypted value repeats it; random rather than a counter
// so two servers generating keys at once cannot collide in practice
// (Keyring refuses duplicate ids anyway). A valid id (IsValidKeyId) is 1 to
// 32 characters of [A-Za-z0-9_-]: never ':', the separator of the text
// formats.
//
// Wrapped form, text safe for a TEXT column:
//   wk:v1:<master key id>:<base64url(nonce 12 | ciphertext 32 | tag 16)>
// AES-256-GCM under the master key with the AAD
//   "crm:data-key:v1:<data key id>:<master key id>"
// so a wrapped key moved to another id, or edited to name another master
// key, does not unwrap.
//
// Thread-safety: the functions are; a DataKey is a plain value.
#ifndef CRM_CRYPTO_DATA_KEY_H_
#define CRM_CRYPTO_DATA_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/key_bytes.h"
#include "crypto/master_key.h"

namespace crm::crypto {

struct DataKey {
  std::string id;
  KeyBytes key;  // wiped on destruction

  // A new random key with a new id.
  static absl::StatusOr<DataKey> Generate();
};

bool IsValidKeyId(absl::string_view id);

// `key` wrapped under `master`, in the form above. INVALID_ARGUMENT for an
// invalid id; INTERNAL if OpenSSL fails.
absl::StatusOr<std::string> WrapDataKey(const MasterKey& master,
                                        const DataKey& key);

// The data key `id` from its wrapped form. Fails closed, naming the data
// key id and master key ids but never key material:
//  - FAILED_PRECONDITION if it was wrapped under another master key (the
//    message names both ids: load the right master key file);
//  - DATA_LOSS if it is malformed or does not authenticate (altered, or
//    stored under another id);
//  - INVALID_ARGUMENT for an invalid id.
absl::StatusOr<DataKey> UnwrapDataKey(const MasterKey& master,
                                      absl::string_view id,
                                      absl::string_view wrapped);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_DATA_KEY_H_
