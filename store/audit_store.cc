#include "store/audit_store.h"

#include <future>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/call_scope.h"
#include "audit/chain.h"
#include "audit/verifier.h"
#include "soci/sqlite3/soci-sqlite3.h"
#include "store/audit_json.h"
#include "store/soci_util.h"
#include "store/statement.h"

namespace crm::store {
namespace {

using crm::v1::AuditCheckpoint;
using crm::v1::AuditEvent;

constexpr char kEventColumns[] =
    "sequence, time, request_id, actor_user, actor_service, action, "
    "resource, outcome, reason, client_address, country, changes, "
    "attributes, previous_hash, hash";

int64_t Int(const model::SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  return 0;
}

std::string Str(const model::SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return std::string();
}

// Rows per multi-row INSERT when appending on PostgreSQL (each statement is
// a round trip): a batch is cut into chunks of kMaxRowsPerInsert rows and
// the rest into power-of-two chunks, so at most seven texts are ever cached
// per connection. 15 parameters a row: 960 at most, far below PostgreSQL's
// 65535. SQLite appends one row per execution (InsertSqliteEvents).
constexpr size_t kMaxRowsPerInsert = 64;

// "INSERT INTO audit_events (...) VALUES (?, ...), ..., (?, ...)" with
// `rows` rows (a power of two up to kMaxRowsPerInsert).
const std::string& InsertText(size_t rows) {
  static const std::vector<std::string>* texts = [] {
    auto* t = new std::vector<std::string>(kMaxRowsPerInsert + 1);
    for (size_t n = 1; n <= kMaxRowsPerInsert; n *= 2) {
      std::string& text = (*t)[n];
      text = absl::StrCat("INSERT INTO audit_events (", kEventColumns,
                          ") VALUES ");
      for (size_t i = 0; i < n; ++i) {
        absl::StrAppend(&text, i == 0 ? "" : ", ",
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      }
    }
    return t;
  }();
  return (*texts)[rows];
}

// Moves the row's strings into the event (a million rows are read this way
// to verify the chain).
std::string Take(model::SqlValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return std::move(*s);
  return std::string();
}

AuditEvent EventFromRow(Row& row) {
  AuditEvent e;
  e.set_sequence(Int(row[0]));
  *e.mutable_time() = audit::TimeFromMicros(Int(row[1]));
  e.set_request_id(Take(row[2]));
  e.set_actor_user(Take(row[3]));
  e.set_actor_service(Take(row[4]));
  e.set_action(Take(row[5]));
  e.set_resource(Take(row[6]));
  crm::v1::AuditOutcome outcome = crm::v1::AUDIT_OUTCOME_UNSPECIFIED;
  crm::v1::AuditOutcome_Parse(Str(row[7]), &outcome);
  e.set_outcome(outcome);
  e.set_reason(Take(row[8]));
  e.set_client_address(Take(row[9]));
  e.set_country(Take(row[10]));
  for (int i : {11, 12}) {
    if (const auto* json = std::get_if<std::string>(&row[i])) {
      MergeAuditPartJson(*json, &e);
    }
  }
  e.set_previous_hash(Take(row[13]));
  e.set_hash(Take(row[14]));
  return e;
}

AuditCheckpoint CheckpointFromRow(const Row& row) {
  AuditCheckpoint c;
  c.set_sequence(Int(row[0]));
  c.set_hash(Str(row[1]));
  *c.mutable_time() = audit::TimeFromMicros(Int(row[2]));
  c.set_key_id(Str(row[3]));
  c.set_signature(Str(row[4]));
  return c;
}

absl::StatusOr<std::vector<AuditEvent>> QueryEvents(Session& session,
                                                    const model::SqlFragment& q,
                                                    Reuse reuse) {
  auto rows = Query(session, q, "reading the audit trail", reuse);
  if (!rows.ok()) return rows.status();
  std::vector<AuditEvent> out;
  out.reserve(rows->size());
  for (Row& row : *rows) out.push_back(EventFromRow(row));
  return out;
}

// PostgreSQL: one multi-row INSERT per chunk instead of one INSERT per
// event (each statement is a round trip).
absl::Status InsertPostgresEvents(Session& session,
                                  const std::vector<AuditEvent>& events) {
  for (size_t first = 0; first < events.size();) {
    size_t rows = kMaxRowsPerInsert;
    while (rows > events.size() - first) rows /= 2;
    model::SqlFragment insert{InsertText(rows), {}};
    insert.params.reserve(rows * 15);
    for (size_t i = first; i < first + rows; ++i) {
      const AuditEvent& e = events[i];
      std::vector<model::SqlValue>& p = insert.params;
      p.emplace_back(e.sequence());
      p.emplace_back(audit::TimeMicros(e.time()));
      p.emplace_back(e.request_id());
      p.emplace_back(e.actor_user());
      p.emplace_back(e.actor_service());
      p.emplace_back(e.action());
      p.emplace_back(e.resource());
      p.emplace_back(crm::v1::AuditOutcome_Name(e.outcome()));
      p.emplace_back(e.reason());
      p.emplace_back(e.client_address());
      p.emplace_back(e.country());
      p.emplace_back(AuditPartJson(e, true));
      p.emplace_back(AuditPartJson(e, false));
      p.emplace_back(e.previous_hash());
      p.emplace_back(e.hash());
    }
    auto n = Execute(session, insert, "appending to the audit trail",
                     Reuse::kCached);
    if (!n.ok()) return n.status();
    first += rows;
  }
  return absl::OkStatus();
}

// SQLite: a statement costs no round trip, so each event is one execution
// of a one-row INSERT prepared once per batch through SQLite's own API,
// its values bound in place (SQLITE_STATIC: the event's own strings, no
// copy). Through SOCI every value was copied twice (into a SqlValue, then
// into SOCI's buffer) and, bound by name, looked up among the statement's
// names: the writer's INSERT was most of what an audited read cost
// (bench/README.md, "Audit trail").
absl::Status InsertSqliteEvents(Session& session,
                                const std::vector<AuditEvent>& events) {
  sqlite_api::sqlite3* db =
      static_cast<soci::sqlite3_session_backend*>(session.sql().get_backend())
          ->conn_;
  const std::string& sql = InsertText(1);
  auto fail = [&](int rc) {
    return ToStatus(&session, "appending to the audit trail", sql,
                    soci::sqlite3_soci_error(sqlite_api::sqlite3_errmsg(db),
                                             rc));
  };
  sqlite_api::sqlite3_stmt* raw = nullptr;
  int rc = sqlite_api::sqlite3_prepare_v2(db, sql.c_str(),
                                          static_cast<int>(sql.size()), &raw,
                                          nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  std::unique_ptr<sqlite_api::sqlite3_stmt, int (*)(sqlite_api::sqlite3_stmt*)>
      statement(raw, sqlite_api::sqlite3_finalize);
  std::string changes, attributes;
  for (const AuditEvent& e : events) {
    changes = AuditPartJson(e, true);
    attributes = AuditPartJson(e, false);
    const std::string& outcome = crm::v1::AuditOutcome_Name(e.outcome());
    const std::string* texts[13] = {
        &e.request_id(), &e.actor_user(),     &e.actor_service(),
        &e.action(),     &e.resource(),       &outcome,
        &e.reason(),     &e.client_address(), &e.country(),
        &changes,        &attributes,         &e.previous_hash(),
        &e.hash()};
    sqlite_api::sqlite3_bind_int64(raw, 1, e.sequence());
    sqlite_api::sqlite3_bind_int64(raw, 2, audit::TimeMicros(e.time()));
    for (int i = 0; i < 13; ++i) {
      sqlite_api::sqlite3_bind_text(raw, i + 3, texts[i]->data(),
                                    static_cast<int>(texts[i]->size()),
                                    SQLITE_STATIC);
    }
    rc = sqlite_api::sqlite3_step(raw);
    sqlite_api::sqlite3_reset(raw);
    if (rc != SQLITE_DONE) return fail(rc);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AppendAuditEvents(Session& session,
                               std::vector<AuditEvent>* events) {
  if (events->empty()) return absl::OkStatus();
  const bool postgres = DialectOf(session) == Dialect::kPostgres;
  auto head = Query(session,
                    {postgres ? "SELECT sequence, hash FROM audit_head "
                                "WHERE id = 1 FOR UPDATE"
                              : "SELECT sequence, hash FROM audit_head "
                                "WHERE id = 1",
                     {}},
                    "locking the audit chain", Reuse::kCached);
  if (!head.ok()) return head.status();
  if (head->empty()) {
    return absl::InternalError(
        "audit_head has no row; the audit migration (7) did not complete");
  }
  int64_t sequence = Int((*head)[0][0]);
  std::string previous = Str((*head)[0][1]);
  for (AuditEvent& e : *events) {
    audit::FillFromCall(&e);
    e.set_sequence(++sequence);
    e.set_previous_hash(previous);
    e.set_hash(audit::EventHash(e));
    previous = e.hash();
  }
  absl::Status inserted = postgres ? InsertPostgresEvents(session, *events)
                                   : InsertSqliteEvents(session, *events);
  if (!inserted.ok()) return inserted;
  auto moved = Execute(
      session,
      {"UPDATE audit_head SET sequence = ?, hash = ? WHERE id = 1",
       {sequence, previous}},
      "moving the audit chain head", Reuse::kCached);
  return moved.ok() ? absl::OkStatus() : moved.status();
}

absl::StatusOr<AuditHead> ReadAuditHead(Session& session) {
  auto rows = Query(session,
                    {"SELECT sequence, hash, anchor_sequence, anchor_hash, "
                     "anchor_time, anchor_key_id, anchor_signature "
                     "FROM audit_head WHERE id = 1",
                     {}},
                    "reading the audit chain head");
  if (!rows.ok()) return rows.status();
  AuditHead head;
  if (rows->empty()) return head;
  const Row& row = (*rows)[0];
  head.sequence = Int(row[0]);
  head.hash = Str(row[1]);
  if (Int(row[2]) > 0) {
    head.anchor = CheckpointFromRow({row[2], row[3], row[4], row[5], row[6]});
  }
  return head;
}

namespace {

// One row of audit_events in kEventColumns' order: the two integers, then
// the thirteen texts from request_id to hash. The views point into the
// driver's buffers and are valid until its next row.
struct EventRow {
  int64_t sequence = 0;
  int64_t time = 0;
  absl::string_view text[13];
};

using MutableText = std::string* (AuditEvent::*)();

// Copies into the string `e` already holds (its capacity is reused); an
// empty value leaves the cleared field as it is, allocating nothing.
void SetText(AuditEvent* e, MutableText field, absl::string_view value) {
  if (!value.empty()) (e->*field)()->assign(value.data(), value.size());
}

// `e` from `row`. `e` may hold an earlier event: it is cleared first, which
// keeps its strings' buffers and its cleared `changes` for reuse.
void FillEvent(const EventRow& row, AuditEvent* e) {
  e->Clear();
  e->set_sequence(row.sequence);
  *e->mutable_time() = audit::TimeFromMicros(row.time);
  SetText(e, &AuditEvent::mutable_request_id, row.text[0]);
  SetText(e, &AuditEvent::mutable_actor_user, row.text[1]);
  SetText(e, &AuditEvent::mutable_actor_service, row.text[2]);
  SetText(e, &AuditEvent::mutable_action, row.text[3]);
  SetText(e, &AuditEvent::mutable_resource, row.text[4]);
  crm::v1::AuditOutcome outcome = crm::v1::AUDIT_OUTCOME_UNSPECIFIED;
  crm::v1::AuditOutcome_Parse(std::string(row.text[5]), &outcome);
  e->set_outcome(outcome);
  SetText(e, &AuditEvent::mutable_reason, row.text[6]);
  SetText(e, &AuditEvent::mutable_client_address, row.text[7]);
  SetText(e, &AuditEvent::mutable_country, row.text[8]);
  MergeAuditPartJson(row.text[9], e);
  MergeAuditPartJson(row.text[10], e);
  SetText(e, &AuditEvent::mutable_previous_hash, row.text[11]);
  SetText(e, &AuditEvent::mutable_hash, row.text[12]);
}

// The next event of *out to fill: the one at `used` if *out already holds
// it (reused), else a new one at the end.
AuditEvent* NextSlot(std::vector<AuditEvent>* out, size_t used) {
  if (used < out->size()) return &(*out)[used];
  return &out->emplace_back();
}

std::string ReadEventsSql() {
  return absl::StrCat("SELECT ", kEventColumns,
                      " FROM audit_events WHERE sequence > ? ORDER BY "
                      "sequence LIMIT ?");
}

// SQLite: the statement is stepped through SQLite's own API on the
// session's connection, each value copied once, from SQLite's page into the
// event. SOCI's bulk fetch copied every value twice through buffers of its
// own (a malloc per value) and was most of the reading time
// (bench/README.md, "Audit trail").
absl::Status ReadSqliteEvents(Session& session, int64_t after, int limit,
                              std::vector<AuditEvent>* out, size_t* used) {
  // static_cast: libsoci hides the backends' typeinfo; the dialect says
  // which backend this is.
  sqlite_api::sqlite3* db =
      static_cast<soci::sqlite3_session_backend*>(session.sql().get_backend())
          ->conn_;
  static const std::string* const sql = new std::string(ReadEventsSql());
  auto fail = [&](int rc) {
    return ToStatus(&session, "reading the audit trail", *sql,
                    soci::sqlite3_soci_error(sqlite_api::sqlite3_errmsg(db),
                                             rc));
  };
  sqlite_api::sqlite3_stmt* raw = nullptr;
  int rc = sqlite_api::sqlite3_prepare_v2(db, sql->c_str(),
                                          static_cast<int>(sql->size()), &raw,
                                          nullptr);
  if (rc != SQLITE_OK) return fail(rc);
  std::unique_ptr<sqlite_api::sqlite3_stmt, int (*)(sqlite_api::sqlite3_stmt*)>
      statement(raw, sqlite_api::sqlite3_finalize);
  sqlite_api::sqlite3_bind_int64(raw, 1, after);
  sqlite_api::sqlite3_bind_int64(raw, 2, limit);
  EventRow row;
  while ((rc = sqlite_api::sqlite3_step(raw)) == SQLITE_ROW) {
    row.sequence = sqlite_api::sqlite3_column_int64(raw, 0);
    row.time = sqlite_api::sqlite3_column_int64(raw, 1);
    for (int i = 0; i < 13; ++i) {
      // text before bytes: the length is that of the text form.
      const unsigned char* text = sqlite_api::sqlite3_column_text(raw, i + 2);
      const int bytes = sqlite_api::sqlite3_column_bytes(raw, i + 2);
      row.text[i] = text == nullptr
                        ? absl::string_view()
                        : absl::string_view(
                              reinterpret_cast<const char*>(text), bytes);
    }
    FillEvent(row, NextSlot(out, *used));
    ++*used;
  }
  if (rc != SQLITE_DONE) return fail(rc);
  return absl::OkStatus();
}

// PostgreSQL: each chunk fetched in bulk into one typed vector per column
// (one round trip), instead of SOCI's generic row with a variant per value.
absl::Status ReadPostgresEvents(Session& session, int64_t after, int limit,
                                std::vector<AuditEvent>* out, size_t* used) {
  const std::string sql = absl::StrCat(
      "SELECT ", kEventColumns,
      " FROM audit_events WHERE sequence > :after ORDER BY sequence "
      "LIMIT :limit");
  try {
    const auto n = static_cast<size_t>(limit);
    std::vector<long long> sequence(n), time(n);
    std::vector<std::string> text[13];
    for (auto& column : text) column.resize(n);
    long long after_ll = after, limit_ll = limit;
    soci::statement st =
        (session.sql().prepare << sql, soci::into(sequence), soci::into(time),
         soci::into(text[0]), soci::into(text[1]), soci::into(text[2]),
         soci::into(text[3]), soci::into(text[4]), soci::into(text[5]),
         soci::into(text[6]), soci::into(text[7]), soci::into(text[8]),
         soci::into(text[9]), soci::into(text[10]), soci::into(text[11]),
         soci::into(text[12]), soci::use(after_ll, "after"),
         soci::use(limit_ll, "limit"));
    if (!st.execute(true)) return absl::OkStatus();  // no row
    EventRow row;
    for (size_t i = 0; i < sequence.size(); ++i) {
      row.sequence = sequence[i];
      row.time = time[i];
      for (int c = 0; c < 13; ++c) row.text[c] = text[c][i];
      FillEvent(row, NextSlot(out, *used));
      ++*used;
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return ToStatus(&session, "reading the audit trail", sql, e);
  }
}

}  // namespace

absl::Status ReadAuditEventsInto(Session& session, int64_t after, int limit,
                                 std::vector<AuditEvent>* events) {
  size_t used = 0;
  absl::Status s;
  if (limit > 0) {
    s = DialectOf(session) == Dialect::kSqlite
            ? ReadSqliteEvents(session, after, limit, events, &used)
            : ReadPostgresEvents(session, after, limit, events, &used);
  }
  // On failure too: no event of an earlier read may pass for this one's.
  events->resize(used);
  return s;
}

absl::StatusOr<std::vector<AuditEvent>> ReadAuditEvents(Session& session,
                                                        int64_t after,
                                                        int limit) {
  std::vector<AuditEvent> out;
  absl::Status s = ReadAuditEventsInto(session, after, limit, &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
    Session& session, const model::SqlFragment& where, int64_t before,
    int64_t after, int limit, bool newest_first) {
  model::SqlFragment q;
  q.Append(absl::StrCat("SELECT ", kEventColumns, " FROM audit_events"));
  model::SqlFragment predicate = where;
  if (before > 0) {
    predicate = model::And(predicate, {"sequence < ?", {before}});
  }
  if (after > 0) predicate = model::And(predicate, {"sequence > ?", {after}});
  if (!predicate.empty()) {
    q.Append(" WHERE ");
    q.Append(predicate);
  }
  q.Append(newest_first ? " ORDER BY sequence DESC LIMIT ?"
                        : " ORDER BY sequence LIMIT ?",
           {int64_t{limit}});
  return QueryEvents(session, q, Reuse::kOnce);
}

absl::StatusOr<absl::flat_hash_map<std::string, int64_t>>
LatestEventTimeByActor(Session& session, const std::string& action,
                       crm::v1::AuditOutcome outcome, int64_t since_micros) {
  auto rows = Query(
      session,
      {"SELECT actor_user, MAX(time) FROM audit_events WHERE time >= ? AND "
       "action = ? AND outcome = ? AND actor_user <> '' GROUP BY actor_user",
       {since_micros, action, crm::v1::AuditOutcome_Name(outcome)}},
      "reading the newest audit event per user", Reuse::kOnce);
  if (!rows.ok()) return rows.status();
  absl::flat_hash_map<std::string, int64_t> out;
  for (const Row& row : *rows) out[Str(row[0])] = IntOf(row[1]).value_or(0);
  return out;
}

absl::StatusOr<int64_t> OldestAuditEventTime(Session& session) {
  auto rows = Query(session,
                    {"SELECT time FROM audit_events ORDER BY sequence LIMIT 1",
                     {}},
                    "reading the oldest audit event", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  return rows->empty() ? int64_t{0} : Int((*rows)[0][0]);
}

absl::StatusOr<std::vector<AuditCheckpoint>> ReadAuditCheckpoints(
    Session& session, int64_t after, int64_t upto) {
  auto rows = Query(session,
                    {"SELECT sequence, hash, time, key_id, signature "
                     "FROM audit_checkpoints WHERE sequence > ? AND "
                     "sequence <= ? ORDER BY sequence",
                     {after, upto}},
                    "reading audit checkpoints", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  std::vector<AuditCheckpoint> out;
  for (const Row& row : *rows) out.push_back(CheckpointFromRow(row));
  return out;
}

absl::StatusOr<std::optional<AuditCheckpoint>> LatestAuditCheckpoint(
    Session& session) {
  auto rows = Query(session,
                    {"SELECT sequence, hash, time, key_id, signature "
                     "FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1",
                     {}},
                    "reading audit checkpoints", Reuse::kCached);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<AuditCheckpoint>();
  return std::optional<AuditCheckpoint>(CheckpointFromRow((*rows)[0]));
}

absl::Status InsertAuditCheckpoint(Session& session,
                                   const AuditCheckpoint& c) {
  const bool postgres = DialectOf(session) == Dialect::kPostgres;
  auto n = Execute(
      session,
      {absl::StrCat(postgres ? "INSERT" : "INSERT OR IGNORE",
                    " INTO audit_checkpoints (sequence, hash, time, key_id, "
                    "signature) VALUES (?, ?, ?, ?, ?)",
                    postgres ? " ON CONFLICT (sequence) DO NOTHING" : ""),
       {c.sequence(), c.hash(), audit::TimeMicros(c.time()), c.key_id(),
        c.signature()}},
      "storing an audit checkpoint");
  return n.ok() ? absl::OkStatus() : n.status();
}

absl::StatusOr<int64_t> PruneAuditEvents(Session& session,
                                         const AuditCheckpoint& anchor) {
  auto removed = Execute(session,
                         {"DELETE FROM audit_events WHERE sequence <= ?",
                          {anchor.sequence()}},
                         "pruning the audit trail");
  if (!removed.ok()) return removed.status();
  auto old = Execute(session,
                     {"DELETE FROM audit_checkpoints WHERE sequence < ?",
                      {anchor.sequence()}},
                     "pruning audit checkpoints");
  if (!old.ok()) return old.status();
  auto moved = Execute(
      session,
      {"UPDATE audit_head SET anchor_sequence = ?, anchor_hash = ?, "
       "anchor_time = ?, anchor_key_id = ?, anchor_signature = ? WHERE id = 1",
       {anchor.sequence(), anchor.hash(), audit::TimeMicros(anchor.time()),
        anchor.key_id(), anchor.signature()}},
      "recording the audit anchor");
  if (!moved.ok()) return moved.status();
  return *removed;
}

absl::StatusOr<std::optional<AuditCheckpoint>> PrunableCheckpoint(
    Session& session, int64_t time_micros) {
  auto rows = Query(
      session,
      {"SELECT c.sequence, c.hash, c.time, c.key_id, c.signature "
       "FROM audit_checkpoints c JOIN audit_events e ON e.sequence = "
       "c.sequence WHERE e.time < ? ORDER BY c.sequence DESC LIMIT 1",
       {time_micros}},
      "finding what retention may remove");
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return std::optional<AuditCheckpoint>();
  return std::optional<AuditCheckpoint>(CheckpointFromRow((*rows)[0]));
}

absl::StatusOr<crm::v1::AuditVerification> VerifyStoredAudit(
    Database& db, const std::vector<audit::PublicKey>& keys, int chunk) {
  audit::ChainVerifier verifier(keys);
  absl::StatusOr<AuditHead> head;
  absl::Status s = db.WithSession([&](Session& session) {
    head = ReadAuditHead(session);
    return head.status();
  });
  if (!s.ok()) return s;
  int64_t after = 0;
  if (head->anchor.has_value()) {
    verifier.StartFrom(*head->anchor);
    after = head->anchor->sequence();
  }
  struct Chunk {
    std::vector<crm::v1::AuditEvent> events;
    std::vector<crm::v1::AuditCheckpoint> checkpoints;
  };
  auto read = [&db, chunk](int64_t from, Chunk* out) -> absl::Status {
    return db.WithSession([&](Session& session) -> absl::Status {
      absl::Status st = ReadAuditEventsInto(session, from, chunk, &out->events);
      if (!st.ok()) return st;
      out->checkpoints.clear();
      if (out->events.empty()) return absl::OkStatus();
      auto c = ReadAuditCheckpoints(session, from,
                                    out->events.back().sequence());
      if (!c.ok()) return c.status();
      out->checkpoints = *std::move(c);
      return absl::OkStatus();
    });
  };
  // The next chunk is read (one session, on another thread) into one buffer
  // while this one is hashed from the other; the two buffers' events are
  // refilled in place, chunk after chunk (ReadAuditEventsInto), so neither
  // thread allocates or frees a million events' strings. Declared before
  // `pending`, whose destructor waits for the reader, so that they outlive it.
  Chunk buffers[2];
  int current = 0;
  std::future<absl::Status> pending =
      std::async(std::launch::async, read, after, &buffers[current]);
  for (;;) {
    if (absl::Status st = pending.get(); !st.ok()) return st;
    const Chunk& chunk_read = buffers[current];
    const bool last =
        chunk_read.events.size() < static_cast<size_t>(chunk);
    if (!last) {
      pending = std::async(std::launch::async, read,
                           chunk_read.events.back().sequence(),
                           &buffers[1 - current]);
    }
    size_t next = 0;
    for (const crm::v1::AuditEvent& e : chunk_read.events) {
      verifier.AddEvent(e);
      while (next < chunk_read.checkpoints.size() &&
             chunk_read.checkpoints[next].sequence() <= e.sequence()) {
        verifier.AddCheckpoint(chunk_read.checkpoints[next++]);
      }
      after = e.sequence();
    }
    if (last) break;
    if (verifier.failed()) {
      pending.wait();  // the reader holds a session, `db` and a buffer
      break;
    }
    current = 1 - current;
  }
  crm::v1::AuditVerification result = verifier.Finish();
  if (result.ok() && after < head->sequence) {
    // The head (read first) says more events were committed than the
    // table holds: the newest ones were removed.
    result.set_ok(false);
    result.set_first_bad_sequence(after + 1);
    result.set_problem(absl::StrCat(
        "the chain head says event ", head->sequence,
        " was written but the log ends at event ", after,
        " (events removed: truncated)"));
  }
  return result;
}

absl::StatusOr<int64_t> SpoolProgress(Session& session,
                                      const std::string& file) {
  return QueryInt(session,
                  {"SELECT committed_end FROM audit_spool_progress WHERE "
                   "spool_file = ?",
                   {file}},
                  "reading the audit spool's progress", Reuse::kCached);
}

absl::Status SetSpoolProgress(Session& session, const std::string& file,
                              int64_t end) {
  auto n = Execute(session,
                   {"INSERT INTO audit_spool_progress (spool_file, "
                    "committed_end) VALUES (?, ?) ON CONFLICT (spool_file) DO "
                    "UPDATE SET committed_end = excluded.committed_end",
                    {file, end}},
                   "recording the audit spool's progress", Reuse::kCached);
  return n.ok() ? absl::OkStatus() : n.status();
}

absl::Status DeleteSpoolProgress(Session& session, const std::string& file) {
  auto n = Execute(session,
                   {"DELETE FROM audit_spool_progress WHERE spool_file = ?",
                    {file}},
                   "forgetting a removed audit spool file");
  return n.ok() ? absl::OkStatus() : n.status();
}

}  // namespace crm::store
