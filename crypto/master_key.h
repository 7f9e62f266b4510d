// The master key: the root of envelope encryption, 32 random bytes kept in
// a file outside the database. It never encrypts field values; it wraps
// the data keys (data_key.h) and derives the blind index keys
// (blind_index.h). A dump of the database therefore holds nothing that
// decrypts without this file; by the same token, losing the file loses
// every encrypted value, so it is backed up apart from the database.
//
// File format: one line of 64 hex characters (the 32 bytes; either case),
// optionally followed by a newline. Hex rather than base64 because the
// length is obvious at a glance and standard tools make one:
//   (umask 077 && openssl rand -hex 32 > /etc/crm/master.key)
// GenerateMasterKeyFile writes the same format.
//
// Key id: the first 8 bytes of SHA-256 of the 32 key bytes, as 16
// lower-case hex characters. Every wrapped data key names the master key
// id it was wrapped under, so loading the wrong master key is reported by
// id before anything is decrypted. The id reveals nothing usable about the
// key (SHA-256 is preimage resistant and the key is 256 random bits).
//
// Thread-safety: a MasterKey is immutable; share it freely.
#ifndef CRM_CRYPTO_MASTER_KEY_H_
#define CRM_CRYPTO_MASTER_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "crypto/key_bytes.h"

namespace crm::crypto {

class MasterKey {
 public:
  explicit MasterKey(KeyBytes key);
  // A new random key (tests; files are made by GenerateMasterKeyFile).
  static absl::StatusOr<MasterKey> Generate();

  const KeyBytes& key() const { return key_; }
  const std::string& id() const { return id_; }

 private:
  KeyBytes key_;
  std::string id_;
};

// Reads the master key from `path`. Fails, with a message that names the
// path and the fix but never any key material, when:
//  - the file cannot be opened or is not a regular file (NOT_FOUND,
//    PERMISSION_DENIED, FAILED_PRECONDITION);
//  - it is accessible to group or others (any of the mode bits 077):
//    FAILED_PRECONDITION naming the mode and `chmod 600 PATH`. The same
//    rule as server/secret_files.cc applies to the TLS key, with no
//    override here: this key opens every sensitive field. The mode is that
//    of the opened file (a symbolic link is followed, as a reader would);
//  - its content is not 64 hex characters on one line (INVALID_ARGUMENT,
//    naming the expected format and how to make a file).
absl::StatusOr<MasterKey> LoadMasterKey(const std::string& path);

// Creates `path` with mode 0600 (whatever the umask) holding a new random
// key in the format above, flushes it and its directory to disk, and
// returns the key. Never overwrites: if `path` exists (even as a dangling
// symbolic link) it fails with ALREADY_EXISTS, since replacing a master
// key makes everything encrypted under it unreadable. On any other error
// no file is left behind.
absl::StatusOr<MasterKey> GenerateMasterKeyFile(const std::string& path);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_MASTER_KEY_H_
