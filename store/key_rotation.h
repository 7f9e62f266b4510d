// Rotation of the data keys that encrypt sensitive fields (issue 13;
// store/field_encryption.h has the formats). A rotation is:
//   1. AddCurrentDataKey: a new data key, wrapped under the master key and
//      stored as the current one; the previous keys stay in data_keys and
//      in the keyring, so every value written before still reads;
//   2. ReencryptBatch, repeated until it returns 0: the values not under
//      the current key (older keys, and plaintext from before the field
//      was encrypted) are decrypted and encrypted again under it, `batch`
//      records per transaction. Online: reads and writes go on meanwhile.
//      Each value is rewritten only if it is still the one read (compare
//      and set), so a concurrent write is never overwritten; the record's
//      version (etag) does not change, since its content does not.
// A value that does not decrypt (altered, or copied from another record)
// stops the batch with INTERNAL (an error id, logged with the record id and
// field, never the value): it needs an operator, not a retry.
//
// Several servers on one database: the server that rotates installs the
// new keyring at once; the others reload theirs from data_keys
// (field_encryption.h) when they read a value under a key id they lack
// (once, rate-limited, on the reading session) and, for writing under the
// new key, on their policy refresh round (every second:
// FieldEncryption::RefreshIfRotated). A value another server wrote under
// the previous key in that second is re-encrypted by step 2 if it ran
// after the write, else it is counted by CountStaleValues and a resumed
// step 2 (`crmctl keys rotate --resume`) re-encrypts it. A step 2 that
// meets a value under a key its keyring lacks (another server's rotation
// meanwhile) reloads the keyring the same way.
//
// The gRPC face (KeyAdminService, server/key_admin_service.h) runs steps 1
// and 2 online and audits them; `crmctl keys` calls it.
//
// Thread-safety: the functions may run concurrently with reads and writes
// of records; two rotations at once are serialised by the data_keys lock
// (PostgreSQL advisory lock; SQLite's write lock).
#ifndef CRM_STORE_KEY_ROTATION_H_
#define CRM_STORE_KEY_ROTATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "store/database.h"
#include "store/field_encryption.h"

namespace crm::store {

// Called inside step 1's transaction with the previous current key's id
// and the new key's: what must commit with the new key (its audit event).
// An error rolls the new key back.
using NewKeyHook = std::function<absl::Status(
    Session& session, const std::string& previous_id,
    const std::string& new_id)>;

// Step 1: stores a new current data key and installs the keyring with it
// (reloaded from data_keys, so keys another server added are in it too).
// Returns the new key's id. `in_transaction` may be null.
absl::StatusOr<std::string> AddCurrentDataKey(
    Database& db, FieldEncryption& encryption,
    const NewKeyHook& in_transaction = nullptr);

// Step 2 for one resource: re-encrypts under the current key the sensitive
// values of at most `batch` records of `schema` that hold one not under it
// (in one transaction); returns how many records it changed. 0: none left
// (as of this read). INVALID_ARGUMENT for batch <= 0.
absl::StatusOr<int64_t> ReencryptBatch(Database& db,
                                       FieldEncryption& encryption,
                                       const model::ObjectSchema& schema,
                                       int batch);

// How many sensitive values are not under the current key, per
// "collection.field" (every sensitive field of `registry`, 0 included).
absl::StatusOr<std::map<std::string, int64_t>> CountStaleValues(
    Database& db, const FieldEncryption& encryption,
    const model::SchemaRegistry& registry);

// A row of data_keys, without its wrapped key.
struct DataKeyInfo {
  std::string id;
  std::string master_key_id;
  int64_t created_micros = 0;  // since the Unix epoch
  bool current = false;
};

// Every data key, oldest first.
absl::StatusOr<std::vector<DataKeyInfo>> ListDataKeys(Database& db);

}  // namespace crm::store

#endif  // CRM_STORE_KEY_ROTATION_H_
