// The data inventory, "what we hold and why" (crm/v1/
// data_inventory_service.proto has the contract and the meaning of every
// field and flag): per object, each field with its purposes, sources,
// personal/sensitive markers, protection at rest, retention and erasure.
//
// Pure: computed from the compiled policy snapshot (data sources, service
// scopes, purposes), the schemas the snapshot was compiled against, and
// the server's erasure and retention rules, as the server enforces them.
// No I/O, no database, no clock (the caller passes `now`); reads no record.
// server/data_inventory_service.cc adapts it to gRPC, behind the system
// permission PRIVACY_OPERATIONS checked by the pipeline.
//
// Thread-safety: a stateless function over immutable inputs.
#ifndef CRM_RECORDS_DATA_INVENTORY_H_
#define CRM_RECORDS_DATA_INVENTORY_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "crm/v1/data_inventory_service.pb.h"
#include "crm/v1/privacy_service.pb.h"
#include "policy/snapshot.h"
#include "records/privacy.h"

namespace crm::records {

// Fills *out (cleared first). INVALID_ARGUMENT naming it for an object of
// request.objects that the snapshot does not know. `erasure` and
// `retention` are assumed valid (ValidateErasureRules,
// ValidateRetentionRules: the server checks them at start-up).
absl::Status BuildDataInventory(const policy::PolicySnapshot& snapshot,
                                const crm::v1::ErasureRules& erasure,
                                const RetentionRules& retention,
                                const crm::v1::GetDataInventoryRequest& request,
                                absl::Time now, crm::v1::DataInventory* out);

}  // namespace crm::records

#endif  // CRM_RECORDS_DATA_INVENTORY_H_
