#include "store/audit_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/call_scope.h"
#include "audit/chain.h"
#include "google/protobuf/util/json_util.h"
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

std::string Json(const AuditEvent& part) {
  if (part.changes_size() == 0 && part.attributes_size() == 0) return "";
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(part, &json, options).ok()) {
    return "";
  }
  return json;
}

// A stored JSON text that does not parse leaves the part empty: the
// event's hash then fails to verify, which is what an edit should do.
void MergeJson(const std::string& json, AuditEvent* event) {
  if (json.empty()) return;
  AuditEvent part;
  if (google::protobuf::util::JsonStringToMessage(json, &part).ok()) {
    event->MergeFrom(part);
  }
}

AuditEvent EventFromRow(const Row& row) {
  AuditEvent e;
  e.set_sequence(Int(row[0]));
  *e.mutable_time() = audit::TimeFromMicros(Int(row[1]));
  e.set_request_id(Str(row[2]));
  e.set_actor_user(Str(row[3]));
  e.set_actor_service(Str(row[4]));
  e.set_action(Str(row[5]));
  e.set_resource(Str(row[6]));
  crm::v1::AuditOutcome outcome = crm::v1::AUDIT_OUTCOME_UNSPECIFIED;
  crm::v1::AuditOutcome_Parse(Str(row[7]), &outcome);
  e.set_outcome(outcome);
  e.set_reason(Str(row[8]));
  e.set_client_address(Str(row[9]));
  e.set_country(Str(row[10]));
  MergeJson(Str(row[11]), &e);
  MergeJson(Str(row[12]), &e);
  e.set_previous_hash(Str(row[13]));
  e.set_hash(Str(row[14]));
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
  for (const Row& row : *rows) out.push_back(EventFromRow(row));
  return out;
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
    AuditEvent changes;
    *changes.mutable_changes() = e.changes();
    AuditEvent attributes;
    *attributes.mutable_attributes() = e.attributes();
    model::SqlFragment insert{
        absl::StrCat("INSERT INTO audit_events (", kEventColumns,
                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        {e.sequence(), audit::TimeMicros(e.time()), e.request_id(),
         e.actor_user(), e.actor_service(), e.action(), e.resource(),
         crm::v1::AuditOutcome_Name(e.outcome()), e.reason(),
         e.client_address(), e.country(), Json(changes), Json(attributes),
         e.previous_hash(), e.hash()}};
    auto n = Execute(session, insert, "appending to the audit trail",
                     Reuse::kCached);
    if (!n.ok()) return n.status();
  }
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

absl::StatusOr<std::vector<AuditEvent>> ReadAuditEvents(Session& session,
                                                        int64_t after,
                                                        int limit) {
  return QueryEvents(
      session,
      {absl::StrCat("SELECT ", kEventColumns,
                    " FROM audit_events WHERE sequence > ? "
                    "ORDER BY sequence LIMIT ?"),
       {after, int64_t{limit}}},
      Reuse::kCached);
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

}  // namespace crm::store
