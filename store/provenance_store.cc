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
  for (const char* table : {"field_provenance", "field_history"}) {
    auto r = Execute(session,
                     {absl::StrCat("DELETE FROM ", table,
                                   " WHERE collection = ? AND record_id = ?"),
                      {std::string(collection), std::string(record_id)}},
                     "deleting the provenance of a record");
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ProvenanceRow>> ProvenanceStore::Provenance(
    Session& session, absl::string_view collection,
    absl::string_view record_id) {
  auto rows = Query(
      session,
      {"SELECT field, source, service, actor, request_id, written_at, version "
       "FROM field_provenance WHERE collection = ? AND record_id = ? "
       "ORDER BY field",
       {std::string(collection), std::string(record_id)}},
      "reading the provenance of a record");
  if (!rows.ok()) return rows.status();
  std::vector<ProvenanceRow> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) {
    ProvenanceRow p;
    p.field = Text(r[0]);
    p.writer = {Text(r[1]), Text(r[2]), Text(r[3]), Text(r[4]), Int(r[5])};
    p.version = Int(r[6]);
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<HistoryRow>> ProvenanceStore::History(
    Session& session, absl::string_view collection,
    absl::string_view record_id, const std::vector<std::string>& fields,
    int64_t after_version, absl::string_view after_field, int limit) {
  if (fields.empty()) return std::vector<HistoryRow>();
  model::SqlFragment q;
  q.Append(
      "SELECT version, field, source, service, actor, request_id, "
      "written_at, operation, value, value_recorded FROM field_history "
      "WHERE collection = ? AND record_id = ? "
      "AND (version > ? OR (version = ? AND field > ?))",
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
  for (const Row& r : *rows) {
    HistoryRow h;
    h.version = Int(r[0]);
    h.field = Text(r[1]);
    h.writer = {Text(r[2]), Text(r[3]), Text(r[4]), Text(r[5]), Int(r[6])};
    h.operation = Text(r[7]);
    h.value = Text(r[8]);
    h.value_recorded = Int(r[9]) != 0;
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace crm::store
