// The one generic record path: reads and writes records of any resource type
// (model::ObjectSchema) in the table named by its collection, with the
// column mapping of model/object_schema.h. There is no per-resource code.
//
// Every operation exists twice:
//   - taking a Session& (from Database::InTransaction or WithSession), so the
//     server can read, check and write in one transaction, e.g.
//       db.InTransaction([&](store::Session& s) {
//         auto rec = records.Get(s, schema, id);  ... check ...
//         auto ok = records.UpdateIfVersion(s, schema, id, rec->version, ...);
//       });
//   - standalone, leasing a connection for one autocommit statement.
//
// Every value is a bound parameter; identifiers are schema column names,
// quoted with model::QuoteIdentifier. Statuses: see store/statement.h
// (UNAVAILABLE, ABORTED for transient conflicts, INTERNAL, with messages
// that never contain values), plus the ones listed per method.
//
// Point reads and writes (Get, Exists, Insert, DeleteIfVersion) use texts
// built once per schema and keep their statements prepared on each pooled
// connection (store/statement.h, Reuse::kCached).
//
// Sensitive fields (FieldSchema::sensitive) are encrypted on every write and
// decrypted on every read, with the keyring of SetEncryption; the formats
// and the rules for empty and legacy plaintext values are in
// store/field_encryption.h. A stored value that does not decrypt makes the
// read fail with INTERNAL "internal error while reading ... (error id E)",
// logged (id, collection, field, record id, the crypto error; never the
// value). Without SetEncryption a non-empty sensitive value can be neither
// written nor read (FAILED_PRECONDITION): never stored in the clear. A
// blind-indexed field's index column is written with it (Insert, and
// UpdateIfVersion when the field changes); it is never read back.
//
// Thread-safety: RecordStore is thread-safe (the per-schema texts are built
// under a mutex, once); share it freely. Schemas passed to it must outlive
// it (the SchemaRegistry's do). Sessions follow database.h's rules.
#ifndef CRM_STORE_RECORD_STORE_H_
#define CRM_STORE_RECORD_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"
#include "store/database.h"
#include "store/field_encryption.h"

namespace crm::store {

// A page of records.
//
// Ordering contract (shared with the query module's keyset predicate):
//   ORDER BY <order[0]>, ..., <order[n-1]>, "id" <direction of order[n-1]>
// i.e. the id tie-break always follows the direction of the LAST order term
// (ascending when `order` is empty). If the last term is "id" itself no
// tie-break is added. Order columns must be "id", "version" or a stored
// field of the schema.
struct ListQuery {
  model::SqlFragment where;  // empty: every record
  std::vector<model::OrderTerm> order;
  int limit = 0;  // must be > 0

  // Same rows, another plan: select the rows matching `fetch->where` first
  // (a MATERIALIZED common table expression, which the database must plan
  // on its own), at most `max_rows` of them, and sort only those, so the
  // database cannot walk the order's index and drop the rows the WHERE
  // rejects. For a principal who sees a small part of a big table
  // (records/list_plan.h chooses). If `max_rows` rows match, the estimate
  // behind the choice was wrong: the ordinary form with `where` runs
  // instead, so the fetch never costs more than `max_rows` rows.
  struct FetchThenSort {
    // Must select exactly the rows `where` selects (written so the
    // database can fetch them without the sort index).
    model::SqlFragment where;
    int64_t max_rows = 0;  // must be > 0
  };
  std::optional<FetchThenSort> fetch;
};

// What the database's statistics say about an object's table, for choosing
// the form of a List (never its meaning). Negative: unknown.
struct TableEstimate {
  double rows = -1;             // PostgreSQL: pg_class.reltuples
  double distinct_owners = -1;  // pg_stats.n_distinct of "owner"
  bool known() const { return rows > 0 && distinct_owners > 0; }
};

// Idempotent creates (AIP-155; the API contract is in
// proto/crm/v1/crm_service.proto, "Idempotent creates"). A create that
// carries a client-chosen request_id is remembered in create_requests, keyed
// by (service, user_id, object, request_id), for kCreateRequestRetention.
struct CreateRequestKey {
  std::string service;     // the calling principal's mTLS service
  std::string user_id;     // its session's user; "" for the service itself
  std::string object;      // the collection, e.g. "accounts"
  std::string request_id;  // the client's id (validated by the caller)
};

// The create a request id names.
struct CreateRequestRow {
  std::string request_hash;  // the caller's digest of the request body
  std::string record_id;     // the record that create made
  int64_t create_time = 0;   // Unix microseconds
};

// What ClaimCreateRequest found.
struct CreateRequestClaim {
  // True: the id was free (or expired) and is now this transaction's, bound
  // to the record id given; insert that record in the same transaction.
  // False: a live create owns it (`existing`); insert nothing.
  bool claimed = false;
  CreateRequestRow existing;
};

// A record and the version a conditional write of it expects.
struct RecordVersion {
  std::string id;
  int64_t version = 0;
};

class RecordStore {
 public:
  // How long a request id is remembered after the create that used it.
  static constexpr absl::Duration kCreateRequestRetention = absl::Hours(24);
  // PruneCreateRequestsIfDue runs at most once per this interval.
  static constexpr absl::Duration kCreateRequestPruneInterval =
      absl::Minutes(1);

