// Field provenance and history (migration 13; crm.v1.ProvenanceService):
// which data source and service wrote each field of a record, for whom,
// when and in which request.
//
// Writes take the caller's Session so that they commit or roll back with
// the record write they describe (records/record_ops.cc calls Record inside
// the record's transaction): a failed write leaves no provenance.
//
// Values: a FieldWrite's `value` is stored in field_history only when
// `value_recorded` is true; callers never set it for a sensitive field
// (its value is encrypted at rest and must not be copied in plaintext).
//
// Thread-safety: stateless; safe from any thread with its own Session.
#ifndef CRM_STORE_PROVENANCE_STORE_H_
#define CRM_STORE_PROVENANCE_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "store/database.h"

namespace crm::store {

// Who wrote a field, as recorded.
struct FieldWriter {
  std::string source;      // "dataSources/web-forms", "interactions", ...
  std::string service;     // "services/web-frontend"
  std::string actor;       // "users/u1" or "services/billing"
  std::string request_id;  // "" if none
  int64_t written_at = 0;  // Unix microseconds
};

// One field of one write.
struct FieldWrite {
  std::string field;
  std::string source;  // the data source it was written as (per field)
  std::string value;  // as text; kept only if value_recorded
  bool value_recorded = false;
};

// A row of field_provenance.
struct ProvenanceRow {
  std::string field;
  FieldWriter writer;
  int64_t version = 0;  // the record version that write produced
};

// A row of field_history.
struct HistoryRow {
  int64_t version = 0;
  std::string field;
  FieldWriter writer;
  std::string operation;  // "create" or "update"
  std::string value;
  bool value_recorded = false;
};

class ProvenanceStore {
 public:
  // Records that `writer` wrote `fields` of collection/record_id in the
  // write that produced `version` ("create" or "update"), each field as its
  // own FieldWrite::source (writer.source is not used): upserts each
  // field's provenance and appends its history. INTERNAL or UNAVAILABLE as
  // Execute; ALREADY_EXISTS cannot happen for a version written once.
  static absl::Status Record(Session& session, absl::string_view collection,
                             absl::string_view record_id, int64_t version,
                             absl::string_view operation,
                             const FieldWriter& writer,
                             const std::vector<FieldWrite>& fields);

  // Removes a record's provenance and history (with the record).
  static absl::Status Forget(Session& session, absl::string_view collection,
                             absl::string_view record_id);
  // The same for many records, in a few statements (ForEachChunk,
  // statement.h).
  static absl::Status ForgetAll(Session& session, absl::string_view collection,
                                const std::vector<std::string>& record_ids);

  // The record's provenance, in field name order.
  static absl::StatusOr<std::vector<ProvenanceRow>> Provenance(
      Session& session, absl::string_view collection,
      absl::string_view record_id);

  // Provenance of many records in one statement per chunk: record id ->
  // its rows in field name order (records with none are absent).
  static absl::StatusOr<std::map<std::string, std::vector<ProvenanceRow>>>
  ProvenanceOf(Session& session, absl::string_view collection,
               const std::vector<std::string>& record_ids);

  // History of many records, of the named `fields` only (none: no row), in
  // one statement per chunk: record id -> its first `limit_per_record`
  // rows in (version, field) order (records with none are absent).
  static absl::StatusOr<std::map<std::string, std::vector<HistoryRow>>>
  HistoryOf(Session& session, absl::string_view collection,
            const std::vector<std::string>& record_ids,
            const std::vector<std::string>& fields, int limit_per_record);

  // History rows of the named `fields` only (none: no row), after
  // (after_version, after_field) in (version, field) order, at most
  // `limit`. The caller passes the fields its principal may read, so that
  // the rows are selected in SQL, never fetched and dropped.
  static absl::StatusOr<std::vector<HistoryRow>> History(
      Session& session, absl::string_view collection,
      absl::string_view record_id, const std::vector<std::string>& fields,
      int64_t after_version, absl::string_view after_field, int limit);
};

}  // namespace crm::store

#endif  // CRM_STORE_PROVENANCE_STORE_H_
