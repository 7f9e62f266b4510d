// The access review (proto/crm/v1/access_review_service.proto) without
// transport: it loads what the explanations need (the record and its facts,
// through records/record_access.h like every single-record path; counts
// through store::RecordStore::Count with List's record filter) and asks the
// Evaluator - bound to the reviewed user acting through a service, on the
// call's policy snapshot - for every verdict (policy/explain.h names the
// grants). Nothing here decides access.
//
// The caller (server/access_review_service.cc) has checked VIEW_AUDIT and
// validated the request; names passed here are well formed.
//
// Thread-safety: stateless functions; the database follows database.h.
#ifndef CRM_RECORDS_ACCESS_REVIEW_H_
#define CRM_RECORDS_ACCESS_REVIEW_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crm/v1/access_review_service.pb.h"
#include "model/object_schema.h"
#include "policy/evaluator.h"
#include "policy/explain.h"
#include "records/deps.h"

namespace crm::records {

// ExplainAccess on record `id` of `schema` (or on the object when `id` is
// empty). NOT_FOUND "{collection}/{id} not found" if there is no such
// record (the reviewer holds VIEW_AUDIT: existence is not hidden from them).
// `field` and `login` as policy::ExplainInput.
absl::StatusOr<crm::v1::AccessExplanation> ExplainAccess(
    const Deps& deps, const policy::Evaluator& subject,
    const model::ObjectSchema& schema, const std::string& id,
    policy::Operation op, const model::FieldSchema* field,
    const absl::Status* login);

// Every user of `snapshot` (in id order, after `after_user`) who may read
// record `id` acting through `service`, up to `page_size` of them; `*more`
// tells whether others follow. Decided by one Evaluator per user on the
// facts loaded once. NOT_FOUND for a missing record.
absl::Status ListRecordAccessors(
    const Deps& deps, std::shared_ptr<const policy::PolicySnapshot> snapshot,
    const std::string& service, const model::ObjectSchema& schema,
    const std::string& id, const std::string& after_user, int page_size,
    crm::v1::ListRecordAccessorsResponse* out, bool* more);

// Per object in `schemas`: object permissions, and the records the subject
// may read, edit and delete counted in SQL with Evaluator::RecordFilter (the
// predicate List uses for each operation), plus the grants
// (policy::GrantSummary). Per object, one pass over the readable records,
// and where the edit or delete filter differs from the read filter only in
// manual shares, a second statement over the records shared to the
// subject instead of evaluating that filter on every readable record
// (access_review.cc, CountRecords); both read one snapshot
// (store::RecordStore::CountSubsetsInSnapshot).
absl::Status SummarizeUserAccess(
    const Deps& deps, const policy::Evaluator& subject,
    const std::vector<const model::ObjectSchema*>& schemas,
    crm::v1::UserAccessSummary* out);

}  // namespace crm::records

#endif  // CRM_RECORDS_ACCESS_REVIEW_H_
