#include "store/record_store.h"

#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crypto/keyring.h"
#include "store/soci_util.h"
#include "store/statement.h"

namespace crm::store {
namespace {

using model::FieldKind;
using model::FieldSchema;
using model::ObjectSchema;
using model::Record;
using model::SqlFragment;
using model::SqlValue;

bool IsText(FieldKind kind) {
  return kind == FieldKind::kString || kind == FieldKind::kEnum;
}
bool IsInteger(FieldKind kind) {
  return kind == FieldKind::kInt64 || kind == FieldKind::kBool ||
         kind == FieldKind::kTimestamp;
}

// A value to write into `field`'s column, or INVALID_ARGUMENT.
absl::StatusOr<SqlValue> ValueToWrite(const ObjectSchema& schema,
                                      const FieldSchema& field,
                                      const SqlValue& value) {
  if (IsText(field.kind) && std::holds_alternative<std::string>(value)) {
    return value;
  }
  if (IsInteger(field.kind) && std::holds_alternative<int64_t>(value)) {
    return value;
  }
  if (field.kind == FieldKind::kDouble) {
    if (std::holds_alternative<double>(value)) return value;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      return static_cast<double>(*i);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "record store: value ", model::DebugString(value).substr(0, 40),
      " does not fit ", schema.collection(), ".", field.name));
}

// A value read from `field`'s column, normalised to the mapped type (SQLite
// may hand back a column in another storage class).
SqlValue ValueRead(const FieldSchema& field, SqlValue value) {
  if (IsText(field.kind)) {
    if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
    if (const auto* d = std::get_if<double>(&value)) return absl::StrCat(*d);
    if (std::holds_alternative<std::monostate>(value)) return std::string();
    return value;
  }
  if (field.kind == FieldKind::kDouble) {
    if (const auto* i = std::get_if<int64_t>(&value)) {
      return static_cast<double>(*i);
    }
    if (const auto* s = std::get_if<std::string>(&value)) {
      double d = 0;
      return absl::SimpleAtod(*s, &d) ? d : 0.0;
    }
    if (std::holds_alternative<std::monostate>(value)) return 0.0;
    return value;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    return static_cast<int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&value)) {
    int64_t i = 0;
    return absl::SimpleAtoi(*s, &i) ? i : int64_t{0};
  }
  if (std::holds_alternative<std::monostate>(value)) return int64_t{0};
  return value;
}

std::string Table(const ObjectSchema& schema) {
  return model::QuoteIdentifier(schema.collection());
}

std::string SelectColumns(const ObjectSchema& schema) {
  std::string out = "\"id\", \"version\"";
  for (const FieldSchema& field : schema.fields()) {
    absl::StrAppend(&out, ", ", model::QuoteIdentifier(field.name));
  }
  return out;
}

absl::StatusOr<Record> RecordFromRow(const ObjectSchema& schema, Row row) {
  const size_t n = schema.fields().size();
  const auto* id = row.size() == n + 2 ? std::get_if<std::string>(&row[0])
                                       : nullptr;
  const auto* version = row.size() == n + 2 ? std::get_if<int64_t>(&row[1])
                                            : nullptr;
  if (id == nullptr || version == nullptr) {
    return absl::InternalError(absl::StrCat(
        "record store: unexpected row shape reading ", schema.collection(),
        "; is the database schema up to date?"));
  }
  Record record;
  record.id = *id;
  record.version = *version;
  record.values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    record.values.push_back(
        ValueRead(schema.fields()[i], std::move(row[i + 2])));
  }
  return record;
}

bool IsOrderColumn(const ObjectSchema& schema, const std::string& column) {
  return column == "id" || column == "version" ||
         schema.FieldIndex(column) >= 0;
}

// "<each of records[begin, end) at its version>" for a WHERE clause:
//   "id" IN (?, ...) AND ("id" || ':' || version) IN (?, ...)
// The key is unambiguous (the version is the digits after the last ':').
// Not one "(id = ? AND version = ?) OR ..." term per record: SQLite takes
// ~10 ms to prepare 500 such terms; the IN lists prepare in ~1 ms and
// execute through the primary key on both backends.
void AppendVersionMatch(const std::vector<RecordVersion>& records,
                        size_t begin, size_t end, SqlFragment* stmt) {
  std::vector<SqlValue> keys;
  keys.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) {
    stmt->params.push_back(records[i].id);
    keys.push_back(absl::StrCat(records[i].id, ":", records[i].version));
  }
  absl::StrAppend(&stmt->sql, "\"id\" IN (", Placeholders(end - begin),
                  ") AND (\"id\" || ':' || CAST(\"version\" AS TEXT)) IN (",
                  Placeholders(end - begin), ")");
  for (SqlValue& k : keys) stmt->params.push_back(std::move(k));
}

