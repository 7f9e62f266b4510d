#include "policy/decision.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/decision_note.h"
#include "base/error.h"

namespace crm::policy {
namespace {

// Rules name what they refuse (policy/evaluator.cc):
//   "no-grant:accounts:delete", "service-scope:billing:accounts:read",
//   "field-not-writable:accounts.annual_revenue",
//   "sensitive-field:contacts.ssn".
// The metadata repeats the rule and the parts a program needs. Only rules
// about the caller's own grants are repeated: a record-level refusal of a
// visible record (record_access.cc) can be decided by a sharing or
// restriction rule whose name is policy, not the caller's business.
base::ErrorMetadata ObjectMetadata(const std::string& rule) {
  std::vector<std::string> parts = absl::StrSplit(rule, ':');
  static constexpr std::string_view kShown[] = {
      "no-grant",     "service-scope", "service-access", "unknown-service",
      "unknown-user", "inactive-user", "no-policy"};
  bool shown = false;
  for (std::string_view prefix : kShown) shown = shown || parts[0] == prefix;
  if (!shown) return {};
  base::ErrorMetadata m{{"rule", rule}};
  if (parts.size() == 3 && parts[0] == "no-grant") {
    m["object"] = parts[1];
    m["operation"] = parts[2];
  } else if (parts.size() == 4 && parts[0] == "service-scope") {
    m["object"] = parts[2];
    m["operation"] = parts[3];
  }
  return m;
}

base::ErrorMetadata FieldMetadata(const std::string& rule) {
  base::ErrorMetadata m{{"rule", rule}};
  const size_t colon = rule.find(':');
  if (colon == std::string::npos) return m;
  const std::string_view what = std::string_view(rule).substr(colon + 1);
  const size_t dot = what.find('.');
  if (dot == std::string_view::npos) return m;
  m["object"] = std::string(what.substr(0, dot));
  m["field"] = std::string(what.substr(dot + 1));
  return m;
}

// "no-source:services/marketing:contacts.phone".
base::ErrorMetadata SourceMetadata(const std::string& rule) {
  base::ErrorMetadata m{{"rule", rule}};
  std::vector<std::string> parts = absl::StrSplit(rule, ':');
  if (parts.size() != 3) return m;
  m["service"] = parts[1];
  const size_t dot = parts[2].find('.');
  if (dot == std::string::npos) return m;
  m["object"] = parts[2].substr(0, dot);
  m["field"] = parts[2].substr(dot + 1);
  return m;
}

}  // namespace

Decision Decision::Allow(std::string rule, std::string reason) {
  return Decision{true, std::move(rule), std::move(reason)};
}

Decision Decision::Deny(std::string rule, std::string reason) {
  return Decision{false, std::move(rule), std::move(reason)};
}

absl::Status RecordNotFound(const std::string& resource_name) {
  absl::Status status =
      absl::NotFoundError(absl::StrCat(resource_name, " not found"));
  status = base::WithErrorInfo(std::move(status), crm::v1::RECORD_NOT_FOUND,
                               {{"resource", resource_name}});
  return base::WithResourceInfo(
      std::move(status), resource_name.substr(0, resource_name.find('/')),
      resource_name);
}

absl::Status ToStatus(const Decision& decision, DenialKind kind,
                      const std::string& what) {
  if (decision.allowed) return absl::OkStatus();
  // The decision note (base/decision_note.h) names the refusing rule for
  // the server's log and metrics; it is never sent, so a hidden record's
  // NOT_FOUND stays identical to a missing one's on the wire.
  switch (kind) {
    case DenialKind::kRecord:
      return base::WithDecisionNote(RecordNotFound(what), "record",
                                    decision.rule);
    case DenialKind::kObject:
      return base::WithDecisionNote(
          base::WithErrorInfo(absl::PermissionDeniedError(decision.reason),
                              crm::v1::OBJECT_PERMISSION_DENIED,
                              ObjectMetadata(decision.rule)),
          "object", decision.rule);
    case DenialKind::kField:
      return base::WithDecisionNote(
          base::WithErrorInfo(absl::PermissionDeniedError(decision.reason),
                              crm::v1::FIELD_NOT_WRITABLE,
                              FieldMetadata(decision.rule)),
          "field", decision.rule);
    case DenialKind::kSource:
      return base::WithDecisionNote(
          base::WithErrorInfo(absl::PermissionDeniedError(decision.reason),
                              crm::v1::SOURCE_NOT_REGISTERED,
                              SourceMetadata(decision.rule)),
          "source", decision.rule);
    case DenialKind::kConsent:
      return base::WithDecisionNote(
          base::WithErrorInfo(absl::PermissionDeniedError(decision.reason),
                              crm::v1::CONSENT_NOT_WRITABLE,
                              {{"record", what}, {"rule", decision.rule}}),
          "consent", decision.rule);
  }
  return absl::PermissionDeniedError(decision.reason);
}

}  // namespace crm::policy
