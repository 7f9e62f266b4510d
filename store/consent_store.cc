#include "store/consent_store.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "store/statement.h"

namespace crm::store {
namespace {

std::string Text(const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return "";
}

int64_t Int(const model::SqlValue& v) { return IntOf(v).value_or(0); }

constexpr char kColumns[] =
    "channel, purpose, state, source, service, actor, request_id, "
    "updated_at, version";

// A row of kColumns from column `at` on.
ConsentRow FromRow(const Row& r, size_t at) {
  ConsentRow c;
  c.channel = Text(r[at]);
  c.purpose = Text(r[at + 1]);
  c.state = Text(r[at + 2]);
  c.source = Text(r[at + 3]);
  c.service = Text(r[at + 4]);
  c.actor = Text(r[at + 5]);
  c.request_id = Text(r[at + 6]);
  c.updated_at = Int(r[at + 7]);
  c.version = Int(r[at + 8]);
  return c;
}

absl::Status LostRace() {
  return absl::AbortedError(
      "the consent entry was changed by another writer; read it again and "
      "retry");
}

}  // namespace

absl::StatusOr<std::vector<ConsentRow>> ConsentStore::Get(
    Session& session, absl::string_view collection,
    absl::string_view record_id) {
  auto rows = Query(session,
                    {absl::StrCat("SELECT ", kColumns,
                                  " FROM consents WHERE collection = ? AND "
                                  "record_id = ? ORDER BY channel, purpose"),
                     {std::string(collection), std::string(record_id)}},
                    "reading the consent of a record", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  std::vector<ConsentRow> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back(FromRow(r, 0));
  return out;
}

absl::StatusOr<std::map<std::string, std::vector<ConsentRow>>>
ConsentStore::GetAll(Session& session, absl::string_view collection,
                     const std::vector<std::string>& record_ids) {
  std::map<std::string, std::vector<ConsentRow>> out;
  absl::Status s = ForEachChunk(
      record_ids.size(), 1, 1, [&](size_t begin, size_t end) -> absl::Status {
        std::vector<model::SqlValue> params = {std::string(collection)};
        params.insert(params.end(), record_ids.begin() + begin,
                      record_ids.begin() + end);
        auto rows = Query(
            session,
            {absl::StrCat("SELECT record_id, ", kColumns,
                          " FROM consents WHERE collection = ? AND record_id "
                          "IN (",
                          Placeholders(end - begin),
                          ") ORDER BY record_id, channel, purpose"),
             std::move(params)},
            "reading the consent of records");
        if (!rows.ok()) return rows.status();
        for (const Row& r : *rows) out[Text(r[0])].push_back(FromRow(r, 1));
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<ConsentRow>> ConsentStore::GetOne(
    Session& session, absl::string_view collection,
    absl::string_view record_id, absl::string_view channel,
    absl::string_view purpose) {
  auto rows = Query(
      session,
      {absl::StrCat("SELECT ", kColumns,
                    " FROM consents WHERE collection = ? AND record_id = ? "
                    "AND channel = ? AND purpose = ?"),
       {std::string(collection), std::string(record_id), std::string(channel),
        std::string(purpose)}},
      "reading a consent entry", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::nullopt;
  return FromRow((*rows)[0], 0);
}

absl::StatusOr<ConsentRow> ConsentStore::Set(Session& session,
                                             absl::string_view collection,
                                             absl::string_view record_id,
                                             int64_t current_version,
                                             absl::string_view previous_state,
                                             ConsentRow entry) {
  entry.version = current_version + 1;
  const std::string coll(collection), id(record_id);
  if (current_version == 0) {
    // A unique violation (another writer inserted it first) is
    // ALREADY_EXISTS: a lost race.
    auto inserted = Execute(
        session,
        {"INSERT INTO consents (collection, record_id, channel, purpose, "
         "state, source, service, actor, request_id, updated_at, version) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         {coll, id, entry.channel, entry.purpose, entry.state, entry.source,
          entry.service, entry.actor, entry.request_id, entry.updated_at,
          entry.version}},
        "recording consent", Reuse::kCached);
    if (absl::IsAlreadyExists(inserted.status())) return LostRace();
    if (!inserted.ok()) return inserted.status();
  } else {
    auto updated = Execute(
        session,
        {"UPDATE consents SET state = ?, source = ?, service = ?, actor = ?, "
         "request_id = ?, updated_at = ?, version = ? WHERE collection = ? "
         "AND record_id = ? AND channel = ? AND purpose = ? AND version = ?",
         {entry.state, entry.source, entry.service, entry.actor,
          entry.request_id, entry.updated_at, entry.version, coll, id,
          entry.channel, entry.purpose, current_version}},
        "recording consent", Reuse::kCached);
    if (!updated.ok()) return updated.status();
    if (*updated == 0) return LostRace();
  }
  // The record's next history number; two concurrent changes of one record
  // collide on the primary key, and the later one retries.
  auto next = QueryInt(session,
                       {"SELECT COALESCE(MAX(sequence), 0) + 1 FROM "
                        "consent_history WHERE collection = ? AND "
                        "record_id = ?",
                        {coll, id}},
                       "numbering a consent change", Reuse::kCached);
  if (!next.ok()) return next.status();
  auto appended = Execute(
      session,
      {"INSERT INTO consent_history (collection, record_id, sequence, "
       "channel, purpose, state, previous_state, source, service, actor, "
       "request_id, changed_at, version) VALUES "
       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
       {coll, id, *next, entry.channel, entry.purpose, entry.state,
        std::string(previous_state), entry.source, entry.service, entry.actor,
        entry.request_id, entry.updated_at, entry.version}},
      "recording consent history", Reuse::kCached);
  if (absl::IsAlreadyExists(appended.status())) return LostRace();
  if (!appended.ok()) return appended.status();
  return entry;
}

absl::StatusOr<std::vector<ConsentChangeRow>> ConsentStore::History(
    Session& session, absl::string_view collection,
    absl::string_view record_id, int64_t after_sequence, int limit) {
  auto rows = Query(
      session,
      {"SELECT sequence, previous_state, channel, purpose, state, source, "
       "service, actor, request_id, changed_at, version FROM "
       "consent_history WHERE collection = ? AND record_id = ? AND "
       "sequence > ? ORDER BY sequence LIMIT ?",
       {std::string(collection), std::string(record_id), after_sequence,
        int64_t{limit}}},
      "reading the consent history of a record", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  std::vector<ConsentChangeRow> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) {
    ConsentChangeRow c;
    c.sequence = Int(r[0]);
    c.previous_state = Text(r[1]);
    c.entry = FromRow(r, 2);
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::vector<std::string>>>
ConsentStore::OptedOutChannels(Session& session, absl::string_view collection,
                               const std::vector<std::string>& record_ids,
                               const std::vector<std::string>& purposes) {
  std::map<std::string, std::vector<std::string>> out;
  if (record_ids.empty() || purposes.empty()) return out;
  model::SqlFragment q;
  q.Append(
      "SELECT DISTINCT record_id, channel FROM consents WHERE collection = ? "
      "AND state = ? AND purpose IN (",
      {std::string(collection), std::string(kOptedOut)});
  for (size_t i = 0; i < purposes.size(); ++i) {
    q.Append(i == 0 ? "?" : ", ?", {purposes[i]});
  }
  q.Append(") AND record_id IN (");
  for (size_t i = 0; i < record_ids.size(); ++i) {
    q.Append(i == 0 ? "?" : ", ?", {record_ids[i]});
  }
  q.Append(")");
  auto rows = Query(session, q, "reading opted-out channels");
  if (!rows.ok()) return rows.status();
  for (const Row& r : *rows) out[Text(r[0])].push_back(Text(r[1]));
  return out;
}

absl::Status ConsentStore::Forget(Session& session,
                                  absl::string_view collection,
                                  absl::string_view record_id) {
  for (const char* table : {"consents", "consent_history"}) {
    auto r = Execute(session,
                     {absl::StrCat("DELETE FROM ", table,
                                   " WHERE collection = ? AND record_id = ?"),
                      {std::string(collection), std::string(record_id)}},
                     "deleting the consent of a record");
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

}  // namespace crm::store