// Runs `fn(session)` on a leased autocommit session and returns its result.
template <typename T, typename Fn>
absl::StatusOr<T> Standalone(Database* db, Fn fn) {
  absl::StatusOr<T> result = absl::InternalError("not run");
  absl::Status s = db->WithSession([&](Session& session) {
    result = fn(session);
    return result.status();
  });
  if (!s.ok()) return s;
  return result;
}

}  // namespace

struct RecordStore::SchemaSql {
  explicit SchemaSql(const ObjectSchema& schema)
      : get(absl::StrCat("SELECT ", SelectColumns(schema), " FROM ",
                         Table(schema), " WHERE \"id\" = ?")),
        exists(absl::StrCat("SELECT COUNT(*) FROM ", Table(schema),
                            " WHERE \"id\" = ?")),
        remove(absl::StrCat("DELETE FROM ", Table(schema),
                            " WHERE \"id\" = ? AND \"version\" = ?")),
        reading(absl::StrCat("reading ", schema.collection())),
        checking(absl::StrCat("checking a reference to ",
                              schema.collection())),
        creating(absl::StrCat("creating ", schema.singular())),
        deleting(absl::StrCat("deleting ", schema.singular())) {
    std::string placeholders = "?, ?";
    for (size_t i = 0; i < schema.fields().size(); ++i) placeholders += ", ?";
    std::string index_columns;
    for (size_t i = 0; i < schema.fields().size(); ++i) {
      const FieldSchema& field = schema.fields()[i];
      if (field.sensitive) sensitive.push_back(static_cast<int>(i));
      if (field.sensitive && field.blind_index) {
        blind.push_back(static_cast<int>(i));
        absl::StrAppend(&index_columns, ", ",
                        model::QuoteIdentifier(model::BlindIndexColumn(field)));
        placeholders += ", ?";
      }
    }
    // The blind index columns follow the fields.
    insert = absl::StrCat("INSERT INTO ", Table(schema), " (",
                          SelectColumns(schema), index_columns, ") VALUES (",
                          placeholders, ")");
  }

  const std::string get;
  const std::string exists;
  const std::string remove;
  std::string insert;
  // Indexes of the sensitive fields, encrypted at rest, and of those with a
  // blind index column.
  std::vector<int> sensitive;
  std::vector<int> blind;
  // Operation names for status messages.
  const std::string reading;
  const std::string checking;
  const std::string creating;
  const std::string deleting;
};

RecordStore::RecordStore(Database* db) : db_(db) {}
RecordStore::~RecordStore() = default;

void RecordStore::SetEncryption(std::shared_ptr<FieldEncryption> encryption) {
  if (encryption_owner_ != nullptr || encryption == nullptr) return;
  encryption_owner_ = std::move(encryption);
  encryption_.store(encryption_owner_.get(), std::memory_order_release);
}

absl::StatusOr<SqlValue> RecordStore::EncryptValue(const ObjectSchema& schema,
                                                   const FieldSchema& field,
                                                   const std::string& id,
                                                   SqlValue value) const {
  const auto* text = std::get_if<std::string>(&value);
  if (text == nullptr || text->empty()) return value;
  const FieldEncryption* enc = encryption();
  if (enc == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "record store: ", schema.collection(), ".", field.name,
        " is encrypted at rest and no master key is configured "
        "(encryption.master_key_file)"));
  }
  absl::StatusOr<std::string> sealed = enc->keyring().Encrypt(
      *text, crypto::FieldAad(schema.collection(), field.name, id));
  if (!sealed.ok()) {
    return InternalErrorWithId(
        absl::StrCat("encrypting ", schema.collection(), ".", field.name),
        sealed.status().ToString());
  }
  return SqlValue(*std::move(sealed));
}

absl::StatusOr<SqlValue> RecordStore::BlindIndexValue(
    const ObjectSchema& schema, const FieldSchema& field,
    const SqlValue& plaintext) const {
  const auto* text = std::get_if<std::string>(&plaintext);
  const std::string normalized =
      model::BlindIndexInput(text == nullptr ? "" : *text);
  if (normalized.empty()) return SqlValue(std::string());
  const FieldEncryption* enc = encryption();
  if (enc == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "record store: ", schema.collection(), ".", field.name,
        " is encrypted at rest and no master key is configured "
        "(encryption.master_key_file)"));
  }
  absl::StatusOr<std::string> index =
      enc->BlindIndex(schema, field, normalized);
  if (!index.ok()) {
    return InternalErrorWithId(
        absl::StrCat("indexing ", schema.collection(), ".", field.name),
        index.status().ToString());
  }
  return SqlValue(*std::move(index));
}

