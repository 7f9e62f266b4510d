// What the record lifecycle (records/) needs from its host: the database,
// the record store, the page token codec and a clock. The gRPC server fills
// one from its ServerCore (server/server_core.h); tests and benchmarks fill
// one from their own database. Nothing here knows about gRPC: callers pass
// a policy::Evaluator for the caller and get an absl::Status back.
//
// Ownership: Deps holds borrowed pointers; everything they point to must
// outlive every call made with it. Copying a Deps is cheap.
#ifndef CRM_RECORDS_DEPS_H_
#define CRM_RECORDS_DEPS_H_

#include <functional>

#include "absl/status/status.h"
#include "auth/clock.h"  // the interface only (header-only, no gRPC)
#include "query/page_token.h"
#include "absl/container/flat_hash_set.h"
#include "store/audit_log.h"
#include "store/database.h"
#include "store/record_store.h"

namespace crm::records {

struct Deps {
  store::Database* database = nullptr;
  store::RecordStore* records = nullptr;
  // Signs and checks List page tokens; only List uses it.
  const query::PageTokenCodec* page_tokens = nullptr;
  // Stamps create_time/update_time and the share creation time.
  const auth::Clock* clock = nullptr;

  // The audit trail; null: writes are not audited (unit tests of records/
  // alone, benchmarks of the bare path). Otherwise every create, update,
  // delete, share, unshare and transfer appends its event in its own
  // transaction (records/record_audit.h).
  store::AuditLog* audit = nullptr;
  // "collection.field" names whose old and new values update events carry
  // (AuditConfig.tracked_fields; never a sensitive field). Null: none.
  const absl::flat_hash_set<std::string>* audit_tracked_fields = nullptr;

  // Test seam, null in production: called inside every write transaction of
  // Update and Delete after the record was read and checked and before the
  // conditional write (RecordStore::UpdateIfVersion/DeleteIfVersion), with
  // that transaction's session. A test makes "another writer" win the race
  // by changing the record there; an error it returns ends the attempt.
  std::function<absl::Status(store::Session&)> before_conditional_write;
};

}  // namespace crm::records

#endif  // CRM_RECORDS_DEPS_H_
