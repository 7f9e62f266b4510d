// Resource names: "{collection}/{id}" (AIP-122).
#ifndef CRM_MODEL_RESOURCE_NAME_H_
#define CRM_MODEL_RESOURCE_NAME_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace crm::model {

struct ResourceName {
  std::string collection;
  std::string id;
};

// Record ids: 1-64 characters of [A-Za-z0-9_-].
bool IsValidRecordId(absl::string_view id);

// Parses `name` and checks that its collection is one of `collections`.
// INVALID_ARGUMENT with a message naming `what` (e.g. "name" or
// "account") and the expected form otherwise.
absl::StatusOr<ResourceName> ParseResourceName(
    absl::string_view name, absl::Span<const std::string> collections,
    absl::string_view what);

}  // namespace crm::model

#endif  // CRM_MODEL_RESOURCE_NAME_H_
