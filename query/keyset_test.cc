#include "query/keyset.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace crm::query {
namespace {

using model::OrderTerm;
using model::SqlValue;

std::string Render(const model::SqlFragment& f) {
  return absl::StrCat(
      f.sql, " | ",
      absl::StrJoin(f.params, ", ", [](std::string* out, const SqlValue& v) {
        out->append(model::DebugString(v));
      }));
}

TEST(KeysetAfter, ExpandsToOrOfAnds) {
  EXPECT_EQ(Render(KeysetAfter({}, {}, "k")), "(\"id\" > ?) | 'k'");
  EXPECT_EQ(Render(KeysetAfter({{"a", false}}, {int64_t{5}}, "k")),
            "(\"a\" > ?) OR (\"a\" = ? AND \"id\" > ?) | 5, 5, 'k'");
  EXPECT_EQ(
      Render(KeysetAfter({{"a", false}, {"b", true}},
                         {int64_t{5}, std::string("x")}, "k")),
      "(\"a\" > ?) OR (\"a\" = ? AND \"b\" < ?) OR (\"a\" = ? AND \"b\" = ? "
      "AND \"id\" < ?) | 5, 5, 'x', 5, 'x', 'k'");
  EXPECT_EQ(Render(KeysetAfter({{"a", true}, {"b", false}},
                               {1.5, std::string("x")}, "k", "t")),
            "(\"t\".\"a\" < ?) OR (\"t\".\"a\" = ? AND \"t\".\"b\" > ?) OR "
            "(\"t\".\"a\" = ? AND \"t\".\"b\" = ? AND \"t\".\"id\" > ?) | 1.5, "
            "1.5, 'x', 1.5, 'x', 'k'");
}

TEST(KeysetAfter, SizeMismatchSelectsNothing) {
  EXPECT_EQ(Render(KeysetAfter({{"a", false}}, {}, "k")), "(1 = 0) | ");
  EXPECT_FALSE(AfterKey({{"a", false}}, {}, "k", {int64_t{1}}, "z"));
}

TEST(OrderBySql, IdFollowsTheLastTerm) {
  EXPECT_EQ(OrderBySql({}), "\"id\" ASC");
  EXPECT_EQ(OrderBySql({{"a", true}, {"b", false}}),
            "\"a\" DESC, \"b\" ASC, \"id\" ASC");
  EXPECT_EQ(OrderBySql({{"a", false}, {"b", true}}, "t"),
            "\"t\".\"a\" ASC, \"t\".\"b\" DESC, \"t\".\"id\" DESC");
}

TEST(AfterKey, Table) {
  const std::vector<OrderTerm> order = {{"a", false}, {"b", true}};
  const std::vector<SqlValue> last = {int64_t{5}, std::string("m")};
  struct Case {
    std::vector<SqlValue> row;
    const char* id;
    bool after;
  };
  const Case cases[] = {
      {{int64_t{6}, std::string("a")}, "a", true},
      {{int64_t{4}, std::string("z")}, "z", false},
      {{int64_t{5}, std::string("a")}, "a", true},  // b desc: "a" after "m"
      {{int64_t{5}, std::string("z")}, "z", false},
      {{int64_t{5}, std::string("m")}, "j", true},   // id desc (last term)
      {{int64_t{5}, std::string("m")}, "k", false},  // the last row itself
      {{int64_t{5}, std::string("m")}, "l", false},
      {{5.5, std::string("m")}, "a", true},  // int vs double
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AfterKey(order, last, "k", c.row, c.id), c.after)
        << model::DebugString(c.row[0]) << " " << model::DebugString(c.row[1])
        << " " << c.id;
  }
}

}  // namespace
}  // namespace crm::query
