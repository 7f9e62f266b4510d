// The outcome of one access check. A denial is a value, not an error: it
// carries the rule that decided, so the audit trail and "why" queries can
// show it. ToStatus turns it into the status the caller sees.
#ifndef CRM_POLICY_DECISION_H_
#define CRM_POLICY_DECISION_H_

#include <string>

#include "absl/status/status.h"

namespace crm::policy {

struct Decision {
  bool allowed = false;
  // What decided: for an allow, the grant (e.g.
  // "service-grant:billing:accounts:read"); for a denial, the missing grant
  // or the refusing rule (e.g. "no-grant:accounts:delete").
  std::string rule;
  // A sentence for people and audit entries.
  std::string reason;

  static Decision Allow(std::string rule, std::string reason = "");
  static Decision Deny(std::string rule, std::string reason);
};

// How a denial surfaces. Record-level denials must not reveal that the
// record exists, so they become NOT_FOUND with the same text and the same
// details a missing record gets (both are built by RecordNotFound);
// object-level and field-level denials are PERMISSION_DENIED with
// ErrorInfo OBJECT_PERMISSION_DENIED or FIELD_NOT_WRITABLE naming the
// refusing rule (proto/crm/v1/errors.proto).
// A source-rule denial (Evaluator::CheckSourceWrite) is PERMISSION_DENIED
// with ErrorInfo SOURCE_NOT_REGISTERED (service, object, field, rule).
// A refused SetConsent on a readable record (records/consent.h) is
// PERMISSION_DENIED with ErrorInfo CONSENT_NOT_WRITABLE (record, rule);
// `what` names the record.
enum class DenialKind { kObject, kRecord, kField, kSource, kConsent };

// OK for an allow. `what` names the thing refused for kRecord
// (e.g. "accounts/123") and is used in the NOT_FOUND message.
absl::Status ToStatus(const Decision& decision, DenialKind kind,
                      const std::string& what = "");

// The NOT_FOUND status for a record that does not exist or is hidden:
// "{resource_name} not found", ErrorInfo RECORD_NOT_FOUND {resource} and
// ResourceInfo. Nothing in it depends on whether the record exists.
absl::Status RecordNotFound(const std::string& resource_name);

}  // namespace crm::policy

#endif  // CRM_POLICY_DECISION_H_