  // `db` is not owned and must outlive the store.
  explicit RecordStore(Database* db);
  ~RecordStore();

  // The keyring for sensitive fields (see the file comment). Call once,
  // before the store is shared between threads (the server: at start-up,
  // before the first call); later calls are ignored. The keyring inside may
  // change at any time (FieldEncryption::SetKeyring).
  void SetEncryption(std::shared_ptr<FieldEncryption> encryption);
  // Null until SetEncryption.
  FieldEncryption* encryption() const {
    return encryption_.load(std::memory_order_acquire);
  }

  // The record with `id`, or nullopt.
  absl::StatusOr<std::optional<model::Record>> Get(
      Session& session, const model::ObjectSchema& schema,
      const std::string& id);

  // The records among `ids` that exist, in the order of `ids` (an id named
  // twice comes once); one statement per chunk of ids (ForEachChunk,
  // store/statement.h).
  absl::StatusOr<std::vector<model::Record>> GetAll(
      Session& session, const model::ObjectSchema& schema,
      const std::vector<std::string>& ids);

  // Whether a record with `id` exists (for reference checks).
  absl::StatusOr<bool> Exists(Session& session,
                              const model::ObjectSchema& schema,
                              const std::string& id);

  // Inserts a new record. record.version must be 1 and record.values aligned
  // with schema.fields() with the mapped types (INVALID_ARGUMENT otherwise).
  // A record with the same id: ALREADY_EXISTS.
  absl::Status Insert(Session& session, const model::ObjectSchema& schema,
                      const model::Record& record);

  // UPDATE t SET <named columns> = new_values.values[i], version = version+1
  // WHERE id = ? AND version = ?. Only the columns in `field_indexes`
  // (indexes into schema.fields()) change. Returns false, changing nothing,
  // if no record has that id and version (stale version, or deleted).
  // INVALID_ARGUMENT for a bad index or value type.
  absl::StatusOr<bool> UpdateIfVersion(Session& session,
                                       const model::ObjectSchema& schema,
                                       const std::string& id,
                                       int64_t expected_version,
                                       const std::vector<int>& field_indexes,
                                       const model::Record& new_values);

  // UpdateIfVersion of each of `records` with the same values (those of
  // `field_indexes` in `new_values`), one statement per chunk of records
  // (a sensitive field's non-empty value is encrypted per record: then one
  // statement per record). Returns how many matched their id and version
  // and were updated; the others are left as they are.
  absl::StatusOr<int64_t> UpdateAllIfVersion(
      Session& session, const model::ObjectSchema& schema,
      const std::vector<RecordVersion>& records,
      const std::vector<int>& field_indexes, const model::Record& new_values);

  // DELETE ... WHERE id = ? AND version = ?; false if nothing matched.
  absl::StatusOr<bool> DeleteIfVersion(Session& session,
                                       const model::ObjectSchema& schema,
                                       const std::string& id,
                                       int64_t expected_version);

