// Erasure receipts (crm/v1/privacy_service.proto ErasureReceipt): the
// canonical statement a receipt's signature covers, and its offline
// verification (crmctl privacy receipt verify), with no I/O.
//
// Statement: one line of JSON, keys in this order, no spaces:
//   {"name":...,"subject":...,"eraseTime":<Unix microseconds>,
//    "records":[{"record":...,"action":"DELETED"|"ANONYMIZED",
//                "fields":[...],"sharesRemoved":n,"historyScrubbed":n},...]}
// Strings are JSON-escaped (audit::JsonString). It holds names and counts
// only, never a value of the person.
//
// Thread-safety: pure functions.
#ifndef CRM_AUDIT_ERASURE_RECEIPT_H_
#define CRM_AUDIT_ERASURE_RECEIPT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "crm/v1/privacy_service.pb.h"

namespace crm::audit {

// The statement of `receipt` from its fields (name, subject, erase_time,
// records); statement, signature and key fields are not read.
std::string ErasureReceiptStatement(const crm::v1::ErasureReceipt& receipt);

// OK if: the receipt's statement is the one its fields give (nothing shown
// differs from what was signed), its public key parses as Ed25519, its
// key_id is that key's, the signature verifies, and, when `pinned_pem` is
// not empty, the key is that one. Otherwise FAILED_PRECONDITION (or
// INVALID_ARGUMENT for an unreadable key) saying which check failed.
absl::Status VerifyErasureReceipt(const crm::v1::ErasureReceipt& receipt,
                                  absl::string_view pinned_pem);

}  // namespace crm::audit

#endif  // CRM_AUDIT_ERASURE_RECEIPT_H_