absl::Status RecordStore::DecryptFields(Session& session,
                                        const ObjectSchema& schema,
                                        const SchemaSql& sql,
                                        Record& record) const {
  if (sql.sensitive.empty()) return absl::OkStatus();
  FieldEncryption* enc = encryption();
  std::optional<crypto::Keyring> keyring;
  for (int i : sql.sensitive) {
    auto* text = std::get_if<std::string>(&record.values[i]);
    // Empty: not set. No "enc:" prefix: plaintext from before encryption
    // (field_encryption.h), re-encrypted by the next rotation.
    if (text == nullptr || text->empty() || !absl::StartsWith(*text, "enc:")) {
      continue;
    }
    const FieldSchema& field = schema.fields()[i];
    if (enc == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "record store: ", schema.collection(), ".", field.name,
          " is encrypted at rest and no master key is configured "
          "(encryption.master_key_file)"));
    }
    if (!keyring.has_value()) keyring = enc->keyring();
    // A key this server does not hold yet: another server rotated
    // (field_encryption.h reloads the keyring, rate-limited).
    if (std::optional<absl::string_view> key_id = crypto::EncryptedKeyId(*text);
        key_id.has_value() && !keyring->HasKey(*key_id)) {
      absl::StatusOr<crypto::Keyring> reloaded =
          enc->KeyringWithKey(session, *key_id);
      if (!reloaded.ok()) {
        return InternalErrorWithId(
            absl::StrCat("reading ", schema.collection()),
            absl::StrCat(schema.collection(), ".", field.name, " of record ",
                         record.id, " does not decrypt: ",
                         reloaded.status().ToString()));
      }
      keyring = *std::move(reloaded);
    }
    absl::StatusOr<std::string> plain = keyring->Decrypt(
        *text, crypto::FieldAad(schema.collection(), field.name, record.id));
    if (!plain.ok()) {
      // The crypto error names at most the key id and "collection.field".
      return InternalErrorWithId(
          absl::StrCat("reading ", schema.collection()),
          absl::StrCat(schema.collection(), ".", field.name, " of record ",
                       record.id, " does not decrypt: ",
                       plain.status().ToString()));
    }
    *text = *std::move(plain);
  }
  return absl::OkStatus();
}

const RecordStore::SchemaSql& RecordStore::SqlFor(const ObjectSchema& schema) {
  {
    std::shared_lock<std::shared_mutex> read(mu_);
    auto it = sql_.find(&schema);
    if (it != sql_.end()) return *it->second;
  }
  std::unique_lock<std::shared_mutex> write(mu_);
  std::unique_ptr<SchemaSql>& sql = sql_[&schema];
  if (sql == nullptr) sql = std::make_unique<SchemaSql>(schema);
  return *sql;
}

absl::StatusOr<std::optional<Record>> RecordStore::Get(
    Session& session, const ObjectSchema& schema, const std::string& id) {
  const SchemaSql& sql = SqlFor(schema);
  absl::StatusOr<std::vector<Row>> rows =
      Query(session, {sql.get, {id}}, sql.reading, Reuse::kCached);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<Record>();
  absl::StatusOr<Record> record = RecordFromRow(schema, std::move(rows->at(0)));
  if (!record.ok()) return record.status();
  if (absl::Status s = DecryptFields(session, schema, sql, *record); !s.ok()) {
    return s;
  }
  return std::optional<Record>(*std::move(record));
}

