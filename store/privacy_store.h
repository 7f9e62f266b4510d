// Subject requests (crm.v1.PrivacyService; migration 15): finding a
// person's records, the parts of an erasure that are not record writes
// (manual shares, field history), the erasure registry and its receipts,
// and who acted on the records according to the audit trail.
//
// Identifiers are compared normalized: the caller passes
// model::BlindIndexInput-style text (lower case, spaces trimmed) and the
// columns are compared as lower(trim(column)).
//
// Writes take the caller's Session so that an erasure commits or rolls back
// as one transaction (records/privacy.h).
//
// Thread-safety: stateless; safe from any thread with its own Session.
#ifndef CRM_STORE_PRIVACY_STORE_H_
#define CRM_STORE_PRIVACY_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/object_schema.h"
#include "store/database.h"

namespace crm::store {

// A stored erasure receipt (erasure_receipts).
struct ReceiptRow {
  std::string id;
  std::string subject;   // the pseudonym
  int64_t erased_at = 0;  // Unix microseconds
  std::string receipt;   // the caller's encoding of the whole receipt
};

// Who acted on a set of records, per principal and action (audit_events).
struct AuditActorRow {
  std::string actor_user;     // "users/u1" or ""
  std::string actor_service;  // "services/web" or ""
  std::string action;
  int64_t first_time = 0;  // Unix microseconds
  int64_t last_time = 0;
  int64_t events = 0;
};

// A row of retention_runs.
struct RetentionRunRow {
  std::string id;
  int64_t started_at = 0;   // Unix microseconds
  int64_t finished_at = 0;  // 0 while running
  std::string run;          // the caller's encoding of the run
};

class PrivacyStore {
 public:
  // Retention candidates of `schema`: records with update_time < `cutoff`
  // (Unix microseconds) and, when `fields` is not empty, at least one of
  // them neither '' nor `erased_text`. Ids in id order after `after_id`
  // ("": from the first), at most `limit` (a run passes the last id of its
  // previous batch, so that no batch walks again over the records done
  // before it); Count counts them all.
  static absl::StatusOr<std::vector<std::string>> RetentionCandidates(
      Session& session, const model::ObjectSchema& schema, int64_t cutoff,
      const std::vector<std::string>& fields, absl::string_view erased_text,
      absl::string_view after_id, int limit);
  static absl::StatusOr<int64_t> CountRetentionCandidates(
      Session& session, const model::ObjectSchema& schema, int64_t cutoff,
      const std::vector<std::string>& fields, absl::string_view erased_text);

  // The retention lock, held by `session` (its connection) until released
  // or the connection ends. PostgreSQL: pg_try_advisory_lock, so at most
  // one session over every server holds it; false if another does.
  // SQLite: always true (one process per database file; the caller holds
  // its own in-process lock).
  static absl::StatusOr<bool> TryRetentionLock(Session& session);
  static absl::Status ReleaseRetentionLock(Session& session);

  // retention_runs: a new run, its final state, the newest `limit`.
  static absl::Status InsertRetentionRun(Session& session,
                                         const RetentionRunRow& row);
  static absl::Status FinishRetentionRun(Session& session,
                                         const RetentionRunRow& row);
  static absl::StatusOr<std::vector<RetentionRunRow>> ListRetentionRuns(
      Session& session, int limit);

  // Ids of `schema`'s records where lower(trim(f)) = `normalized` for one of
  // `fields` (text columns of the schema), in id order.
  static absl::StatusOr<std::vector<std::string>> FindByFields(
      Session& session, const model::ObjectSchema& schema,
      const std::vector<std::string>& fields, absl::string_view normalized);

  // Ids of `schema`'s records whose `field` is one of `values`, id order.
  static absl::StatusOr<std::vector<std::string>> FindByReference(
      Session& session, const model::ObjectSchema& schema,
      absl::string_view field, const std::vector<std::string>& values);

  // Manual shares (record_shares) of the records `record_ids` of
  // `collection`, per record id, for the records that have any: counted,
  // or removed (the counts are those removed). A few statements whatever
  // the number of ids (ForEachChunk, statement.h).
  static absl::StatusOr<std::map<std::string, int64_t>> CountShares(
      Session& session, absl::string_view collection,
      const std::vector<std::string>& record_ids);
  static absl::StatusOr<std::map<std::string, int64_t>> RemoveShares(
      Session& session, absl::string_view collection,
      const std::vector<std::string>& record_ids);

  // Field history entries holding a value of the records `record_ids`: of
  // `fields` only, or of every field when `fields` is empty. Counted per
  // record id (records with none are absent), or their values removed
  // (value '' and value_recorded 0; returns how many in all).
  static absl::StatusOr<std::map<std::string, int64_t>> CountHistoryValues(
      Session& session, absl::string_view collection,
      const std::vector<std::string>& record_ids,
      const std::vector<std::string>& fields);
  static absl::StatusOr<int64_t> ScrubHistoryValues(
      Session& session, absl::string_view collection,
      const std::vector<std::string>& record_ids,
      const std::vector<std::string>& fields);

  // The receipt id registered for `pseudonym`, if any.
  static absl::StatusOr<std::optional<std::string>> FindErasure(
      Session& session, absl::string_view pseudonym);
  // Stores `receipt` and registers each of `pseudonyms` (one already
  // registered is left as it is: its first receipt stands).
  static absl::Status StoreErasure(Session& session, const ReceiptRow& receipt,
                                   const std::vector<std::string>& pseudonyms);
  static absl::StatusOr<std::optional<ReceiptRow>> GetReceipt(
      Session& session, absl::string_view id);

  // After an erasure committed: SQLite copies the write-ahead log into the
  // database file and truncates it (PRAGMA wal_checkpoint(TRUNCATE)), so
  // that the pages holding the erased values before the erasure leave the
  // log; with secure_delete (database.cc) freed space is zeroed. Returns
  // false if readers kept the checkpoint from completing (the log is
  // truncated by a later one). PostgreSQL: nothing (a dump is logical; the
  // dead row versions are removed by (auto)vacuum); returns true.
  static absl::StatusOr<bool> CheckpointAfterErasure(Session& session);

  // Audit events whose resource is one of `resources`, grouped by actor and
  // action, oldest first.
  static absl::StatusOr<std::vector<AuditActorRow>> AuditActors(
      Session& session, const std::vector<std::string>& resources);
};

}  // namespace crm::store

#endif  // CRM_STORE_PRIVACY_STORE_H_
