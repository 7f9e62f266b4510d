#include "store/field_encryption.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/log.h"
#include "crypto/blind_index.h"
#include "crypto/data_key.h"
#include "store/statement.h"

namespace crm::store {
namespace {

// Key of the PostgreSQL advisory lock that serialises the creation of the
// first data key ("crm dkey").
constexpr int64_t kDataKeyLockKey = 0x63726d20646b6579;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::string* TextOf(const Row& row, size_t i) {
  return i < row.size() ? std::get_if<std::string>(&row[i]) : nullptr;
}

// The wrapped keys of data_keys and the current one's id (`keys` empty if
// the table is). Fails as LoadOrCreateKeyring says.
absl::Status ReadStoredKeys(Session& session, const crypto::MasterKey& master,
                            std::vector<crypto::WrappedDataKey>* keys,
                            std::string* current) {
  keys->clear();
  current->clear();
  auto rows = Query(session,
                    {"SELECT id, wrapped, master_key_id, is_current FROM "
                     "data_keys ORDER BY created_at, id",
                     {}},
                    "reading data_keys");
  if (!rows.ok()) return rows.status();
  std::vector<std::string> current_ids;
  for (const Row& row : *rows) {
    const std::string* id = TextOf(row, 0);
    const std::string* wrapped = TextOf(row, 1);
    const std::string* master_id = TextOf(row, 2);
    std::optional<int64_t> is_current =
        row.size() > 3 ? IntOf(row[3]) : std::nullopt;
    if (id == nullptr || wrapped == nullptr || master_id == nullptr ||
        !is_current.has_value()) {
      return absl::InternalError(
          "data_keys: unexpected row shape; is the database schema up to "
          "date?");
    }
    if (*master_id != master.id()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "encryption.master_key_file holds master key ", master.id(),
          " but data key ", *id, " in the database's data_keys table is "
          "wrapped under master key ", *master_id,
          "; configure the master key file the database's keys were made "
          "with (the server never replaces stored keys: every encrypted "
          "value would be lost)"));
    }
    keys->push_back({*id, *wrapped});
    if (*is_current != 0) current_ids.push_back(*id);
  }
  if (keys->empty()) return absl::OkStatus();
  if (current_ids.size() != 1) {
    return absl::InternalError(absl::StrCat(
        "data_keys: ", current_ids.size(),
        " keys are marked current, expected exactly one (",
        absl::StrJoin(current_ids, ", "), ")"));
  }
  *current = current_ids[0];
  return absl::OkStatus();
}

}  // namespace

FieldEncryption::FieldEncryption(crypto::MasterKey master,
                                 crypto::Keyring keyring,
                                 std::function<absl::Time()> now)
    : master_(std::move(master)),
      now_(now != nullptr ? std::move(now) : [] { return absl::Now(); }),
      keyring_(std::make_shared<const crypto::Keyring>(std::move(keyring))) {}

crypto::Keyring FieldEncryption::keyring() const {
  return *std::atomic_load(&keyring_);
}

void FieldEncryption::SetKeyring(crypto::Keyring keyring) {
  std::atomic_store(&keyring_,
                    std::make_shared<const crypto::Keyring>(std::move(keyring)));
}

absl::StatusOr<crypto::Keyring> FieldEncryption::ReloadLocked(
    Session& session) {
  ++reloads_;
  absl::StatusOr<crypto::Keyring> loaded = LoadKeyring(session, master_);
  if (!loaded.ok()) return loaded.status();
  const std::string before = keyring().current_key_id();
  SetKeyring(*loaded);
  if (before != loaded->current_key_id()) {
    base::LogInfo("encryption.keyring_reloaded",
              {{"current_data_key", loaded->current_key_id()},
               {"previous_data_key", before},
               {"data_keys", absl::StrCat(loaded->key_ids().size())}});
  }
  return loaded;
}

absl::StatusOr<crypto::Keyring> FieldEncryption::KeyringWithKey(
    Session& session, absl::string_view key_id) {
  crypto::Keyring now_in_use = keyring();
  if (now_in_use.HasKey(key_id)) return now_in_use;
  absl::MutexLock lock(&reload_mu_);
  // Another caller may have reloaded while this one waited.
  now_in_use = keyring();
  if (now_in_use.HasKey(key_id)) return now_in_use;
  const auto refused = [&](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat("data key ", key_id, " is not in this server's keyring (",
                     why, ")"));
  };
  if (missing_ids_.count(key_id) > 0) {
    return refused("nor in data_keys when last reloaded");
  }
  const absl::Time t = now_();
  if (tokens_at_ != absl::InfinitePast()) {
    reload_tokens_ = std::min<double>(
        kReloadBurst,
        reload_tokens_ + absl::FDivDuration(t - tokens_at_, kReloadInterval));
  }
  tokens_at_ = t;
  if (reload_tokens_ < 1) {
    return refused("keyring reloads for unknown key ids are rate-limited; "
                   "retry in a second");
  }
  reload_tokens_ -= 1;
  absl::StatusOr<crypto::Keyring> loaded = ReloadLocked(session);
  if (!loaded.ok()) return loaded.status();
  if (loaded->HasKey(key_id)) return loaded;
  if (missing_ids_.size() >= kMaxMissingKeyIds) missing_ids_.clear();
  missing_ids_.emplace(key_id);
  return refused("nor in data_keys");
}

