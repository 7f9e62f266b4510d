// Keyset pagination: turning the last record of a page into a page token,
// and a decoded token back into the "rows after it" predicate. The token's
// integrity (HMAC) and binding to the query are checked by
// query::PageTokenCodec before KeysetFromToken is called.
#ifndef CRM_RECORDS_PAGINATION_H_
#define CRM_RECORDS_PAGINATION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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

// The page tokens of listings ordered by an integer and a text key (a
// record's shares by create time and id, a field's history by version and
// field): web-safe base64 of "{key}:{text}" of a page's last row. Not
// signed: they only position a listing whose rows the caller may see
// anyway.
std::string EncodeKeyToken(int64_t key, absl::string_view text);
// INVALID_ARGUMENT naming `method` when `token` is not one.
absl::Status DecodeKeyToken(const std::string& token, absl::string_view method,
                            int64_t* key, std::string* text);

}  // namespace crm::records

#endif  // CRM_RECORDS_PAGINATION_H_