absl::StatusOr<std::vector<Record>> RecordStore::GetAll(
    Session& session, const ObjectSchema& schema,
    const std::vector<std::string>& ids) {
  const SchemaSql& sql = SqlFor(schema);
  std::unordered_map<std::string, Record> found;
  found.reserve(ids.size());
  absl::Status s = ForEachChunk(
      ids.size(), 1, 0, [&](size_t begin, size_t end) -> absl::Status {
        SqlFragment q;
        q.sql = absl::StrCat("SELECT ", SelectColumns(schema), " FROM ",
                             Table(schema), " WHERE \"id\" IN (",
                             Placeholders(end - begin), ")");
        q.params.assign(ids.begin() + begin, ids.begin() + end);
        absl::StatusOr<std::vector<Row>> rows = Query(session, q, sql.reading);
        if (!rows.ok()) return rows.status();
        for (Row& row : *rows) {
          absl::StatusOr<Record> record = RecordFromRow(schema, std::move(row));
          if (!record.ok()) return record.status();
          if (absl::Status d = DecryptFields(session, schema, sql, *record);
              !d.ok()) {
            return d;
          }
          std::string id = record->id;
          found.emplace(std::move(id), *std::move(record));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  std::vector<Record> out;
  out.reserve(found.size());
  for (const std::string& id : ids) {
    auto it = found.find(id);
    if (it == found.end()) continue;
    out.push_back(std::move(it->second));
    found.erase(it);  // an id named twice is returned once
  }
  return out;
}

absl::StatusOr<bool> RecordStore::Exists(Session& session,
                                         const ObjectSchema& schema,
                                         const std::string& id) {
  const SchemaSql& sql = SqlFor(schema);
  absl::StatusOr<int64_t> n =
      QueryInt(session, {sql.exists, {id}}, sql.checking, Reuse::kCached);
  if (!n.ok()) return n.status();
  return *n > 0;
}

absl::Status RecordStore::Insert(Session& session, const ObjectSchema& schema,
                                 const Record& record) {
  if (record.version != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: a new ", schema.singular(), " must have version 1, got ",
        record.version));
  }
  if (record.id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: a new ", schema.singular(), " needs an id"));
  }
  const auto& fields = schema.fields();
  if (record.values.size() != fields.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: ", schema.singular(), " record has ",
        record.values.size(), " values, the schema has ", fields.size(),
        " fields"));
  }
  const SchemaSql& sql = SqlFor(schema);
  SqlFragment stmt;
  stmt.sql = sql.insert;
  stmt.params.reserve(fields.size() + 2);
  stmt.params.push_back(record.id);
  stmt.params.push_back(record.version);
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StatusOr<SqlValue> v =
        ValueToWrite(schema, fields[i], record.values[i]);
    if (!v.ok()) return v.status();
    if (fields[i].sensitive) {
      v = EncryptValue(schema, fields[i], record.id, *std::move(v));
      if (!v.ok()) return v.status();
    }
    stmt.params.push_back(*std::move(v));
  }
  for (int i : sql.blind) {
    absl::StatusOr<SqlValue> index =
        BlindIndexValue(schema, fields[i], record.values[i]);
    if (!index.ok()) return index.status();
    stmt.params.push_back(*std::move(index));
  }
  absl::StatusOr<int64_t> n =
      Execute(session, stmt, sql.creating, Reuse::kCached);
  if (absl::IsAlreadyExists(n.status())) {
    return absl::AlreadyExistsError(
        absl::StrCat(schema.ResourceName(record.id), " already exists"));
  }
  return n.status();
}

absl::StatusOr<SqlFragment> RecordStore::UpdatePrefix(
    const ObjectSchema& schema, const std::string& id,
    const std::vector<int>& field_indexes, const Record& new_values) const {
  const auto& fields = schema.fields();
  SqlFragment stmt;
  stmt.sql = absl::StrCat("UPDATE ", Table(schema), " SET ");
  std::set<int> seen;
  for (int index : field_indexes) {
    if (index < 0 || static_cast<size_t>(index) >= fields.size() ||
        static_cast<size_t>(index) >= new_values.values.size() ||
        !seen.insert(index).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record store: bad or repeated field index ", index, " updating a ",
          schema.singular()));
    }
    absl::StatusOr<SqlValue> v =
        ValueToWrite(schema, fields[index], new_values.values[index]);
    if (!v.ok()) return v.status();
    if (fields[index].sensitive && fields[index].blind_index) {
      absl::StatusOr<SqlValue> blind =
          BlindIndexValue(schema, fields[index], *v);
      if (!blind.ok()) return blind.status();
      absl::StrAppend(
          &stmt.sql,
          model::QuoteIdentifier(model::BlindIndexColumn(fields[index])),
          " = ?, ");
      stmt.params.push_back(*std::move(blind));
    }
    if (fields[index].sensitive) {
      v = EncryptValue(schema, fields[index], id, *std::move(v));
      if (!v.ok()) return v.status();
    }
    absl::StrAppend(&stmt.sql, model::QuoteIdentifier(fields[index].name),
                    " = ?, ");
    stmt.params.push_back(*std::move(v));
  }
  stmt.sql += "\"version\" = \"version\" + 1 WHERE ";
  return stmt;
}

absl::StatusOr<bool> RecordStore::UpdateIfVersion(
    Session& session, const ObjectSchema& schema, const std::string& id,
    int64_t expected_version, const std::vector<int>& field_indexes,
    const Record& new_values) {
  absl::StatusOr<SqlFragment> stmt =
      UpdatePrefix(schema, id, field_indexes, new_values);
  if (!stmt.ok()) return stmt.status();
  stmt->Append("\"id\" = ? AND \"version\" = ?", {id, expected_version});
  absl::StatusOr<int64_t> n =
      Execute(session, *stmt, absl::StrCat("updating ", schema.singular()));
  if (!n.ok()) return n.status();
  return *n > 0;
}