  // DeleteIfVersion of each of `records`, one statement per chunk; returns
  // how many matched and were deleted.
  absl::StatusOr<int64_t> DeleteAllIfVersion(
      Session& session, const model::ObjectSchema& schema,
      const std::vector<RecordVersion>& records);

  // SELECT id, version, <columns> FROM t WHERE <where> ORDER BY ... LIMIT ?
  // (see ListQuery for the order). INVALID_ARGUMENT for an unknown order
  // column or limit <= 0.
  absl::StatusOr<std::vector<model::Record>> List(
      Session& session, const model::ObjectSchema& schema,
      const ListQuery& query);

  // PostgreSQL: the table's row count and distinct owners as of its last
  // ANALYZE (autovacuum's or an operator's), read from the catalog at most
  // once per `kEstimateMaxAge` per schema and otherwise served from memory.
  // SQLite, a table without an "owner" field, or one never analyzed:
  // unknown.
  static constexpr absl::Duration kEstimateMaxAge = absl::Seconds(60);
  absl::StatusOr<TableEstimate> Estimate(Session& session,
                                         const model::ObjectSchema& schema);

  // SELECT COUNT(*) FROM t WHERE <where>.
  absl::StatusOr<int64_t> Count(Session& session,
                                const model::ObjectSchema& schema,
                                const model::SqlFragment& where);

  // One pass over the rows matching `where`: their count, then for each of
  // `subsets` how many of them also match it (an empty fragment matches
  // every row). SELECT COUNT(*), COUNT(CASE WHEN <subset> THEN 1 END), ...
  // FROM t WHERE <where>. For the access review's counts of readable,
  // editable and deletable records (records/access_review.h).
  absl::StatusOr<std::vector<int64_t>> CountSubsets(
      Session& session, const model::ObjectSchema& schema,
      const model::SqlFragment& where,
      const std::vector<model::SqlFragment>& subsets);

  // One CountSubsets statement of CountSubsetsInSnapshot.
  struct SubsetCount {
    model::SqlFragment where;
    std::vector<model::SqlFragment> subsets;
  };
  // CountSubsets for each of `counts`, in order, all read from one snapshot
  // of the database, so that figures taken by several statements agree as
  // those of one statement would (no write committed in between is seen by
  // some and not others). A read-only transaction: PostgreSQL BEGIN
  // ISOLATION LEVEL REPEATABLE READ READ ONLY; SQLite a deferred BEGIN (in
  // WAL mode a reader's snapshot, no write lock: writers are not blocked).
  // On PostgreSQL with JIT off for the transaction (these one-off scans
  // cost more to compile than they save; bench/README.md, "Policy as
  // code"). `session` must be in autocommit mode (Database::WithSession). On an
  // error the transaction is rolled back and the error returned.
  absl::StatusOr<std::vector<std::vector<int64_t>>> CountSubsetsInSnapshot(
      Session& session, const model::ObjectSchema& schema,
      const std::vector<SubsetCount>& counts);

  // A predicate over `schema`'s table, for `where` or a subset above: the
  // record has a manual share (a row of record_shares) to one of
  // `grantees` (grantee keys, policy/grantee.h), at any access level; "1 = 0"
  // when `grantees` is empty. As the whole `where` (other predicates as
  // subsets), the count is driven from those shares through the (object,
  // grantee, record_id) index and the primary key; ANDed with a predicate
  // holding subqueries, PostgreSQL may scan the table instead
  // (records/access_review.cc).
  static model::SqlFragment SharedTo(const model::ObjectSchema& schema,
                                     const std::vector<std::string>& grantees);

  // Binds `key` to `row` (the new record's id, the request's hash, `now`)
  // unless a create within kCreateRequestRetention before row.create_time
  // already owns it; an older (expired) owner is replaced.
  //
  // Must run in the transaction that inserts the record (InTransaction),
  // before the insert: the claim commits or rolls back with the record, so
  // neither exists without the other. Concurrent claims of one key
  // serialise on the table's primary key: on PostgreSQL the second waits for
  // the first transaction, then sees its row (claimed = false) if it
  // committed, or claims the key if it rolled back; on SQLite BEGIN
  // IMMEDIATE already serialises writers.
  absl::StatusOr<CreateRequestClaim> ClaimCreateRequest(
      Session& session, const CreateRequestKey& key,
      const CreateRequestRow& row);

