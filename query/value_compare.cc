#include "query/value_compare.h"

#include <cstdint>
#include <string>
#include <variant>

namespace crm::query {
namespace {

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

std::optional<double> AsDouble(const model::SqlValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::nullopt;
}

}  // namespace

std::optional<int> CompareSqlValues(const model::SqlValue& a,
                                    const model::SqlValue& b) {
  const auto* ai = std::get_if<int64_t>(&a);
  const auto* bi = std::get_if<int64_t>(&b);
  if (ai != nullptr && bi != nullptr) return Sign(*ai, *bi);
  const auto* as = std::get_if<std::string>(&a);
  const auto* bs = std::get_if<std::string>(&b);
  if (as != nullptr && bs != nullptr) {
    // std::string::compare uses char_traits<char>, which compares as
    // unsigned char: UTF-8 byte order.
    const int c = as->compare(*bs);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  std::optional<double> ad = AsDouble(a);
  std::optional<double> bd = AsDouble(b);
  if (ad && bd) return Sign(*ad, *bd);
  return std::nullopt;
}

}  // namespace crm::query
