// Reading field provenance and history (crm/v1/provenance_service.proto),
// without transport. Recording it is part of Create and Update
// (records/record_ops.cc, in the record's transaction).
//
// Access, decided by the caller's policy::Evaluator exactly as Get: the
// object permission read, then the record (missing or hidden: NOT_FOUND
// with Get's message), then the fields (an unreadable field is left out,
// name and all; asking for its history is "unknown field", as for a field
// that does not exist).
#ifndef CRM_RECORDS_PROVENANCE_H_
#define CRM_RECORDS_PROVENANCE_H_

#include "absl/status/status.h"
#include "crm/v1/provenance_service.pb.h"
#include "policy/evaluator.h"
#include "records/deps.h"

namespace crm::records {

absl::Status GetRecordProvenance(
    const Deps& deps, const policy::Evaluator& eval,
    const crm::v1::GetRecordProvenanceRequest& request,
    crm::v1::RecordProvenance* response);

absl::Status ListFieldHistory(const Deps& deps, const policy::Evaluator& eval,
                              const crm::v1::ListFieldHistoryRequest& request,
                              crm::v1::ListFieldHistoryResponse* response);

}  // namespace crm::records

#endif  // CRM_RECORDS_PROVENANCE_H_
