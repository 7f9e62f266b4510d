#include "store/key_rotation.h"

#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/data_key.h"
#include "crypto/keyring.h"
#include "store/soci_util.h"
#include "store/statement.h"

namespace crm::store {
namespace {

// The lock LoadOrCreateKeyring takes ("crm dkey").
constexpr int64_t kDataKeyLockKey = 0x63726d20646b6579;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<const model::FieldSchema*> SensitiveFields(
    const model::ObjectSchema& schema) {
  std::vector<const model::FieldSchema*> out;
  for (const model::FieldSchema& f : schema.fields()) {
    if (f.sensitive) out.push_back(&f);
  }
  return out;
}

// A predicate true when `column` holds a value not under key `current`:
// not empty and not starting with "enc:v1:<current>:". SUBSTR rather than
// LIKE: '_' in a key id would be a wildcard.
model::SqlFragment Stale(const std::string& column, const std::string& current) {
  const std::string prefix = absl::StrCat("enc:v1:", current, ":");
  model::SqlFragment f;
  const std::string quoted = model::QuoteIdentifier(column);
  f.Append(absl::StrCat("(", quoted, " <> '' AND SUBSTR(", quoted, ", 1, ",
                        prefix.size(), ") <> ?)"),
           {prefix});
  return f;
}

}  // namespace

absl::StatusOr<std::string> AddCurrentDataKey(Database& db,
                                              FieldEncryption& encryption,
                                              const NewKeyHook& in_transaction) {
  absl::StatusOr<crypto::DataKey> key = crypto::DataKey::Generate();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> wrapped =
      crypto::WrapDataKey(encryption.master(), *key);
  if (!wrapped.ok()) return wrapped.status();
  absl::Status s = db.InTransaction([&](Session& session) -> absl::Status {
    if (DialectOf(session) == Dialect::kPostgres) {
      auto locked = Execute(
          session,
          {absl::StrCat("SELECT pg_advisory_xact_lock(", kDataKeyLockKey, ")"),
           {}},
          "locking data_keys");
      if (!locked.ok()) return locked.status();
    }
    std::string previous;
    auto current = Query(session,
                         {"SELECT id FROM data_keys WHERE is_current = 1", {}},
                         "reading the current data key");
    if (!current.ok()) return current.status();
    if (current->size() == 1) {
      if (const auto* id = std::get_if<std::string>(&current->at(0)[0])) {
        previous = *id;
      }
    }
    auto cleared =
        Execute(session,
                {"UPDATE data_keys SET is_current = 0 WHERE is_current = 1", {}},
                "rotating the data key");
    if (!cleared.ok()) return cleared.status();
    auto inserted =
        Execute(session,
                {"INSERT INTO data_keys (id, wrapped, master_key_id, "
                 "created_at, is_current) VALUES (?, ?, ?, ?, 1)",
                 {key->id, *wrapped, encryption.master().id(), NowMicros()}},
                "storing a new data key");
    if (!inserted.ok()) return inserted.status();
    if (in_transaction == nullptr) return absl::OkStatus();
    return in_transaction(session, previous, key->id);
  });
  if (!s.ok()) return s;
  absl::StatusOr<crypto::Keyring> keyring =
      LoadOrCreateKeyring(db, encryption.master());
  if (!keyring.ok()) return keyring.status();
  encryption.SetKeyring(*keyring);
  return keyring->current_key_id();
}

absl::StatusOr<int64_t> ReencryptBatch(Database& db,
                                       FieldEncryption& encryption,
                                       const model::ObjectSchema& schema,
                                       int batch) {
  if (batch <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("re-encryption batch must be positive, got ", batch));
  }
  const std::vector<const model::FieldSchema*> fields =
      SensitiveFields(schema);
  if (fields.empty()) return 0;
  crypto::Keyring keyring = encryption.keyring();
  const std::string table = model::QuoteIdentifier(schema.collection());
  const std::string operation =
      absl::StrCat("re-encrypting ", schema.collection());
  int64_t changed = 0;
  absl::Status s = db.InTransaction([&](Session& session) -> absl::Status {
    changed = 0;
    model::SqlFragment q;
    std::string columns = "\"id\"";
    for (const model::FieldSchema* f : fields) {
      absl::StrAppend(&columns, ", ", model::QuoteIdentifier(f->name));
    }
    q.Append(absl::StrCat("SELECT ", columns, " FROM ", table, " WHERE "));
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) q.Append(" OR ");
      q.Append(Stale(fields[i]->name, keyring.current_key_id()));
    }
    q.Append(" ORDER BY \"id\" LIMIT ?", {int64_t{batch}});
    auto rows = Query(session, q, operation);
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) {
      const auto* id = std::get_if<std::string>(&row[0]);
      if (id == nullptr) return absl::InternalError("re-encrypting: no id");
      model::SqlFragment update;
      update.Append(absl::StrCat("UPDATE ", table, " SET "));
      model::SqlFragment where;
      where.Append(" WHERE \"id\" = ?", {*id});
      bool any = false;
      for (size_t i = 0; i < fields.size(); ++i) {
        const model::FieldSchema& field = *fields[i];
        const auto* value = std::get_if<std::string>(&row[i + 1]);
        if (value == nullptr || value->empty() ||
            !keyring.NeedsReencryption(*value)) {
          continue;
        }
        const std::string aad =
            crypto::FieldAad(schema.collection(), field.name, *id);
        std::string plaintext;
        const bool legacy = !absl::StartsWith(*value, "enc:");
        if (legacy) {
          plaintext = *value;
        } else {
          // Under a key this keyring lacks: another server's rotation.
          if (std::optional<absl::string_view> key_id =
                  crypto::EncryptedKeyId(*value);
              key_id.has_value() && !keyring.HasKey(*key_id)) {
            absl::StatusOr<crypto::Keyring> reloaded =
                encryption.KeyringWithKey(session, *key_id);
            if (!reloaded.ok()) {
              return InternalErrorWithId(
                  operation,
                  absl::StrCat(schema.collection(), ".", field.name,
                               " of record ", *id, " does not decrypt: ",
                               reloaded.status().ToString()));
            }
            keyring = *std::move(reloaded);
          }
          absl::StatusOr<std::string> opened = keyring.Decrypt(*value, aad);
          if (!opened.ok()) {
            return InternalErrorWithId(
                operation,
                absl::StrCat(schema.collection(), ".", field.name,
                             " of record ", *id, " does not decrypt: ",
                             opened.status().ToString()));
          }
          plaintext = *std::move(opened);
        }
        absl::StatusOr<std::string> sealed = keyring.Encrypt(plaintext, aad);
        if (!sealed.ok()) return InternalErrorWithId(operation,
                                                     sealed.status().ToString());
        update.Append(absl::StrCat(any ? ", " : "",
                                   model::QuoteIdentifier(field.name), " = ?"),
                      {*sealed});
        if (legacy && field.blind_index) {
          // A plaintext value from before had no index.
          absl::StatusOr<std::string> index = encryption.BlindIndex(
              schema, field, model::BlindIndexInput(plaintext));
          if (!index.ok()) return index.status();
          update.Append(
              absl::StrCat(", ", model::QuoteIdentifier(
                                     model::BlindIndexColumn(field)),
                           " = ?"),
              {*index});
        }
        // Compare and set: a value written meanwhile is left alone.
        where.Append(absl::StrCat(" AND ", model::QuoteIdentifier(field.name),
                                  " = ?"),
                     {*value});
        any = true;
      }
      if (!any) continue;
      update.Append(where);
      auto n = Execute(session, update, operation);
      if (!n.ok()) return n.status();
      changed += *n;
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return changed;
}