absl::StatusOr<int64_t> RecordStore::UpdateAllIfVersion(
    Session& session, const ObjectSchema& schema,
    const std::vector<RecordVersion>& records,
    const std::vector<int>& field_indexes, const Record& new_values) {
  if (records.empty()) return 0;
  bool per_record = false;
  for (int index : field_indexes) {
    if (index >= 0 && static_cast<size_t>(index) < schema.fields().size() &&
        static_cast<size_t>(index) < new_values.values.size() &&
        schema.fields()[index].sensitive) {
      const auto* text = std::get_if<std::string>(&new_values.values[index]);
      // Encrypted under an associated datum naming the record.
      if (text != nullptr && !text->empty()) per_record = true;
    }
  }
  int64_t updated = 0;
  if (per_record) {
    for (const RecordVersion& r : records) {
      absl::StatusOr<bool> one = UpdateIfVersion(
          session, schema, r.id, r.version, field_indexes, new_values);
      if (!one.ok()) return one.status();
      updated += *one ? 1 : 0;
    }
    return updated;
  }
  // The values do not depend on the record: one SET for every chunk.
  absl::StatusOr<SqlFragment> prefix =
      UpdatePrefix(schema, records[0].id, field_indexes, new_values);
  if (!prefix.ok()) return prefix.status();
  const std::string operation = absl::StrCat("updating ", schema.collection());
  absl::Status s = ForEachChunk(
      records.size(), 2, prefix->params.size(),
      [&](size_t begin, size_t end) -> absl::Status {
        SqlFragment stmt = *prefix;
        AppendVersionMatch(records, begin, end, &stmt);
        absl::StatusOr<int64_t> n = Execute(session, stmt, operation);
        if (!n.ok()) return n.status();
        updated += *n;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return updated;
}

absl::StatusOr<bool> RecordStore::DeleteIfVersion(Session& session,
                                                  const ObjectSchema& schema,
                                                  const std::string& id,
                                                  int64_t expected_version) {
  const SchemaSql& sql = SqlFor(schema);
  absl::StatusOr<int64_t> n =
      Execute(session, {sql.remove, {id, expected_version}}, sql.deleting,
              Reuse::kCached);
  if (!n.ok()) return n.status();
  return *n > 0;
}

absl::StatusOr<int64_t> RecordStore::DeleteAllIfVersion(
    Session& session, const ObjectSchema& schema,
    const std::vector<RecordVersion>& records) {
  const SchemaSql& sql = SqlFor(schema);
  int64_t deleted = 0;
  absl::Status s = ForEachChunk(
      records.size(), 2, 0, [&](size_t begin, size_t end) -> absl::Status {
        SqlFragment stmt;
        stmt.sql = absl::StrCat("DELETE FROM ", Table(schema), " WHERE ");
        AppendVersionMatch(records, begin, end, &stmt);
        absl::StatusOr<int64_t> n = Execute(session, stmt, sql.deleting);
        if (!n.ok()) return n.status();
        deleted += *n;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return deleted;
}

absl::StatusOr<std::vector<Record>> RecordStore::List(
    Session& session, const ObjectSchema& schema, const ListQuery& query) {
  if (query.limit <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: list limit must be positive, got ", query.limit));
  }
  if (query.fetch.has_value() && query.fetch->max_rows <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record store: fetch-then-sort needs max_rows > 0, got ",
        query.fetch->max_rows));
  }
  std::vector<std::string> terms;
  bool last_is_id = false;
  bool descending = false;
  for (const model::OrderTerm& term : query.order) {
    if (!IsOrderColumn(schema, term.column)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "record store: cannot order ", schema.collection(), " by '",
          term.column, "'"));
    }
    terms.push_back(absl::StrCat(model::QuoteIdentifier(term.column),
                                 term.descending ? " DESC" : " ASC"));
    last_is_id = term.column == "id";
    descending = term.descending;
  }
  if (!last_is_id) {
    terms.push_back(absl::StrCat("\"id\"", descending ? " DESC" : " ASC"));
  }
  const std::string order_limit =
      absl::StrCat(" ORDER BY ", absl::StrJoin(terms, ", "), " LIMIT ?");
  const std::string columns = SelectColumns(schema);
  const std::string operation = absl::StrCat("listing ", schema.collection());
  const SchemaSql& sql = SqlFor(schema);
  auto where = [](SqlFragment& q, const SqlFragment& w) {
    if (w.empty()) return;
    q.Append(" WHERE (");
    q.Append(w);
    q.Append(")");
  };
  auto to_records = [&](std::vector<Row>& rows)
      -> absl::StatusOr<std::vector<Record>> {
    std::vector<Record> records;
    records.reserve(rows.size());
    for (Row& row : rows) {
      absl::StatusOr<Record> record = RecordFromRow(schema, std::move(row));
      if (!record.ok()) return record.status();
      if (absl::Status s = DecryptFields(session, schema, sql, *record);
          !s.ok()) {
        return s;
      }
      records.push_back(*std::move(record));
    }
    return records;
  };

  if (query.fetch.has_value()) {
    // MATERIALIZED (PostgreSQL 12+, SQLite 3.35+): the CTE is planned on its
    // own, so its WHERE cannot be served by walking the ORDER BY's index;
    // the outer query sorts what it holds (same columns, names and
    // collations). The last column counts the CTE's rows: when it is full,
    // rows it does not hold may come first, and the ordinary form answers.
    SqlFragment q;
    q.Append(absl::StrCat("WITH \"matching\" AS MATERIALIZED (SELECT ",
                          columns, " FROM ", Table(schema)));
    where(q, query.fetch->where);
    q.Append(" LIMIT ?)", {int64_t{query.fetch->max_rows}});
    q.Append(absl::StrCat(" SELECT ", columns,
                          ", (SELECT COUNT(*) FROM \"matching\") FROM "
                          "\"matching\"",
                          order_limit),
             {int64_t{query.limit}});
    absl::StatusOr<std::vector<Row>> rows = Query(session, q, operation);
    if (!rows.ok()) return rows.status();
    bool full = false;
    for (Row& row : *rows) {
      // An integer on PostgreSQL; SQLite gives an expression column with no
      // declared type to SOCI as text.
      int64_t held = -1;
      if (!row.empty()) {
        if (const auto* i = std::get_if<int64_t>(&row.back())) {
          held = *i;
        } else if (const auto* t = std::get_if<std::string>(&row.back())) {
          if (!absl::SimpleAtoi(*t, &held)) held = -1;
        }
      }
      if (held < 0) {
        return absl::InternalError(absl::StrCat(
            "record store: ", operation, ": the row count is missing"));
      }
      full = held >= query.fetch->max_rows;
      row.pop_back();
    }
    if (!full) return to_records(*rows);
  }

  SqlFragment q;
  q.Append(absl::StrCat("SELECT ", columns, " FROM ", Table(schema)));
  where(q, query.where);
  q.Append(order_limit, {int64_t{query.limit}});
  absl::StatusOr<std::vector<Row>> rows = Query(session, q, operation);
  if (!rows.ok()) return rows.status();
  return to_records(*rows);
}

