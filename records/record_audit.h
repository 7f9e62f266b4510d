// The audit events of record writes (crm/v1/audit_service.proto): which
// fields changed, with old and new values only for tracked fields that are
// not sensitive; appended in the write's transaction.
#ifndef CRM_RECORDS_RECORD_AUDIT_H_
#define CRM_RECORDS_RECORD_AUDIT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crm/v1/audit_service.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "records/deps.h"

namespace crm::records {

// The event of a create (before null), update, or delete (after null) of a
// record, decided by `grant` (policy::Decision::rule). The stamped fields
// create_time, update_time and source are not listed as changes.
crm::v1::AuditEvent RecordWriteEvent(const Deps& deps,
                                     const model::ObjectSchema& schema,
                                     absl::string_view action,
                                     const std::string& id,
                                     const model::Record* before,
                                     const model::Record* after,
                                     const std::string& grant);

// Appends `event` in the caller's transaction; OK when deps.audit is null.
absl::Status AppendEvent(const Deps& deps, store::Session& session,
                         crm::v1::AuditEvent event);

}  // namespace crm::records

#endif  // CRM_RECORDS_RECORD_AUDIT_H_
