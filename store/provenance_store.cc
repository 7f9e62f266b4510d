#include "store/provenance_store.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "store/statement.h"

namespace crm::store {
namespace {

std::string Text(const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return "";
}

int64_t Int(const model::SqlValue& v) { return IntOf(v).value_or(0); }

constexpr char kProvenanceColumns[] =
    "field, source, service, actor, request_id, written_at, version";
constexpr char kHistoryColumns[] =
    "version, field, source, service, actor, request_id, written_at, "
    "operation, value, value_recorded";

// A row of kProvenanceColumns from column `at` on.
ProvenanceRow ProvenanceFromRow(const Row& r, size_t at) {
  ProvenanceRow p;
  p.field = Text(r[at]);
  p.writer = {Text(r[at + 1]), Text(r[at + 2]), Text(r[at + 3]),
              Text(r[at + 4]), Int(r[at + 5])};
  p.version = Int(r[at + 6]);
  return p;
}

// A row of kHistoryColumns from column `at` on.
HistoryRow HistoryFromRow(const Row& r, size_t at) {
  HistoryRow h;
  h.version = Int(r[at]);
  h.field = Text(r[at + 1]);
  h.writer = {Text(r[at + 2]), Text(r[at + 3]), Text(r[at + 4]),
              Text(r[at + 5]), Int(r[at + 6])};
  h.operation = Text(r[at + 7]);
  h.value = Text(r[at + 8]);
  h.value_recorded = Int(r[at + 9]) != 0;
  return h;
}

// The ids [begin, end) of `ids` appended to `params`, and their "?, ?".
std::string AppendIds(const std::vector<std::string>& ids, size_t begin,
                      size_t end, std::vector<model::SqlValue>* params) {
  params->insert(params->end(), ids.begin() + begin, ids.begin() + end);
  return Placeholders(end - begin);
}

}  // namespace

absl::Status ProvenanceStore::Record(Session& session,
                                     absl::string_view collection,
                                     absl::string_view record_id,
                                     int64_t version,
                                     absl::string_view operation,
                                     const FieldWriter& writer,
                                     const std::vector<FieldWrite>& fields) {
  if (fields.empty()) return absl::OkStatus();
  // Two statements per write whatever its number of fields (one row per
  // field each). The texts depend only on that number, at most the
  // object's field count: kept prepared.
  std::string upsert =
      "INSERT INTO field_provenance (collection, record_id, field, source, "
      "service, actor, request_id, written_at, version) VALUES ";
  std::string append =
      "INSERT INTO field_history (collection, record_id, version, field, "
      "source, service, actor, request_id, written_at, operation, value, "
      "value_recorded) VALUES ";
  std::vector<model::SqlValue> upsert_params, append_params;
  upsert_params.reserve(fields.size() * 9);
  append_params.reserve(fields.size() * 12);
  for (size_t i = 0; i < fields.size(); ++i) {
    const FieldWrite& f = fields[i];
    absl::StrAppend(&upsert, i == 0 ? "" : ", ",
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    absl::StrAppend(&append, i == 0 ? "" : ", ",
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (model::SqlValue v :
         {model::SqlValue(std::string(collection)),
          model::SqlValue(std::string(record_id)), model::SqlValue(f.field),
          model::SqlValue(f.source), model::SqlValue(writer.service),
          model::SqlValue(writer.actor), model::SqlValue(writer.request_id),
          model::SqlValue(writer.written_at), model::SqlValue(version)}) {
      upsert_params.push_back(std::move(v));
    }
    for (model::SqlValue v :
         {model::SqlValue(std::string(collection)),
          model::SqlValue(std::string(record_id)), model::SqlValue(version),
          model::SqlValue(f.field), model::SqlValue(f.source),
          model::SqlValue(writer.service), model::SqlValue(writer.actor),
          model::SqlValue(writer.request_id),
          model::SqlValue(writer.written_at),
          model::SqlValue(std::string(operation)),
          model::SqlValue(f.value_recorded ? f.value : std::string()),
          model::SqlValue(int64_t{f.value_recorded ? 1 : 0})}) {
      append_params.push_back(std::move(v));
    }
  }
  upsert +=
      " ON CONFLICT (collection, record_id, field) DO UPDATE SET "
      "source = excluded.source, service = excluded.service, "
      "actor = excluded.actor, request_id = excluded.request_id, "
      "written_at = excluded.written_at, version = excluded.version";
  auto up = Execute(session, {upsert, std::move(upsert_params)},
                    "recording field provenance", Reuse::kCached);
  if (!up.ok()) return up.status();
  auto add = Execute(session, {append, std::move(append_params)},
                     "recording field history", Reuse::kCached);
  if (!add.ok()) return add.status();
  return absl::OkStatus();
}

absl::Status ProvenanceStore::Forget(Session& session,
                                     absl::string_view collection,
                                     absl::string_view record_id) {
  return ForgetAll(session, collection, {std::string(record_id)});
}

absl::Status ProvenanceStore::ForgetAll(
    Session& session, absl::string_view collection,
    const std::vector<std::string>& record_ids) {
  return ForEachChunk(
      record_ids.size(), 1, 1, [&](size_t begin, size_t end) -> absl::Status {
        for (const char* table : {"field_provenance", "field_history"}) {
          std::vector<model::SqlValue> params = {std::string(collection)};
          const std::string in = AppendIds(record_ids, begin, end, &params);
          auto r = Execute(
              session,
              {absl::StrCat("DELETE FROM ", table,
                            " WHERE collection = ? AND record_id IN (", in,
                            ")"),
               std::move(params)},
              "deleting the provenance of records");
          if (!r.ok()) return r.status();
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<std::vector<ProvenanceRow>> ProvenanceStore::Provenance(
    Session& session, absl::string_view collection,
    absl::string_view record_id) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", kProvenanceColumns,
                    " FROM field_provenance WHERE collection = ? AND "
                    "record_id = ? ORDER BY field"),
       {std::string(collection), std::string(record_id)}},
      "reading the provenance of a record");
  if (!rows.ok()) return rows.status();
  std::vector<ProvenanceRow> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back(ProvenanceFromRow(r, 0));
  return out;
}

absl::StatusOr<std::map<std::string, std::vector<ProvenanceRow>>>
ProvenanceStore::ProvenanceOf(Session& session, absl::string_view collection,
                              const std::vector<std::string>& record_ids) {
  std::map<std::string, std::vector<ProvenanceRow>> out;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1, [&](size_t begin, size_t end) -> absl::Status {
        std::vector<model::SqlValue> params = {std::string(collection)};
        const std::string in = AppendIds(record_ids, begin, end, &params);
        auto rows = Query(
            session,
            {absl::StrCat("SELECT record_id, ", kProvenanceColumns,
                          " FROM field_provenance WHERE collection = ? AND "
                          "record_id IN (",
                          in, ") ORDER BY record_id, field"),
             std::move(params)},
            "reading the provenance of records");
        if (!rows.ok()) return rows.status();
        for (const Row& r : *rows) {
          out[Text(r[0])].push_back(ProvenanceFromRow(r, 1));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, std::vector<HistoryRow>>>
ProvenanceStore::HistoryOf(Session& session, absl::string_view collection,
                           const std::vector<std::string>& record_ids,
                           const std::vector<std::string>& fields,
                           int limit_per_record) {
  std::map<std::string, std::vector<HistoryRow>> out;
  if (fields.empty()) return out;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 2 + fields.size(),
      [&](size_t begin, size_t end) -> absl::Status {
        std::vector<model::SqlValue> params = {std::string(collection)};
        const std::string in = AppendIds(record_ids, begin, end, &params);
        params.insert(params.end(), fields.begin(), fields.end());
        params.push_back(int64_t{limit_per_record});
        // The window numbers each record's rows so that the limit is per
        // record (PostgreSQL; SQLite 3.25+).
        auto rows = Query(
            session,
            {absl::StrCat(
                 "SELECT record_id, ", kHistoryColumns, " FROM (SELECT "
                 "record_id, ", kHistoryColumns,
                 ", ROW_NUMBER() OVER (PARTITION BY record_id ORDER BY "
                 "version, field) AS n FROM field_history WHERE collection = "
                 "? AND record_id IN (", in, ") AND field IN (",
                 Placeholders(fields.size()),
                 ")) AS h WHERE n <= ? ORDER BY record_id, version, field"),
             std::move(params)},
            "reading the field history of records");
        if (!rows.ok()) return rows.status();
        for (const Row& r : *rows) {
          out[Text(r[0])].push_back(HistoryFromRow(r, 1));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<HistoryRow>> ProvenanceStore::History(
    Session& session, absl::string_view collection,
    absl::string_view record_id, const std::vector<std::string>& fields,
    int64_t after_version, absl::string_view after_field, int limit) {
  if (fields.empty()) return std::vector<HistoryRow>();
  model::SqlFragment q;
  q.Append(
      absl::StrCat("SELECT ", kHistoryColumns, " FROM field_history "
      "WHERE collection = ? AND record_id = ? "
      "AND (version > ? OR (version = ? AND field > ?))"),
      {std::string(collection), std::string(record_id), after_version,
       after_version, std::string(after_field)});
  q.Append(" AND field IN (");
  for (size_t i = 0; i < fields.size(); ++i) {
    q.Append(i == 0 ? "?" : ", ?", {fields[i]});
  }
  q.Append(")");
  q.Append(" ORDER BY version, field LIMIT ?", {int64_t{limit}});
  auto rows = Query(session, q, "reading the field history of a record");
  if (!rows.ok()) return rows.status();
  std::vector<HistoryRow> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back(HistoryFromRow(r, 0));
  return out;
}

}  // namespace crm::store