absl::StatusOr<TableEstimate> RecordStore::Estimate(
    Session& session, const ObjectSchema& schema) {
  if (DialectOf(session) != Dialect::kPostgres ||
      schema.FieldIndex("owner") < 0) {
    return TableEstimate{};
  }
  absl::Time now = absl::Now();
  {
    std::lock_guard<std::mutex> lock(estimates_mu_);
    auto it = estimates_.find(&schema);
    if (it != estimates_.end() && now - it->second.read_at < kEstimateMaxAge) {
      return it->second.estimate;
    }
  }
  // reltuples is -1 until the first VACUUM or ANALYZE (PostgreSQL 14+);
  // a negative n_distinct is a fraction of the rows.
  SqlFragment q;
  q.Append(
      "SELECT CAST(c.reltuples AS BIGINT), CAST(COALESCE((SELECT CASE WHEN "
      "s.n_distinct < 0 THEN -s.n_distinct * c.reltuples ELSE s.n_distinct "
      "END FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname "
      "WHERE n.oid = c.relnamespace AND s.tablename = c.relname AND "
      "s.attname = 'owner'), -1) AS BIGINT) FROM pg_class c WHERE c.oid = "
      "to_regclass(?)",
      {Table(schema)});
  absl::StatusOr<std::vector<Row>> rows =
      Query(session, q, absl::StrCat("estimating ", schema.collection()),
            Reuse::kCached);
  if (!rows.ok()) return rows.status();
  TableEstimate estimate;
  if (rows->size() == 1 && (*rows)[0].size() == 2) {
    const Row& row = (*rows)[0];
    if (const int64_t* n = std::get_if<int64_t>(&row[0])) {
      estimate.rows = static_cast<double>(*n);
    }
    if (const int64_t* n = std::get_if<int64_t>(&row[1])) {
      estimate.distinct_owners = static_cast<double>(*n);
    }
  }
  std::lock_guard<std::mutex> lock(estimates_mu_);
  estimates_[&schema] = CachedEstimate{estimate, now};
  return estimate;
}

absl::StatusOr<int64_t> RecordStore::Count(Session& session,
                                           const ObjectSchema& schema,
                                           const SqlFragment& where) {
  SqlFragment q;
  q.Append(absl::StrCat("SELECT COUNT(*) FROM ", Table(schema)));
  if (!where.empty()) {
    q.Append(" WHERE (");
    q.Append(where);
    q.Append(")");
  }
  return QueryInt(session, q, absl::StrCat("counting ", schema.collection()));
}

