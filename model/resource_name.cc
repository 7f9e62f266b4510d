#include "model/resource_name.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/error.h"

namespace crm::model {
namespace {

// INVALID_ARGUMENT `message` ("WHAT: ..."), with BadRequest naming `what`.
absl::Status BadName(absl::string_view what, const std::string& message) {
  base::BadRequestBuilder bad;
  bad.Add(std::string(what), absl::InvalidArgumentError(message));
  return bad.Build();
}

}  // namespace

bool IsValidRecordId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<ResourceName> ParseResourceName(
    absl::string_view name, absl::Span<const std::string> collections,
    absl::string_view what) {
  auto expected = [&] {
    std::vector<std::string> forms;
    for (const auto& c : collections) forms.push_back(absl::StrCat(c, "/{id}"));
    return absl::StrJoin(forms, " or ");
  };
  size_t slash = name.find('/');
  if (slash == absl::string_view::npos) {
    return BadName(what, absl::StrCat(
        what, ": '", name.substr(0, 80), "' is not a resource name; expected ",
        expected()));
  }
  absl::string_view collection = name.substr(0, slash);
  absl::string_view id = name.substr(slash + 1);
  bool known = false;
  for (const auto& c : collections) known = known || c == collection;
  if (!known) {
    return BadName(what, 
        absl::StrCat(what, ": '", name.substr(0, 80), "' names collection '",
                     collection.substr(0, 40), "'; expected ", expected()));
  }
  if (!IsValidRecordId(id)) {
    return BadName(what, absl::StrCat(
        what, ": '", name.substr(0, 80),
        "' has an invalid id; ids are 1-64 characters of [A-Za-z0-9_-]"));
  }
  return ResourceName{std::string(collection), std::string(id)};
}

}  // namespace crm::model