absl::StatusOr<std::map<std::string, int64_t>> CountStaleValues(
    Database& db, const FieldEncryption& encryption,
    const model::SchemaRegistry& registry) {
  const std::string current = encryption.keyring().current_key_id();
  std::map<std::string, int64_t> out;
  absl::Status s = db.WithSession([&](Session& session) -> absl::Status {
    for (const model::ObjectSchema* schema : registry.All()) {
      for (const model::FieldSchema* f : SensitiveFields(*schema)) {
        model::SqlFragment q;
        q.Append(absl::StrCat("SELECT COUNT(*) FROM ",
                              model::QuoteIdentifier(schema->collection()),
                              " WHERE "));
        q.Append(Stale(f->name, current));
        auto n = QueryInt(session, q,
                          absl::StrCat("counting stale ", schema->collection()));
        if (!n.ok()) return n.status();
        out[absl::StrCat(schema->collection(), ".", f->name)] = *n;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<DataKeyInfo>> ListDataKeys(Database& db) {
  std::vector<DataKeyInfo> out;
  absl::Status s = db.WithSession([&](Session& session) -> absl::Status {
    out.clear();
    auto rows = Query(session,
                      {"SELECT id, master_key_id, created_at, is_current FROM "
                       "data_keys ORDER BY created_at, id",
                       {}},
                      "listing data keys");
    if (!rows.ok()) return rows.status();
    for (const Row& row : *rows) {
      const auto* id = std::get_if<std::string>(&row[0]);
      const auto* master = std::get_if<std::string>(&row[1]);
      std::optional<int64_t> created = IntOf(row[2]);
      std::optional<int64_t> current = IntOf(row[3]);
      if (id == nullptr || master == nullptr || !created.has_value() ||
          !current.has_value()) {
        return absl::InternalError(
            "data_keys: unexpected row shape; is the database schema up to "
            "date?");
      }
      out.push_back({*id, *master, *created, *current != 0});
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace crm::store
