// Consent per person, channel and purpose (crm/v1/consent_service.proto),
// without transport. The enforcement of consent (who sees which people and
// fields) is the Evaluator's (policy.proto "Consent and purposes"); this
// file records and reads it.
//
// Access, decided by the caller's policy::Evaluator:
//   - reading (GetConsent, ListConsentHistory) exactly as Get: the object
//     permission read, then the record (missing or hidden: NOT_FOUND with
//     Get's message);
//   - SetConsent: as reading, then edit access to the record (as Update),
//     or else a data source of the caller's service that may record consent
//     of the object (Evaluator::CheckConsentSource); otherwise
//     PERMISSION_DENIED CONSENT_NOT_WRITABLE. The change, its history row
//     and its audit event ("consent.set") are one transaction.
#ifndef CRM_RECORDS_CONSENT_H_
#define CRM_RECORDS_CONSENT_H_

#include "absl/status/status.h"
#include "crm/v1/consent_service.pb.h"
#include "policy/evaluator.h"
#include "records/deps.h"

namespace crm::records {

absl::Status SetConsent(const Deps& deps, const policy::Evaluator& eval,
                        const crm::v1::SetConsentRequest& request,
                        crm::v1::Consent* response);

absl::Status GetConsent(const Deps& deps, const policy::Evaluator& eval,
                        const crm::v1::GetConsentRequest& request,
                        crm::v1::RecordConsent* response);

absl::Status ListConsentHistory(
    const Deps& deps, const policy::Evaluator& eval,
    const crm::v1::ListConsentHistoryRequest& request,
    crm::v1::ListConsentHistoryResponse* response);

}  // namespace crm::records

#endif  // CRM_RECORDS_CONSENT_H_