absl::StatusOr<std::vector<int64_t>> RecordStore::CountSubsets(
    Session& session, const ObjectSchema& schema, const SqlFragment& where,
    const std::vector<SqlFragment>& subsets) {
  SqlFragment q;
  q.Append("SELECT COUNT(*)");
  for (const SqlFragment& subset : subsets) {
    q.Append(", COUNT(CASE WHEN (");
    if (subset.empty()) {
      q.Append("1 = 1");
    } else {
      q.Append(subset);
    }
    q.Append(") THEN 1 END)");
  }
  q.Append(absl::StrCat(" FROM ", Table(schema)));
  if (!where.empty()) {
    q.Append(" WHERE (");
    q.Append(where);
    q.Append(")");
  }
  auto rows = Query(session, q, absl::StrCat("counting ", schema.collection()));
  if (!rows.ok()) return rows.status();
  std::vector<int64_t> out;
  if (rows->size() != 1 || (*rows)[0].size() != subsets.size() + 1) {
    return absl::InternalError(
        absl::StrCat("counting ", schema.collection(), ": unexpected result"));
  }
  for (const model::SqlValue& v : (*rows)[0]) {
    std::optional<int64_t> n = IntOf(v);
    if (!n.has_value()) {
      return absl::InternalError(absl::StrCat(
          "counting ", schema.collection(), ": a count is not a number"));
    }
    out.push_back(*n);
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<int64_t>>>
RecordStore::CountSubsetsInSnapshot(Session& session,
                                    const ObjectSchema& schema,
                                    const std::vector<SubsetCount>& counts) {
  const std::string what = absl::StrCat("counting ", schema.collection());
  const char* begin = DialectOf(session) == Dialect::kPostgres
                          ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                          : "BEGIN";
  auto begun = Execute(session, {begin, {}}, what);
  if (!begun.ok()) return begun.status();
  if (DialectOf(session) == Dialect::kPostgres) {
    // These are one-off scans of whole tables whose plans PostgreSQL's JIT
    // compiles at a cost far above what it saves: 0.7-1.5 s of compilation
    // for a count over an empty table, 33-38 s instead of 12-15 s for a
    // policy plan on 1,000,000 accounts (bench/README.md, "Policy as code").
    // For this transaction only.
    auto jit = Execute(session, {"SET LOCAL jit = off", {}}, what);
    if (!jit.ok()) {
      (void)Execute(session, {"ROLLBACK", {}}, what);
      return jit.status();
    }
  }
  std::vector<std::vector<int64_t>> out;
  absl::Status s;
  for (const SubsetCount& c : counts) {
    auto n = CountSubsets(session, schema, c.where, c.subsets);
    if (!n.ok()) {
      s = n.status();
      break;
    }
    out.push_back(*std::move(n));
  }
  if (s.ok()) {
    auto done = Execute(session, {"COMMIT", {}}, what);
    if (done.ok()) return out;
    s = done.status();
  }
  // Best effort: a lost connection has no transaction left to roll back.
  (void)Execute(session, {"ROLLBACK", {}}, what);
  return s;
}

SqlFragment RecordStore::SharedTo(const ObjectSchema& schema,
                                  const std::vector<std::string>& grantees) {
  SqlFragment f;
  if (grantees.empty()) {
    f.Append("1 = 0");
    return f;
  }
  f.Append(
      "\"id\" IN (SELECT \"record_id\" FROM \"record_shares\" WHERE "
      "\"object\" = ? AND \"grantee\" IN (",
      {schema.collection()});
  for (size_t i = 0; i < grantees.size(); ++i) {
    f.Append(i == 0 ? "?" : ", ?", {grantees[i]});
  }
  f.Append("))");
  return f;
}

absl::StatusOr<CreateRequestClaim> RecordStore::ClaimCreateRequest(
    Session& session, const CreateRequestKey& key,
    const CreateRequestRow& row) {
  // One statement for "insert, or take over an expired row": it changes one
  // row when the key is (now) ours, none when a live create owns it. On
  // PostgreSQL a concurrent uncommitted claim of the key makes it wait for
  // that transaction and then decide on its outcome.
  static constexpr char kClaim[] =
      "INSERT INTO create_requests (service, user_id, object, request_id, "
      "request_hash, record_id, create_time) VALUES (?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (service, user_id, object, request_id) DO UPDATE SET "
      "request_hash = excluded.request_hash, record_id = excluded.record_id, "
      "create_time = excluded.create_time "
      "WHERE create_requests.create_time < ?";
  static constexpr char kFind[] =
      "SELECT request_hash, record_id, create_time FROM create_requests "
      "WHERE service = ? AND user_id = ? AND object = ? AND request_id = ?";
  const int64_t expired_before =
      row.create_time - absl::ToInt64Microseconds(kCreateRequestRetention);
  absl::StatusOr<int64_t> n = Execute(
      session,
      {kClaim,
       {key.service, key.user_id, key.object, key.request_id, row.request_hash,
        row.record_id, row.create_time, expired_before}},
      "recording a create's request_id", Reuse::kCached);
  if (!n.ok()) return n.status();
  CreateRequestClaim claim;
  if (*n > 0) {
    claim.claimed = true;
    return claim;
  }
  // A new statement: at READ COMMITTED it sees the owner that made us wait.
  absl::StatusOr<std::vector<Row>> rows = Query(
      session, {kFind, {key.service, key.user_id, key.object, key.request_id}},
      "reading a create's request_id", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  const std::string* hash = nullptr;
  const std::string* record_id = nullptr;
  const int64_t* time = nullptr;
  if (rows->size() == 1 && rows->at(0).size() == 3) {
    Row& r = rows->at(0);
    hash = std::get_if<std::string>(&r[0]);
    record_id = std::get_if<std::string>(&r[1]);
    time = std::get_if<int64_t>(&r[2]);
  }
  if (hash == nullptr || record_id == nullptr || time == nullptr) {
    // Not claimed yet not there: the schema or the database misbehaves.
    return absl::InternalError(
        "record store: a create's request_id was neither recorded nor "
        "found; is the database schema up to date?");
  }
  claim.existing = CreateRequestRow{*hash, *record_id, *time};
  return claim;
}

absl::StatusOr<int64_t> RecordStore::PruneCreateRequests(Session& session,
                                                         absl::Time now) {
  const int64_t before = absl::ToUnixMicros(now - kCreateRequestRetention);
  return Execute(
      session, {"DELETE FROM create_requests WHERE create_time < ?", {before}},
      "pruning expired request_ids", Reuse::kCached);
}

absl::StatusOr<int64_t> RecordStore::PruneCreateRequests(absl::Time now) {
  return Standalone<int64_t>(
      db_, [&](Session& s) { return PruneCreateRequests(s, now); });
}

absl::StatusOr<int64_t> RecordStore::PruneCreateRequestsIfDue(absl::Time now) {
  const int64_t now_micros = absl::ToUnixMicros(now);
  int64_t last = last_prune_micros_.load(std::memory_order_relaxed);
  if (last != INT64_MIN &&
      now_micros - last <
          absl::ToInt64Microseconds(kCreateRequestPruneInterval)) {
    return 0;
  }
  // Only the caller that moves the mark prunes; a failed prune waits for
  // the next interval like a successful one (it is only housekeeping).
  if (!last_prune_micros_.compare_exchange_strong(last, now_micros)) return 0;
  return PruneCreateRequests(now);
}

absl::StatusOr<std::optional<Record>> RecordStore::Get(
    const ObjectSchema& schema, const std::string& id) {
  return Standalone<std::optional<Record>>(
      db_, [&](Session& s) { return Get(s, schema, id); });
}

absl::StatusOr<bool> RecordStore::Exists(const ObjectSchema& schema,
                                         const std::string& id) {
  return Standalone<bool>(db_,
                          [&](Session& s) { return Exists(s, schema, id); });
}

absl::Status RecordStore::Insert(const ObjectSchema& schema,
                                 const Record& record) {
  return db_->WithSession(
      [&](Session& s) { return Insert(s, schema, record); });
}

absl::StatusOr<bool> RecordStore::UpdateIfVersion(
    const ObjectSchema& schema, const std::string& id,
    int64_t expected_version, const std::vector<int>& field_indexes,
    const Record& new_values) {
  return Standalone<bool>(db_, [&](Session& s) {
    return UpdateIfVersion(s, schema, id, expected_version, field_indexes,
                           new_values);
  });
}

absl::StatusOr<bool> RecordStore::DeleteIfVersion(const ObjectSchema& schema,
                                                  const std::string& id,
                                                  int64_t expected_version) {
  return Standalone<bool>(db_, [&](Session& s) {
    return DeleteIfVersion(s, schema, id, expected_version);
  });
}

absl::StatusOr<std::vector<Record>> RecordStore::List(
    const ObjectSchema& schema, const ListQuery& query) {
  return Standalone<std::vector<Record>>(
      db_, [&](Session& s) { return List(s, schema, query); });
}

absl::StatusOr<int64_t> RecordStore::Count(const ObjectSchema& schema,
                                           const SqlFragment& where) {
  return Standalone<int64_t>(
      db_, [&](Session& s) { return Count(s, schema, where); });
}

}  // namespace crm::store
