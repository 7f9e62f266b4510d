// Encryption at rest of sensitive record fields (issue 13), the store's
// side: the keyring the record store encrypts and decrypts with, and the
// data_keys table (migration 11) the keyring is loaded from.
//
// What is encrypted: every non-empty value of a field marked `sensitive`
// in resources.proto (model::FieldSchema::sensitive; string fields only),
// as crypto::Keyring::Encrypt(value, crypto::FieldAad(collection, field,
// record id)): "enc:v1:<data key id>:<base64url>". The empty string stays
// empty (a proto3 default, which reveals only that the field is unset);
// that keeps the column's NOT NULL DEFAULT '' meaning "not set".
//
// Reading: a value under a key of the keyring decrypts; one that does not
// (altered, copied from another record or field, under a key that is not
// in the keyring) is an error, never shown. A value with no "enc:" prefix
// is plaintext written before the field was encrypted (a database from
// before migration 11): it is returned as it is and re-encrypted by a key
// rotation (Keyring::NeedsReencryption is true for it).
//
// Blind indexes (fields with FieldSchema::blind_index): beside the
// encrypted value, the column model::BlindIndexColumn(field) holds
// BlindIndex(model::BlindIndexInput(value)), written with the value, so
// that query/ can compare equality without decrypting (query/
// checked_filter.h). The index keys derive from the master key, not from
// a data key: a data key rotation leaves the indexes valid.
//
// data_keys(id, wrapped, master_key_id, created_at, is_current): one row
// per data key, wrapped under the master key (crypto/data_key.h); exactly
// one row has is_current = 1 (a partial unique index holds that).
//
// Thread-safety: FieldEncryption is thread-safe: keyring() may be called
// concurrently with SetKeyring (a rotation), each caller getting one
// consistent keyring.
#ifndef CRM_STORE_FIELD_ENCRYPTION_H_
#define CRM_STORE_FIELD_ENCRYPTION_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "crypto/keyring.h"
#include "crypto/master_key.h"
#include "model/object_schema.h"
#include "store/database.h"

namespace crm::store {

class FieldEncryption {
 public:
  FieldEncryption(crypto::MasterKey master, crypto::Keyring keyring);

  const crypto::MasterKey& master() const { return master_; }
  // The keyring now in use (a cheap copy sharing its keys).
  crypto::Keyring keyring() const;
  // Replaces the keyring (after a rotation, or another server's new key).
  void SetKeyring(crypto::Keyring keyring);

  // The blind index (crypto/blind_index.h) of `normalized`
  // (model::BlindIndexInput of a value) for `field` of `schema`, under
  // the key DeriveBlindIndexKey(master, "collection.field"); "" for "".
  // The per-field keys are derived once and kept.
  absl::StatusOr<std::string> BlindIndex(const model::ObjectSchema& schema,
                                         const model::FieldSchema& field,
                                         absl::string_view normalized) const;

 private:
  const crypto::MasterKey master_;
  std::shared_ptr<const crypto::Keyring> keyring_;  // std::atomic_load/store
  mutable absl::Mutex index_keys_mu_;
  mutable std::map<std::string, crypto::KeyBytes, std::less<>> index_keys_
      ABSL_GUARDED_BY(index_keys_mu_);
};

// True if some resource of `registry` has a sensitive field: the server
// then needs a master key (EncryptionConfig.master_key_file).
bool HasSensitiveFields(const model::SchemaRegistry& registry);

// The keyring stored in data_keys, unwrapped under `master`. If the table
// is empty, a first data key is generated, wrapped and stored as current
// (one transaction; on PostgreSQL under an advisory lock, so of two
// servers starting at once one creates the key and the other reads it).
// Fails closed:
//  - FAILED_PRECONDITION if a stored key was wrapped under another master
//    key: the message names both master key ids and says to configure the
//    master key file the keys were made with. No key is created then;
//  - DATA_LOSS if a wrapped key does not unwrap (altered);
//  - INTERNAL if no (or more than one) key is marked current.
absl::StatusOr<crypto::Keyring> LoadOrCreateKeyring(
    Database& db, const crypto::MasterKey& master);

}  // namespace crm::store

#endif  // CRM_STORE_FIELD_ENCRYPTION_H_
