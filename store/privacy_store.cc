#include "store/privacy_store.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "store/statement.h"

namespace crm::store {
namespace {

std::string Text(const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return "";
}

int64_t Int(const model::SqlValue& v) { return IntOf(v).value_or(0); }

absl::StatusOr<std::vector<std::string>> Ids(Session& session,
                                             model::SqlFragment query,
                                             absl::string_view operation) {
  auto rows = Query(session, query, operation);
  if (!rows.ok()) return rows.status();
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back(Text(r[0]));
  return out;
}

// " AND field IN (...)" with its parameters, or nothing for every field.
std::string FieldsClause(const std::vector<std::string>& fields,
                         std::vector<model::SqlValue>* params) {
  if (fields.empty()) return "";
  for (const std::string& f : fields) params->push_back(f);
  return absl::StrCat(" AND field IN (", Placeholders(fields.size()), ")");
}

// The parameters of one chunk of a statement "... collection = ? ...
// record_id IN (" over `record_ids` [begin, end), restricted to `fields`
// when not empty: appends the collection, the ids and the fields to
// `params`, and returns the text that follows: "?, ..., ?)" and the
// fields' clause.
std::string ChunkParams(absl::string_view collection,
                        const std::vector<std::string>& record_ids,
                        size_t begin, size_t end,
                        const std::vector<std::string>& fields,
                        std::vector<model::SqlValue>* params) {
  params->push_back(std::string(collection));
  params->insert(params->end(), record_ids.begin() + begin,
                 record_ids.begin() + end);
  return absl::StrCat(Placeholders(end - begin), ")",
                      FieldsClause(fields, params));
}

// `select` (ending in "record_id IN (", with one parameter, the
// collection, and grouping nothing yet) run over `record_ids` in chunks,
// restricted to `fields` when not empty: record id -> count.
absl::StatusOr<std::map<std::string, int64_t>> CountPerRecord(
    Session& session, absl::string_view select, absl::string_view collection,
    const std::vector<std::string>& record_ids,
    const std::vector<std::string>& fields, absl::string_view operation) {
  std::map<std::string, int64_t> out;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1 + fields.size(), [&](size_t begin, size_t end) {
        std::vector<model::SqlValue> params;
        const std::string ids =
            ChunkParams(collection, record_ids, begin, end, fields, &params);
        auto rows = Query(session,
                          {absl::StrCat(select, ids, " GROUP BY record_id"),
                           std::move(params)},
                          operation);
        if (!rows.ok()) return rows.status();
        for (const Row& r : *rows) out[Text(r[0])] += Int(r[1]);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

// Key of the PostgreSQL advisory lock held by a retention run ("crm retn").
constexpr int64_t kRetentionLockKey = 0x63726d2072657464;

// The WHERE clause of retention candidates, with its parameters.
absl::StatusOr<std::string> RetentionWhere(
    const model::ObjectSchema& schema, int64_t cutoff,
    const std::vector<std::string>& fields, absl::string_view erased_text,
    std::vector<model::SqlValue>* params) {
  std::string where = "update_time < ?";
  params->push_back(cutoff);
  std::vector<std::string> terms;
  for (const std::string& f : fields) {
    if (schema.FindField(f) == nullptr) {
      return absl::InternalError(
          absl::StrCat(schema.collection(), " has no field ", f));
    }
    terms.push_back(absl::StrCat("(\"", f, "\" <> '' AND \"", f, "\" <> ?)"));
    params->push_back(std::string(erased_text));
  }
  if (!terms.empty()) {
    absl::StrAppend(&where, " AND (", absl::StrJoin(terms, " OR "), ")");
  }
  return where;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> PrivacyStore::RetentionCandidates(
    Session& session, const model::ObjectSchema& schema, int64_t cutoff,
    const std::vector<std::string>& fields, absl::string_view erased_text,
    absl::string_view after_id, int limit) {
  std::vector<model::SqlValue> params;
  auto where = RetentionWhere(schema, cutoff, fields, erased_text, &params);
  if (!where.ok()) return where.status();
  params.push_back(std::string(after_id));
  params.push_back(int64_t{limit});
  return Ids(session,
             {absl::StrCat("SELECT id FROM ", schema.collection(), " WHERE ",
                           *where, " AND id > ? ORDER BY id LIMIT ?"),
              std::move(params)},
             "finding retention candidates");
}

absl::StatusOr<int64_t> PrivacyStore::CountRetentionCandidates(
    Session& session, const model::ObjectSchema& schema, int64_t cutoff,
    const std::vector<std::string>& fields, absl::string_view erased_text) {
  std::vector<model::SqlValue> params;
  auto where = RetentionWhere(schema, cutoff, fields, erased_text, &params);
  if (!where.ok()) return where.status();
  return QueryInt(session,
                  {absl::StrCat("SELECT COUNT(*) FROM ", schema.collection(),
                                " WHERE ", *where),
                   std::move(params)},
                  "counting retention candidates");
}

absl::StatusOr<bool> PrivacyStore::TryRetentionLock(Session& session) {
  if (DialectOf(session) != Dialect::kPostgres) return true;
  auto got = QueryInt(
      session,
      {absl::StrCat("SELECT CASE WHEN pg_try_advisory_lock(",
                    kRetentionLockKey, ") THEN 1 ELSE 0 END"),
       {}},
      "taking the retention lock");
  if (!got.ok()) return got.status();
  return *got == 1;
}

absl::Status PrivacyStore::ReleaseRetentionLock(Session& session) {
  if (DialectOf(session) != Dialect::kPostgres) return absl::OkStatus();
  return QueryInt(session,
                  {absl::StrCat("SELECT CASE WHEN pg_advisory_unlock(",
                                kRetentionLockKey, ") THEN 1 ELSE 0 END"),
                   {}},
                  "releasing the retention lock")
      .status();
}

absl::Status PrivacyStore::InsertRetentionRun(Session& session,
                                              const RetentionRunRow& row) {
  return Execute(session,
                 {"INSERT INTO retention_runs (id, started_at, finished_at, "
                  "run) VALUES (?, ?, ?, ?)",
                  {row.id, row.started_at, row.finished_at, row.run}},
                 "recording a retention run")
      .status();
}

absl::Status PrivacyStore::FinishRetentionRun(Session& session,
                                              const RetentionRunRow& row) {
  return Execute(session,
                 {"UPDATE retention_runs SET finished_at = ?, run = ? WHERE "
                  "id = ?",
                  {row.finished_at, row.run, row.id}},
                 "recording the end of a retention run")
      .status();
}

absl::StatusOr<std::vector<RetentionRunRow>> PrivacyStore::ListRetentionRuns(
    Session& session, int limit) {
  auto rows = Query(session,
                    {"SELECT id, started_at, finished_at, run FROM "
                     "retention_runs ORDER BY started_at DESC, id DESC LIMIT ?",
                     {int64_t{limit}}},
                    "listing retention runs");
  if (!rows.ok()) return rows.status();
  std::vector<RetentionRunRow> out;
  for (const Row& r : *rows) {
    out.push_back(RetentionRunRow{Text(r[0]), Int(r[1]), Int(r[2]), Text(r[3])});
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> PrivacyStore::FindByFields(
    Session& session, const model::ObjectSchema& schema,
    const std::vector<std::string>& fields, absl::string_view normalized) {
  std::vector<std::string> terms;
  std::vector<model::SqlValue> params;
  for (const std::string& f : fields) {
    if (schema.FindField(f) == nullptr) {
      return absl::InternalError(
          absl::StrCat(schema.collection(), " has no field ", f));
    }
    terms.push_back(absl::StrCat("lower(trim(\"", f, "\")) = ?"));
    params.push_back(std::string(normalized));
  }
  if (terms.empty()) return std::vector<std::string>{};
  return Ids(session,
             {absl::StrCat("SELECT id FROM ", schema.collection(), " WHERE ",
                           absl::StrJoin(terms, " OR "), " ORDER BY id"),
              std::move(params)},
             "finding a subject's records");
}

absl::StatusOr<std::vector<std::string>> PrivacyStore::FindByReference(
    Session& session, const model::ObjectSchema& schema,
    absl::string_view field, const std::vector<std::string>& values) {
  if (values.empty()) return std::vector<std::string>{};
  if (schema.FindField(field) == nullptr) {
    return absl::InternalError(
        absl::StrCat(schema.collection(), " has no field ", field));
  }
  std::vector<model::SqlValue> params(values.begin(), values.end());
  return Ids(session,
             {absl::StrCat("SELECT id FROM ", schema.collection(), " WHERE \"",
                           field, "\" IN (", Placeholders(values.size()),
                           ") ORDER BY id"),
              std::move(params)},
             "finding a subject's related records");
}

absl::StatusOr<std::map<std::string, int64_t>> PrivacyStore::CountShares(
    Session& session, absl::string_view collection,
    const std::vector<std::string>& record_ids) {
  return CountPerRecord(session,
                        "SELECT record_id, COUNT(*) FROM record_shares WHERE "
                        "object = ? AND record_id IN (",
                        collection, record_ids, {}, "counting records' shares");
}

absl::StatusOr<std::map<std::string, int64_t>> PrivacyStore::RemoveShares(
    Session& session, absl::string_view collection,
    const std::vector<std::string>& record_ids) {
  // Counted first, in the caller's transaction: the receipt says how many
  // each record lost.
  auto counts = CountShares(session, collection, record_ids);
  if (!counts.ok()) return counts.status();
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1, [&](size_t begin, size_t end) {
        std::vector<model::SqlValue> params;
        const std::string ids =
            ChunkParams(collection, record_ids, begin, end, {}, &params);
        return Execute(session,
                       {absl::StrCat("DELETE FROM record_shares WHERE object "
                                     "= ? AND record_id IN (",
                                     ids),
                        std::move(params)},
                       "removing records' shares")
            .status();
      });
  if (!s.ok()) return s;
  return counts;
}

absl::StatusOr<std::map<std::string, int64_t>>
PrivacyStore::CountHistoryValues(Session& session,
                                 absl::string_view collection,
                                 const std::vector<std::string>& record_ids,
                                 const std::vector<std::string>& fields) {
  return CountPerRecord(session,
                        "SELECT record_id, COUNT(*) FROM field_history WHERE "
                        "collection = ? AND value_recorded = 1 AND "
                        "record_id IN (",
                        collection, record_ids, fields,
                        "counting records' history values");
}

absl::StatusOr<int64_t> PrivacyStore::ScrubHistoryValues(
    Session& session, absl::string_view collection,
    const std::vector<std::string>& record_ids,
    const std::vector<std::string>& fields) {
  int64_t total = 0;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1 + fields.size(), [&](size_t begin, size_t end) {
        std::vector<model::SqlValue> params;
        const std::string ids =
            ChunkParams(collection, record_ids, begin, end, fields, &params);
        auto n = Execute(
            session,
            {absl::StrCat("UPDATE field_history SET value = '', "
                          "value_recorded = 0 WHERE collection = ? AND "
                          "value_recorded = 1 AND record_id IN (",
                          ids),
             std::move(params)},
            "removing values from records' history");
        if (!n.ok()) return n.status();
        total += *n;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return total;
}

absl::StatusOr<std::optional<std::string>> PrivacyStore::FindErasure(
    Session& session, absl::string_view pseudonym) {
  auto rows = Query(session,
                    {"SELECT receipt_id FROM erased_subjects WHERE pseudonym = ?",
                     {std::string(pseudonym)}},
                    "reading the erasure registry");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>(Text((*rows)[0][0]));
}

absl::Status PrivacyStore::StoreErasure(
    Session& session, const ReceiptRow& receipt,
    const std::vector<std::string>& pseudonyms) {
  auto r = Execute(session,
                   {"INSERT INTO erasure_receipts (id, subject, erased_at, "
                    "receipt) VALUES (?, ?, ?, ?)",
                    {receipt.id, receipt.subject, receipt.erased_at,
                     receipt.receipt}},
                   "storing an erasure receipt");
  if (!r.ok()) return r.status();
  for (const std::string& p : pseudonyms) {
    auto s = Execute(session,
                     {"INSERT INTO erased_subjects (pseudonym, receipt_id) "
                      "VALUES (?, ?) ON CONFLICT (pseudonym) DO NOTHING",
                      {p, receipt.id}},
                     "registering an erased subject");
    if (!s.ok()) return s.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ReceiptRow>> PrivacyStore::GetReceipt(
    Session& session, absl::string_view id) {
  auto rows = Query(session,
                    {"SELECT id, subject, erased_at, receipt FROM "
                     "erasure_receipts WHERE id = ?",
                     {std::string(id)}},
                    "reading an erasure receipt");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<ReceiptRow>();
  const Row& r = (*rows)[0];
  return std::optional<ReceiptRow>(
      ReceiptRow{Text(r[0]), Text(r[1]), Int(r[2]), Text(r[3])});
}

absl::StatusOr<bool> PrivacyStore::CheckpointAfterErasure(Session& session) {
  if (DialectOf(session) != Dialect::kSqlite) return true;
  // Returns (busy, log frames, frames checkpointed); busy 1: not complete.
  auto rows = Query(session, {"PRAGMA wal_checkpoint(TRUNCATE)", {}},
                    "checkpointing the write-ahead log");
  if (!rows.ok()) return rows.status();
  return rows->empty() || Int((*rows)[0][0]) == 0;
}

absl::StatusOr<std::vector<AuditActorRow>> PrivacyStore::AuditActors(
    Session& session, const std::vector<std::string>& resources) {
  // Per chunk of resources, then merged per (actor, action).
  std::map<std::tuple<std::string, std::string, std::string>, AuditActorRow>
      merged;
  absl::Status s = ForEachChunk(
      resources.size(), 1, 0, [&](size_t begin, size_t end) -> absl::Status {
        std::vector<model::SqlValue> params(resources.begin() + begin,
                                            resources.begin() + end);
        auto rows = Query(
            session,
            {absl::StrCat("SELECT actor_user, actor_service, action, "
                          "MIN(time), MAX(time), COUNT(*) FROM audit_events "
                          "WHERE resource IN (",
                          Placeholders(end - begin),
                          ") GROUP BY actor_user, actor_service, action"),
             std::move(params)},
            "reading who acted on a subject's records");
        if (!rows.ok()) return rows.status();
        for (const Row& r : *rows) {
          AuditActorRow row{Text(r[0]), Text(r[1]), Text(r[2]),
                            Int(r[3]),  Int(r[4]),  Int(r[5])};
          auto [it, fresh] = merged.try_emplace(
              std::make_tuple(row.actor_user, row.actor_service, row.action),
              row);
          if (fresh) continue;
          it->second.first_time = std::min(it->second.first_time, row.first_time);
          it->second.last_time = std::max(it->second.last_time, row.last_time);
          it->second.events += row.events;
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  std::vector<AuditActorRow> out;
  out.reserve(merged.size());
  for (auto& [key, row] : merged) out.push_back(std::move(row));
  // Oldest first, then by actor and action (the map's order breaks ties).
  std::stable_sort(out.begin(), out.end(),
                   [](const AuditActorRow& a, const AuditActorRow& b) {
                     return a.first_time < b.first_time;
                   });
  return out;
}

}  // namespace crm::store
