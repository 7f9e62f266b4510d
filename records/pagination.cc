#include "records/pagination.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "query/keyset.h"

namespace crm::records {

crm::internal::PageToken TokenAfter(const model::ObjectSchema& schema,
                                    const std::vector<model::OrderTerm>& order,
                                    const model::Record& last,
                                    const std::string& query_hash) {
  crm::internal::PageToken token;
  token.set_collection(schema.collection());
  token.set_query_hash(query_hash);
  token.set_last_id(last.id);
  for (const model::OrderTerm& term : order) {
    auto* value = token.add_last_values();
    int i = schema.FieldIndex(term.column);
    const model::SqlValue& v = last.values[i];
    if (const auto* n = std::get_if<int64_t>(&v)) {
      value->set_int_value(*n);
    } else if (const auto* d = std::get_if<double>(&v)) {
      value->set_double_value(*d);
    } else if (const auto* s = std::get_if<std::string>(&v)) {
      value->set_string_value(*s);
    }
  }
  return token;
}

absl::StatusOr<model::SqlFragment> KeysetFromToken(
    const std::vector<model::OrderTerm>& order,
    const crm::internal::PageToken& token) {
  auto invalid = absl::InvalidArgumentError(
      "page_token: invalid, expired or issued for a different query; restart "
      "the listing without a page_token");
  if (token.last_values_size() != static_cast<int>(order.size()) ||
      token.last_id().empty()) {
    return invalid;
  }
  std::vector<model::SqlValue> values;
  for (const auto& v : token.last_values()) {
    switch (v.kind_case()) {
      case crm::internal::PageTokenValue::kIntValue:
        values.emplace_back(v.int_value());
        break;
      case crm::internal::PageTokenValue::kDoubleValue:
        values.emplace_back(v.double_value());
        break;
      case crm::internal::PageTokenValue::kStringValue:
        values.emplace_back(v.string_value());
        break;
      case crm::internal::PageTokenValue::KIND_NOT_SET:
        return invalid;
    }
  }
  return query::KeysetAfter(order, values, token.last_id());
}

std::string EncodeKeyToken(int64_t key, absl::string_view text) {
  return absl::WebSafeBase64Escape(absl::StrCat(key, ":", text));
}

absl::Status DecodeKeyToken(const std::string& token, absl::string_view method,
                            int64_t* key, std::string* text) {
  std::string raw;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    parts = absl::StrSplit(raw, absl::MaxSplits(':', 1));
  }
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], key)) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token: not a token from ", method,
                     "; start again without it"));
  }
  *text = parts[1];
  return absl::OkStatus();
}

}  // namespace crm::records
