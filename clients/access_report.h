// The access-review reports of `crmctl access matrix` and `crmctl access
// report`, rendered from AccessReviewService's answers
// (crm/v1/access_review_service.proto). Pure formatting: every number in
// them is the server's.
//
//   - The access matrix as CSV (RFC 4180): a header row, then one row per
//     user. Columns: user, username, profile, role, active; per object
//     "{object} permissions" (the effective object permissions, e.g.
//     "read create edit"), "{object} read scope" and "{object} edit scope"
//     ("all", "all-restricted", "granted", "none"), "{object} read grants"
//     (for a granted scope: "owners=3 share_keys=4 criteria_rules=1", and
//     "restriction_rules=N" whenever restrictions narrow it); per sensitive
//     field "{object}.{field}" ("read edit", "read" or "none"). A cell that
//     a spreadsheet would run as a formula (starting with =, +, -, @, tab or
//     carriage return) is prefixed with a single quote.
//
//   - The access-review report as one self-contained HTML page (inline
//     style, no script, no external resource): totals, privileged users and
//     the grants behind each privilege, users per profile, dormant users,
//     recent policy changes with their field diffs. Every value from the
//     server is HTML-escaped. Numbers carry stable ids / data attributes
//     (id="total-users", data-profile=..., ...) so that a test can read the
//     rendered page back and compare it with the API.
//
// Thread-safety: stateless functions.
#ifndef CRM_CLIENTS_ACCESS_REPORT_H_
#define CRM_CLIENTS_ACCESS_REPORT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "crm/v1/access_review_service.pb.h"

namespace crm::client {

// One CSV field: quoted when it holds a comma, quote, CR or LF (quotes
// doubled), and prefixed with ' when a spreadsheet would read a formula.
std::string CsvField(absl::string_view value);
// The cells as CsvFields separated by commas, with the line ending (CRLF).
std::string CsvLine(const std::vector<std::string>& cells);

// The header row of the matrix, from the first row's objects and sensitive
// fields (every row has the same columns), with the line ending.
std::string AccessMatrixCsvHeader(const crm::v1::AccessMatrixRow& first);
// One row, with the line ending.
std::string AccessMatrixCsvRow(const crm::v1::AccessMatrixRow& row);

// "all", "all-restricted", "granted", "none".
std::string ScopeName(crm::v1::RecordScope scope);

// Text with &, <, >, " and ' replaced by entities.
std::string HtmlEscape(absl::string_view text);

// The whole report page.
std::string AccessReviewHtml(const crm::v1::AccessReviewReport& report);

}  // namespace crm::client

#endif  // CRM_CLIENTS_ACCESS_REPORT_H_
