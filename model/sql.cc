#include "model/sql.h"

#include "absl/strings/str_cat.h"

namespace crm::model {

void SqlFragment::Append(absl::string_view text, std::vector<SqlValue> values) {
  sql.append(text.data(), text.size());
  for (auto& v : values) params.push_back(std::move(v));
}

void SqlFragment::Append(const SqlFragment& other) {
  sql.append(other.sql);
  params.insert(params.end(), other.params.begin(), other.params.end());
}

namespace {
SqlFragment Combine(const SqlFragment& a, const SqlFragment& b,
                    absl::string_view op) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  SqlFragment out;
  out.Append("(");
  out.Append(a);
  out.Append(absl::StrCat(") ", op, " ("));
  out.Append(b);
  out.Append(")");
  return out;
}
}  // namespace

SqlFragment And(const SqlFragment& a, const SqlFragment& b) {
  return Combine(a, b, "AND");
}
SqlFragment Or(const SqlFragment& a, const SqlFragment& b) {
  return Combine(a, b, "OR");
}

std::string QuoteIdentifier(absl::string_view name) {
  return absl::StrCat("\"", name, "\"");
}

std::string DebugString(const SqlValue& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(int64_t v) const { return absl::StrCat(v); }
    std::string operator()(double v) const { return absl::StrCat(v); }
    std::string operator()(const std::string& v) const {
      return absl::StrCat("'", v, "'");
    }
  };
  return std::visit(Visitor{}, value);
}

}  // namespace crm::model
