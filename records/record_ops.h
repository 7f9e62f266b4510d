// The one generic record lifecycle: Get/List/Create/Update/Delete of any
// object type, without transport. server/record_handler.h adapts it to gRPC
// (authentication, limits, the Evaluator for the caller, status mapping,
// the log line); tests and benchmarks call it directly.
//
// Requests and responses are the messages of crm_service.proto (GetXRequest,
// ListXRequest, CreateXRequest, UpdateXRequest, DeleteXRequest; X and
// ListXResponse), handled through protobuf reflection by field name/number,
// so the same code (and the same enforcement) serves every object type;
// `schema` names the type.
//
// Each function runs in order and returns at the first refusal:
//   validate input -> Evaluator::CheckObject -> store (in a transaction for
//   writes) -> Evaluator::CheckRecord (record_access.h) -> field
//   permissions (mask on read, refuse on write) -> response.
// Nothing reaches storage before the object permission check, and a record
// `eval` may not see is NOT_FOUND exactly like a missing one.
//
// Stamping: Create sets id, version 1, create_time = update_time = now
// (deps.clock), owner = the principal (users/{id} or services/{name}) and
// source = services/{calling service}, overriding whatever the request held
// in output-only fields. Update and TransferRecord (sharing.h) set
// update_time and source again.
//
// Etags (Update, Delete): a given etag must be the record's current version,
// else ABORTED and nothing is written. Without one, a write that loses a race
// with another writer (the version changed between reading and the
// conditional write) is retried from the read, with the checks redone, up to
// 24 times with jittered back-off; with one, the lost race is ABORTED.
//
// Idempotent creates: a Create with request_id is remembered per (service,
// user, collection, request_id) with a hash of the creatable non-default
// fields: a retry with the same body answers the record it created (as Get
// would answer now), a different body is ALREADY_EXISTS.
//
// Thread-safety: stateless; concurrent calls are safe when the Deps' objects
// are (they are: see store/database.h, query/page_token.h, auth/clock.h).
#ifndef CRM_RECORDS_RECORD_OPS_H_
#define CRM_RECORDS_RECORD_OPS_H_

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "records/deps.h"

namespace crm::records {

// `grant`, when not null, receives the grant that allowed the read
// (policy::Decision::rule from the explaining check; costs a little more,
// so only the audit of reads asks for it).
absl::Status Get(const Deps& deps, const policy::Evaluator& eval,
                 const model::ObjectSchema& schema,
                 const google::protobuf::Message& request,
                 google::protobuf::Message* response,
                 std::string* grant = nullptr);

// page_size 0 means 50, at most 1000. Record access is applied in SQL
// (list_plan.h); page tokens are signed and bound to the query.
absl::Status List(const Deps& deps, const policy::Evaluator& eval,
                  const model::ObjectSchema& schema,
                  const google::protobuf::Message& request,
                  google::protobuf::Message* response);

absl::Status Create(const Deps& deps, const policy::Evaluator& eval,
                    const model::ObjectSchema& schema,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response);

absl::Status Update(const Deps& deps, const policy::Evaluator& eval,
                    const model::ObjectSchema& schema,
                    const google::protobuf::Message& request,
                    google::protobuf::Message* response);

// Deletes the record and its manual shares in one transaction.
absl::Status Delete(const Deps& deps, const policy::Evaluator& eval,
                    const model::ObjectSchema& schema,
                    const google::protobuf::Message& request);

}  // namespace crm::records

#endif  // CRM_RECORDS_RECORD_OPS_H_