  // Deletes the create requests that expired before `now`
  // (create_time < now - kCreateRequestRetention); returns how many.
  absl::StatusOr<int64_t> PruneCreateRequests(Session& session, absl::Time now);

  // Standalone forms: each leases a connection and runs in autocommit mode.
  absl::StatusOr<std::optional<model::Record>> Get(
      const model::ObjectSchema& schema, const std::string& id);
  absl::StatusOr<bool> Exists(const model::ObjectSchema& schema,
                              const std::string& id);
  absl::Status Insert(const model::ObjectSchema& schema,
                      const model::Record& record);
  absl::StatusOr<bool> UpdateIfVersion(const model::ObjectSchema& schema,
                                       const std::string& id,
                                       int64_t expected_version,
                                       const std::vector<int>& field_indexes,
                                       const model::Record& new_values);
  absl::StatusOr<bool> DeleteIfVersion(const model::ObjectSchema& schema,
                                       const std::string& id,
                                       int64_t expected_version);
  absl::StatusOr<std::vector<model::Record>> List(
      const model::ObjectSchema& schema, const ListQuery& query);
  absl::StatusOr<int64_t> Count(const model::ObjectSchema& schema,
                                const model::SqlFragment& where);
  absl::StatusOr<int64_t> PruneCreateRequests(absl::Time now);

  // PruneCreateRequests(now) if this store has not pruned (or tried to)
  // within kCreateRequestPruneInterval before `now`; otherwise 0 at once.
  // Called after creates, so that the table stays about one retention of
  // request ids long without a background job. One caller at a time
  // prunes; the others return 0.
  absl::StatusOr<int64_t> PruneCreateRequestsIfDue(absl::Time now);

 private:
  struct SchemaSql;  // the fixed statement texts of one schema

  // The texts for `schema`, built on first use.
  const SchemaSql& SqlFor(const model::ObjectSchema& schema);

  // `value` of the sensitive field `field` of record `id`, as stored.
  absl::StatusOr<model::SqlValue> EncryptValue(
      const model::ObjectSchema& schema, const model::FieldSchema& field,
      const std::string& id, model::SqlValue value) const;
  // The blind index column's value for `plaintext` of `field`.
  absl::StatusOr<model::SqlValue> BlindIndexValue(
      const model::ObjectSchema& schema, const model::FieldSchema& field,
      const model::SqlValue& plaintext) const;
  // "UPDATE t SET <columns of field_indexes> = ?, ..., version = version +
  // 1 WHERE " with its parameters, the values encrypted for record `id`.
  absl::StatusOr<model::SqlFragment> UpdatePrefix(
      const model::ObjectSchema& schema, const std::string& id,
      const std::vector<int>& field_indexes,
      const model::Record& new_values) const;
  // Decrypts the sensitive fields (`sql.sensitive`) of `record` in place.
  // A value under a key the keyring lacks reloads it on `session`
  // (FieldEncryption::KeyringWithKey).
  absl::Status DecryptFields(Session& session,
                             const model::ObjectSchema& schema,
                             const SchemaSql& sql, model::Record& record) const;

  std::shared_ptr<FieldEncryption> encryption_owner_;
  std::atomic<FieldEncryption*> encryption_{nullptr};

  Database* db_;
  std::shared_mutex mu_;  // guards sql_
  std::unordered_map<const model::ObjectSchema*, std::unique_ptr<SchemaSql>>
      sql_;

  struct CachedEstimate {
    TableEstimate estimate;
    absl::Time read_at;
  };
  std::mutex estimates_mu_;  // guards estimates_
  std::unordered_map<const model::ObjectSchema*, CachedEstimate> estimates_;

  // Unix microseconds of the last PruneCreateRequestsIfDue that ran;
  // INT64_MIN: never.
  std::atomic<int64_t> last_prune_micros_{INT64_MIN};
};

}  // namespace crm::store

#endif  // CRM_STORE_RECORD_STORE_H_
