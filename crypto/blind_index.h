// Blind indexes: equality filters on an encrypted field (issue 13), for the
// fields whose schema asks for one. Beside the encrypted value the store
// keeps BlindIndex(key, normalized value); `field = x` then compares that
// column with BlindIndex(key, normalized x). Filtering otherwise, and
// sorting, on an encrypted field stay refused.
//
// Index: HMAC-SHA256 under a per-field key, truncated to 16 bytes, as 32
// lower-case hex characters. A false match between two distinct values has
// probability 2^-128 per pair: none in practice.
//
// Keys: HKDF-SHA256 (RFC 5869; no salt, the master key being uniformly
// random) of the master key with the info "blind-index:" + the field, e.g.
// "blind-index:contacts.email". So the same value in two fields, or under
// two master keys, has unrelated indexes. Replacing the master key changes
// every index: they are recomputed from the decrypted values.
//
// What it leaks, by design: equality. A reader of the database sees which
// records hold the same value of an indexed field, and how often each value
// occurs; without the master key he cannot compute an index, so cannot
// test a guess. It reveals nothing of the value itself, its length or its
// order. On a field with few distinct values frequency alone can tell them
// apart: index only fields whose values are mostly distinct (email,
// phone).
//
// Normalisation (case, spaces, phone number formats) is the caller's:
// equal indexes need byte-equal inputs.
//
// Thread-safety: both functions may be called concurrently.
#ifndef CRM_CRYPTO_BLIND_INDEX_H_
#define CRM_CRYPTO_BLIND_INDEX_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/key_bytes.h"
#include "crypto/master_key.h"

namespace crm::crypto {

inline constexpr size_t kBlindIndexSize = 16;  // bytes; 32 hex characters

// The index key of `field` ("collection.field"). INVALID_ARGUMENT for an
// empty field; INTERNAL if OpenSSL fails.
absl::StatusOr<KeyBytes> DeriveBlindIndexKey(const MasterKey& master,
                                             absl::string_view field);

// The blind index of `normalized_value` under `index_key`.
std::string BlindIndex(const KeyBytes& index_key,
                       absl::string_view normalized_value);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_BLIND_INDEX_H_
