// Keyset pagination: turning the last record of a page into a page token,
// and a decoded token back into the "rows after it" predicate. The token's
// integrity (HMAC) and binding to the query are checked by
// query::PageTokenCodec before KeysetFromToken is called.
#ifndef CRM_RECORDS_PAGINATION_H_
#define CRM_RECORDS_PAGINATION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crm/internal/page_token.pb.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/sql.h"

namespace crm::records {

// The token that continues after `last` in `order`.
crm::internal::PageToken TokenAfter(const model::ObjectSchema& schema,
                                    const std::vector<model::OrderTerm>& order,
                                    const model::Record& last,
                                    const std::string& query_hash);

// The predicate selecting the rows after the token's position.
// INVALID_ARGUMENT if the token does not fit `order`.
absl::StatusOr<model::SqlFragment> KeysetFromToken(
    const std::vector<model::OrderTerm>& order,
    const crm::internal::PageToken& token);

}  // namespace crm::records

#endif  // CRM_RECORDS_PAGINATION_H_
