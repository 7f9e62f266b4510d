// Fuzz target: resource names and etags (model/resource_name.h,
// model/record.h ParseEtag), the identifiers clients send in Get, Update,
// Delete, references and sharing calls.
//
// Input: 1 header byte choosing the accepted collections (one resource, a
// reference field's pair, or every resource), then the text.
// Properties:
//   - ParseResourceName never crashes; a refusal is INVALID_ARGUMENT naming
//     `what`, and echoes at most a bounded part of the input (a 1 MiB name
//     must not make a 1 MiB error message).
//   - Accepted: the collection is one of those asked for, the id satisfies
//     IsValidRecordId, and "{collection}/{id}" is exactly the input.
//   - Conversely "{collection}/{id}" for an accepted id of the input parses.
//   - ParseEtag accepts exactly what EtagOf produces: an accepted etag is
//     EtagOf(its version), with version > 0.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "model/record.h"
#include "model/resource_name.h"

namespace crm::model {
namespace {

using fuzz::Escaped;

const std::vector<std::vector<std::string>>& CollectionSets() {
  static const auto* sets = new std::vector<std::vector<std::string>>{
      {"accounts"},
      {"contacts"},
      {"accounts", "contacts"},
      {"accounts", "contacts", "leads", "opportunities", "cases", "activities"},
      {"users"},
  };
  return *sets;
}

// Longest message: the fixed text, `what`, the expected forms and the two
// bounded echoes (80 bytes of the name, 40 of the collection).
size_t MessageBound(const std::vector<std::string>& collections) {
  size_t n = 300;
  for (const auto& c : collections) n += c.size() + 10;
  return n + 80 + 40;
}

void CheckName(absl::string_view text,
               const std::vector<std::string>& collections) {
  absl::StatusOr<ResourceName> name =
      ParseResourceName(text, collections, "name");
  if (!name.ok()) {
    FUZZ_CHECK(name.status().code() == absl::StatusCode::kInvalidArgument)
        << name.status();
    FUZZ_CHECK(absl::StartsWith(name.status().message(), "name: "))
        << name.status();
    FUZZ_CHECK(name.status().message().size() <= MessageBound(collections))
        << name.status().message().size() << " bytes of message";
    return;
  }
  bool known = false;
  for (const auto& c : collections) known = known || c == name->collection;
  FUZZ_CHECK(known) << Escaped(name->collection);
  FUZZ_CHECK(IsValidRecordId(name->id)) << Escaped(name->id);
  FUZZ_CHECK(absl::StrCat(name->collection, "/", name->id) == text)
      << Escaped(text);
}

void CheckEtag(absl::string_view text) {
  absl::StatusOr<int64_t> version = ParseEtag(text);
  if (!version.ok()) {
    FUZZ_CHECK(version.status().code() == absl::StatusCode::kInvalidArgument)
        << version.status();
    FUZZ_CHECK(absl::StartsWith(version.status().message(), "etag: "))
        << version.status();
    FUZZ_CHECK(version.status().message().size() <= 200)
        << version.status().message().size() << " bytes of message";
    return;
  }
  FUZZ_CHECK(*version > 0) << *version;
  FUZZ_CHECK(EtagOf(*version) == text)
      << "ParseEtag accepted " << Escaped(text) << " as version " << *version
      << ", but that version's etag is " << EtagOf(*version);
}

}  // namespace
}  // namespace crm::model

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::model;
  if (size < 1) return 0;
  const auto& sets = CollectionSets();
  const std::vector<std::string>& collections = sets[data[0] % sets.size()];
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  CheckName(text, collections);
  CheckEtag(text);
  // The id alone, and that id under each accepted collection.
  const bool valid_id = IsValidRecordId(text);
  for (const std::string& c : collections) {
    const std::string name = absl::StrCat(c, "/", text);
    absl::StatusOr<ResourceName> parsed =
        ParseResourceName(name, collections, "name");
    FUZZ_CHECK(parsed.ok() == valid_id)
        << Escaped(name) << ": " << parsed.status();
    if (parsed.ok()) {
      FUZZ_CHECK(parsed->collection == c && parsed->id == text);
    }
  }
  return 0;
}
