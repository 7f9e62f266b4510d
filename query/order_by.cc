#include "query/order_by.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/error.h"

namespace crm::query {
namespace {

absl::Status Error(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("order_by: ", what));
}

absl::Status UnknownField(absl::string_view name) {
  return base::WithErrorInfo(
      Error(absl::StrCat(
          "field '", name,
          "' is unknown or not readable; see the API documentation for the "
          "sortable fields")),
      crm::v1::UNKNOWN_FIELD, {{"field", std::string(name.substr(0, 80))}});
}

bool Allowed(const model::FieldSchema* field, const FieldAccess& can_sort) {
  return field != nullptr && can_sort && can_sort(*field);
}

}  // namespace

absl::StatusOr<std::vector<model::OrderTerm>> ParseOrderBy(
    absl::string_view text, const model::ObjectSchema& schema,
    const FieldAccess& can_sort) {
  std::vector<model::OrderTerm> terms;
  if (absl::StripAsciiWhitespace(text).empty()) {
    if (Allowed(schema.FindField("create_time"), can_sort)) {
      terms.push_back({"create_time", false});
    }
    return terms;
  }
  if (text.size() > 1024) return Error("longer than 1024 bytes");
  std::set<std::string, std::less<>> seen;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(part, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
    if (words.empty()) {
      return Error("empty term (two commas, or a comma at either end)");
    }
    if (words.size() > 2) {
      return Error(absl::StrCat("expected 'field' or 'field desc', got '",
                                absl::StripAsciiWhitespace(part), "'"));
    }
    model::OrderTerm term;
    if (words.size() == 2) {
      if (words[1] == "desc" || words[1] == "DESC") {
        term.descending = true;
      } else if (words[1] != "asc" && words[1] != "ASC") {
        return Error(absl::StrCat("expected 'asc' or 'desc' after '", words[0],
                                  "', got '", words[1], "'"));
      }
    }
    const model::FieldSchema* field = schema.FindField(words[0]);
    if (!Allowed(field, can_sort)) {
      return UnknownField(words[0]);
    }
    if (field->sensitive) {
      // Its column holds ciphertext, whose order means nothing.
      return Error(absl::StrCat(
          schema.collection(), ".", field->name,
          " is encrypted at rest and cannot be filtered or sorted on"));
    }
    if (!seen.insert(std::string(words[0])).second) {
      return Error(absl::StrCat("field '", words[0], "' appears twice"));
    }
    if (terms.size() == kMaxOrderByTerms) {
      return Error(
          absl::StrCat("at most ", kMaxOrderByTerms, " fields may be given"));
    }
    term.column = std::string(words[0]);
    terms.push_back(std::move(term));
  }
  return terms;
}

std::string NormalizeOrderBy(const std::vector<model::OrderTerm>& terms) {
  return absl::StrJoin(
      terms, ",", [](std::string* out, const model::OrderTerm& t) {
        absl::StrAppend(out, t.column, t.descending ? " desc" : " asc");
      });
}

}  // namespace crm::query
