// Storage of the audit trail (migration 7; crm/v1/audit_service.proto):
// the append-only chain of events, its head, its signed checkpoints and the
// anchor a pruned chain starts from. SQL only; the chain's rules are
// audit/chain.h's and the verifier is audit/verifier.h.
//
// Ordering (the contract several servers on one PostgreSQL rely on):
// AppendAuditEvents locks the one audit_head row (PostgreSQL: SELECT ...
// FOR UPDATE; SQLite: the write lock BEGIN IMMEDIATE already holds), takes
// the next sequence numbers and the previous hash from it, inserts the
// events and moves the head, all in the caller's transaction. Appenders are
// therefore serialised from their first append until they commit, sequence
// order is commit order, and a transaction that rolls back (a crash, a
// failed write) leaves no event and no gap. Append late in a transaction:
// the head stays locked until it commits.
//
// changes and attributes are stored as proto3 JSON text of an AuditEvent
// holding only that field.
//
// Thread-safety: stateless functions; Sessions follow database.h's rules.
// Failures are the Database's (UNAVAILABLE, ABORTED, INTERNAL).
#ifndef CRM_STORE_AUDIT_STORE_H_
#define CRM_STORE_AUDIT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "audit/signing.h"
#include "crm/v1/audit_service.pb.h"
#include "model/sql.h"
#include "store/database.h"

namespace crm::store {

// Appends `events` (time and action set by the caller; actor, request and
// client fields filled from audit::CurrentCall() where empty) to the chain
// inside the caller's transaction, setting their sequence, previous_hash
// and hash. Must run inside Database::InTransaction.
absl::Status AppendAuditEvents(Session& session,
                               std::vector<crm::v1::AuditEvent>* events);

struct AuditHead {
  int64_t sequence = 0;  // 0: no event yet
  std::string hash;
  // Set when retention removed events up to anchor->sequence.
  std::optional<crm::v1::AuditCheckpoint> anchor;
};
absl::StatusOr<AuditHead> ReadAuditHead(Session& session);

// Events with sequence > after, ascending, at most `limit`.
absl::StatusOr<std::vector<crm::v1::AuditEvent>> ReadAuditEvents(
    Session& session, int64_t after, int limit);
// The same events into *events, replacing what it held (on failure it is
// left empty or holding some of them). The messages already in *events are
// cleared and refilled rather than freed and allocated again, so a reader
// of a million events in chunks (VerifyStoredAudit) that passes the same
// vector each time allocates almost nothing after its first chunks.
absl::Status ReadAuditEventsInto(Session& session, int64_t after, int limit,
                                 std::vector<crm::v1::AuditEvent>* events);

// Events matching `where` (a predicate on audit_events' columns, e.g. from
// query::ToSql over the crm.internal.AuditEventColumns schema; may be
// empty) with sequence < before (0: no bound), newest first, at most
// `limit`; sequence > after when after > 0 (for follow).
absl::StatusOr<std::vector<crm::v1::AuditEvent>> ListAuditEvents(
    Session& session, const model::SqlFragment& where, int64_t before,
    int64_t after, int limit, bool newest_first);

// For each actor_user with an event of `action` and `outcome` at or after
// `since_micros`: the time of its newest such event (the access review's
// last successful login per user).
absl::StatusOr<absl::flat_hash_map<std::string, int64_t>>
LatestEventTimeByActor(Session& session, const std::string& action,
                       crm::v1::AuditOutcome outcome, int64_t since_micros);

// The time of the oldest event kept (retention prunes older ones); 0 when
// the trail is empty.
absl::StatusOr<int64_t> OldestAuditEventTime(Session& session);

// Checkpoints with after < sequence <= upto, ascending.
absl::StatusOr<std::vector<crm::v1::AuditCheckpoint>> ReadAuditCheckpoints(
    Session& session, int64_t after, int64_t upto);
// The newest checkpoint, if any.
absl::StatusOr<std::optional<crm::v1::AuditCheckpoint>> LatestAuditCheckpoint(
    Session& session);
// Stores a signed checkpoint (a second one at the same sequence is ignored).
absl::Status InsertAuditCheckpoint(Session& session,
                                   const crm::v1::AuditCheckpoint& checkpoint);

// Retention: removes every event with sequence <= anchor.sequence and the
// checkpoints before it, and records `anchor` (a stored checkpoint) as the
// chain's new start. Returns the number of events removed. Must run inside
// a transaction.
absl::StatusOr<int64_t> PruneAuditEvents(
    Session& session, const crm::v1::AuditCheckpoint& anchor);

// The newest checkpoint whose event is older than `time_micros` (what
// retention may prune through), if any.
absl::StatusOr<std::optional<crm::v1::AuditCheckpoint>> PrunableCheckpoint(
    Session& session, int64_t time_micros);

// Verifies the whole stored chain with audit::ChainVerifier under `keys`
// (from the anchor if retention pruned a prefix), reading `chunk` events
// per statement, and checks that the table reaches the head row (events
// removed from the end while the head was left show as truncation). What
// VerifyAuditLog answers, and what the benchmarks and tests measure.
// Failures are the database's; a chain that does not verify is an OK
// status with ok = false in the result.
absl::StatusOr<crm::v1::AuditVerification> VerifyStoredAudit(
    Database& db, const std::vector<audit::PublicKey>& keys,
    int chunk = 2000);

// The audit spool's progress (migration 14; store/audit_spool.h): the end
// offset of the last event of spool file `file` committed to the chain (0
// when none is). SetSpoolProgress moves it in the caller's transaction (the
// one that appends the events); DeleteSpoolProgress forgets a removed file.
absl::StatusOr<int64_t> SpoolProgress(Session& session,
                                      const std::string& file);
absl::Status SetSpoolProgress(Session& session, const std::string& file,
                              int64_t end);
absl::Status DeleteSpoolProgress(Session& session, const std::string& file);

}  // namespace crm::store

#endif  // CRM_STORE_AUDIT_STORE_H_
