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
// Several servers on one database: a rotation on one server adds a data
// key (store/key_rotation.h) the others do not hold yet. They pick it up
//  - when they read a value under a key id their keyring lacks
//    (KeyringWithKey: the keyring is reloaded from data_keys on the
//    reading session, once, and the decrypt retried), and
//  - within a second anyway, for writing under it (RefreshIfRotated, run
//    by the server's policy refresh round: one indexed read of the current
//    key's id).
// A key id that is not in data_keys (a value altered to name a forged id)
// must not make every read a database round trip: an id found missing
// after a reload is remembered (up to kMaxMissingKeyIds) and refused
// without reloading, and reloads for unknown ids are rate-limited to a
// burst of kReloadBurst, then one per kReloadInterval (a token bucket).
// A value whose id is refused reads as an error, as any value that does
// not decrypt.
//
// Thread-safety: FieldEncryption is thread-safe: keyring() may be called
// concurrently with SetKeyring (a rotation) and the reloads, each caller
// getting one consistent keyring. Reloads are serialised among themselves
// (one reload serves every caller waiting for the same id).
#ifndef CRM_STORE_FIELD_ENCRYPTION_H_
#define CRM_STORE_FIELD_ENCRYPTION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crypto/keyring.h"
#include "crypto/master_key.h"
#include "model/object_schema.h"
#include "store/database.h"

namespace crm::store {

class FieldEncryption {
 public:
  // Reloads for unknown key ids: a burst of kReloadBurst, then one per
  // kReloadInterval; at most kMaxMissingKeyIds ids remembered as missing.
  static constexpr int kReloadBurst = 5;
  static constexpr absl::Duration kReloadInterval = absl::Seconds(1);
  static constexpr size_t kMaxMissingKeyIds = 1024;

  // `now` (the rate limit's clock) defaults to absl::Now.
  FieldEncryption(crypto::MasterKey master, crypto::Keyring keyring,
                  std::function<absl::Time()> now = nullptr);

  const crypto::MasterKey& master() const { return master_; }
  // The keyring now in use (a cheap copy sharing its keys).
  crypto::Keyring keyring() const;
  // Replaces the keyring (after a rotation, or another server's new key).
  void SetKeyring(crypto::Keyring keyring);

  // A keyring holding data key `key_id`: the one in use if it has it, else
  // the keyring reloaded from data_keys on `session` (installed for every
  // caller) if it has it then. FAILED_PRECONDITION "data key X is not in
  // this server's keyring" if it does not, or if the reload is refused by
  // the rate limit (see the file comment; the message says which). Other
  // errors are the reload's (LoadKeyring).
  absl::StatusOr<crypto::Keyring> KeyringWithKey(Session& session,
                                                 absl::string_view key_id);

  // Reloads the keyring from data_keys and installs it (e.g. before
  // resuming a rotation another server began). Not rate-limited.
  absl::Status Reload(Database& db);

  // If data_keys' current key is not this keyring's current key (another
  // server rotated), reloads and installs the keyring; returns whether it
  // did. One indexed read when nothing changed.
  absl::StatusOr<bool> RefreshIfRotated(Database& db);

  // How many times the keyring was read from data_keys by KeyringWithKey,
  // Reload and RefreshIfRotated (tests, logs).
  int64_t reloads() const;

  // The blind index (crypto/blind_index.h) of `normalized`
  // (model::BlindIndexInput of a value) for `field` of `schema`, under
  // the key DeriveBlindIndexKey(master, "collection.field"); "" for "".
  // The per-field keys are derived once and kept.
  absl::StatusOr<std::string> BlindIndex(const model::ObjectSchema& schema,
                                         const model::FieldSchema& field,
                                         absl::string_view normalized) const;

 private:
  // Loads the keyring on `session` and installs it. Needs reload_mu_.
  absl::StatusOr<crypto::Keyring> ReloadLocked(Session& session)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reload_mu_);

  const crypto::MasterKey master_;
  const std::function<absl::Time()> now_;
  std::shared_ptr<const crypto::Keyring> keyring_;  // std::atomic_load/store

  mutable absl::Mutex reload_mu_;
  // The token bucket of reloads for unknown ids.
  double reload_tokens_ ABSL_GUARDED_BY(reload_mu_) = kReloadBurst;
  absl::Time tokens_at_ ABSL_GUARDED_BY(reload_mu_) = absl::InfinitePast();
  // Ids a reload did not find.
  std::set<std::string, std::less<>> missing_ids_ ABSL_GUARDED_BY(reload_mu_);
  int64_t reloads_ ABSL_GUARDED_BY(reload_mu_) = 0;
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

// The keyring stored in data_keys, read on `session` (which may be inside a
// transaction); never creates a key: FAILED_PRECONDITION if the table is
// empty. Otherwise fails as LoadOrCreateKeyring.
absl::StatusOr<crypto::Keyring> LoadKeyring(Session& session,
                                            const crypto::MasterKey& master);

}  // namespace crm::store

#endif  // CRM_STORE_FIELD_ENCRYPTION_H_
