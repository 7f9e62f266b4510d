// Manual shares and ownership transfer of single records of any collection
// (crm/v1/sharing_service.proto), without transport: server/
// sharing_service.h adapts these to gRPC. Generic over
// model::SchemaRegistry; the record is loaded and decided on by
// record_access.h (hidden is NOT_FOUND, visible but refused is
// PERMISSION_DENIED), shares are stored by store::PolicyStore.
//
// Every function checks the object permission (share, or transfer) before
// touching storage, and the record access in the write's transaction.
// TransferRecord honours an etag like Update (record_ops.h) but never
// retries: a lost race is ABORTED. It stamps owner, update_time and source.
//
// Thread-safety: stateless; see record_ops.h.
#ifndef CRM_RECORDS_SHARING_H_
#define CRM_RECORDS_SHARING_H_

#include "absl/status/status.h"
#include "crm/v1/sharing_service.pb.h"
#include "policy/evaluator.h"
#include "records/deps.h"

namespace crm::records {

// Shares the record with the grantee at the given access; a grantee that
// already has a share gets its access changed (same share name).
absl::Status ShareRecord(const Deps& deps, const policy::Evaluator& eval,
                         const crm::v1::ShareRecordRequest& req,
                         crm::v1::RecordShare* response);

// NOT_FOUND if the share does not exist (on a visible record).
absl::Status UnshareRecord(const Deps& deps, const policy::Evaluator& eval,
                           const crm::v1::UnshareRecordRequest& req);

// page_size 0 means 100, at most 1000.
absl::Status ListRecordShares(const Deps& deps, const policy::Evaluator& eval,
                              const crm::v1::ListRecordSharesRequest& req,
                              crm::v1::ListRecordSharesResponse* response);

absl::Status TransferRecord(const Deps& deps, const policy::Evaluator& eval,
                            const crm::v1::TransferRecordRequest& req,
                            crm::v1::TransferRecordResponse* response);

}  // namespace crm::records

#endif  // CRM_RECORDS_SHARING_H_
