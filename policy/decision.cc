#include "policy/decision.h"

#include "absl/strings/str_cat.h"

namespace crm::policy {

Decision Decision::Allow(std::string rule, std::string reason) {
  return Decision{true, std::move(rule), std::move(reason)};
}

Decision Decision::Deny(std::string rule, std::string reason) {
  return Decision{false, std::move(rule), std::move(reason)};
}

absl::Status RecordNotFound(const std::string& resource_name) {
  return absl::NotFoundError(absl::StrCat(resource_name, " not found"));
}

absl::Status ToStatus(const Decision& decision, DenialKind kind,
                      const std::string& what) {
  if (decision.allowed) return absl::OkStatus();
  switch (kind) {
    case DenialKind::kRecord:
      return RecordNotFound(what);
    case DenialKind::kObject:
    case DenialKind::kField:
      return absl::PermissionDeniedError(decision.reason);
  }
  return absl::PermissionDeniedError(decision.reason);
}

}  // namespace crm::policy
