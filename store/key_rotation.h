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
// Several servers: NOT YET HANDLED. The server that rotates installs the
// new keyring; the others keep theirs until they restart, so they cannot
// read values written under the new key (INTERNAL, logged "not in this
// keyring"), and they write under the previous key (re-encrypted by the
// next run of step 2). Until a reload on an unknown key id exists, restart
// the other servers after a rotation.
//
// Thread-safety: the functions may run concurrently with reads and writes
// of records; two rotations at once are serialised by the data_keys lock
// (PostgreSQL advisory lock; SQLite's write lock).
#ifndef CRM_STORE_KEY_ROTATION_H_
#define CRM_STORE_KEY_ROTATION_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "model/object_schema.h"
#include "store/database.h"
#include "store/field_encryption.h"

namespace crm::store {

// Step 1: stores a new current data key and installs the keyring with it
// (reloaded from data_keys, so keys another server added are in it too).
// Returns the new key's id.
absl::StatusOr<std::string> AddCurrentDataKey(Database& db,
                                              FieldEncryption& encryption);

// Step 2 for one resource: re-encrypts under the current key the sensitive
// values of at most `batch` records of `schema` that hold one not under it
// (in one transaction); returns how many records it changed. 0: none left
// (as of this read). INVALID_ARGUMENT for batch <= 0.
absl::StatusOr<int64_t> ReencryptBatch(Database& db,
                                       const FieldEncryption& encryption,
                                       const model::ObjectSchema& schema,
                                       int batch);

// How many sensitive values are not under the current key, per
// "collection.field" (every sensitive field of `registry`, 0 included).
absl::StatusOr<std::map<std::string, int64_t>> CountStaleValues(
    Database& db, const FieldEncryption& encryption,
    const model::SchemaRegistry& registry);

}  // namespace crm::store

#endif  // CRM_STORE_KEY_ROTATION_H_