absl::Status FieldEncryption::Reload(Database& db) {
  return db.WithSession([&](Session& session) -> absl::Status {
    absl::MutexLock lock(&reload_mu_);
    return ReloadLocked(session).status();
  });
}

absl::StatusOr<bool> FieldEncryption::RefreshIfRotated(Database& db) {
  bool reloaded = false;
  absl::Status s = db.WithSession([&](Session& session) -> absl::Status {
    auto rows = Query(session,
                      {"SELECT id FROM data_keys WHERE is_current = 1", {}},
                      "reading the current data key", Reuse::kCached);
    if (!rows.ok()) return rows.status();
    if (rows->size() == 1) {
      const std::string* id = TextOf(rows->at(0), 0);
      if (id != nullptr && *id == keyring().current_key_id()) {
        return absl::OkStatus();
      }
    }
    absl::MutexLock lock(&reload_mu_);
    if (rows->size() == 1) {
      const std::string* id = TextOf(rows->at(0), 0);
      if (id != nullptr && *id == keyring().current_key_id()) {
        return absl::OkStatus();  // reloaded meanwhile
      }
    }
    reloaded = true;
    return ReloadLocked(session).status();
  });
  if (!s.ok()) return s;
  return reloaded;
}

int64_t FieldEncryption::reloads() const {
  absl::MutexLock lock(&reload_mu_);
  return reloads_;
}

absl::StatusOr<std::string> FieldEncryption::BlindIndex(
    const model::ObjectSchema& schema, const model::FieldSchema& field,
    absl::string_view normalized) const {
  if (normalized.empty()) return std::string();
  const std::string name = absl::StrCat(schema.collection(), ".", field.name);
  absl::MutexLock lock(&index_keys_mu_);
  auto it = index_keys_.find(name);
  if (it == index_keys_.end()) {
    absl::StatusOr<crypto::KeyBytes> key =
        crypto::DeriveBlindIndexKey(master_, name);
    if (!key.ok()) return key.status();
    it = index_keys_.emplace(name, *std::move(key)).first;
  }
  return crypto::BlindIndex(it->second, normalized);
}

bool HasSensitiveFields(const model::SchemaRegistry& registry) {
  for (const model::ObjectSchema* schema : registry.All()) {
    for (const model::FieldSchema& field : schema->fields()) {
      if (field.sensitive) return true;
    }
  }
  return false;
}

absl::StatusOr<crypto::Keyring> LoadOrCreateKeyring(
    Database& db, const crypto::MasterKey& master) {
  std::vector<crypto::WrappedDataKey> keys;
  std::string current;
  absl::Status s = db.InTransaction([&](Session& session) -> absl::Status {
    keys.clear();
    current.clear();
    if (DialectOf(session) == Dialect::kPostgres) {
      auto locked = Execute(
          session,
          {absl::StrCat("SELECT pg_advisory_xact_lock(", kDataKeyLockKey, ")"),
           {}},
          "locking data_keys");
      if (!locked.ok()) return locked.status();
    }
    if (absl::Status read = ReadStoredKeys(session, master, &keys, &current);
        !read.ok() || !keys.empty()) {
      return read;
    }
    // The first start with encryption: one new data key, current.
    absl::StatusOr<crypto::DataKey> key = crypto::DataKey::Generate();
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> wrapped = crypto::WrapDataKey(master, *key);
    if (!wrapped.ok()) return wrapped.status();
    auto n = Execute(session,
                     {"INSERT INTO data_keys (id, wrapped, master_key_id, "
                      "created_at, is_current) VALUES (?, ?, ?, ?, 1)",
                      {key->id, *wrapped, master.id(), NowMicros()}},
                     "storing the first data key");
    if (!n.ok()) return n.status();
    keys.push_back({key->id, *wrapped});
    current = key->id;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return crypto::Keyring::Unwrap(master, keys, current);
}

absl::StatusOr<crypto::Keyring> LoadKeyring(Session& session,
                                            const crypto::MasterKey& master) {
  std::vector<crypto::WrappedDataKey> keys;
  std::string current;
  if (absl::Status s = ReadStoredKeys(session, master, &keys, &current);
      !s.ok()) {
    return s;
  }
  if (keys.empty()) {
    return absl::FailedPreconditionError(
        "data_keys is empty: no data key to load (the server makes the "
        "first one at start-up)");
  }
  return crypto::Keyring::Unwrap(master, keys, current);
}

}  // namespace crm::store
