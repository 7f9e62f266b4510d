// RecordFilter's owner-set forms (policy/README.md, "SQL shapes"). That every
// form selects exactly the records the point decision allows is checked on
// real databases by tests/policy_differential_test.cc; these tests pin the
// SQL each form produces on the small test organisation.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "query/checked_filter.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Schema;
using testing::TestSnapshot;

constexpr char kRoleJoin[] =
    "\"owner\" IN (SELECT 'users/' || \"id\" FROM \"users\" WHERE "
    "\"role_id\" IN (";

std::vector<std::string> TextParams(const model::SqlFragment& f) {
  std::vector<std::string> out;
  for (const model::SqlValue& v : f.params) {
    if (const auto* s = std::get_if<std::string>(&v)) out.push_back(*s);
  }
  return out;
}

// The scan form with every owner set sent as roles where possible.
SqlShape RoleJoinAlways() {
  SqlShape shape;
  shape.form = SqlShape::Form::kScan;
  shape.role_join_min_owners = 1;
  return shape;
}

TEST(RecordFilter, SmallOwnerSetsAreParameterLists) {
  Evaluator vp(TestSnapshot(), Principal{"web", "vp"});
  PlanInfo plan;
  model::SqlFragment f =
      vp.RecordFilter(Schema("accounts"), Operation::kRead, {}, &plan);
  EXPECT_EQ(plan.shape, "drive");
  EXPECT_EQ(plan.owners, 6u);  // vp, alice, eve, frank, bob, carol
  EXPECT_THAT(f.sql, Not(HasSubstr("\"users\""))) << f.sql;
  EXPECT_THAT(TextParams(f), ::testing::Contains("users/eve"));
}

TEST(RecordFilter, RolesWhoseUsersAreAllOwnersBecomeOneJoin) {
  // The vp's owner set (self + the users of rep1 and rep2) covers the roles
  // vp, rep1 and rep2 entirely: no user is listed one by one.
  Evaluator vp(TestSnapshot(), Principal{"web", "vp"});
  PlanInfo plan;
  model::SqlFragment f = vp.RecordFilter(Schema("accounts"), Operation::kRead,
                                         RoleJoinAlways(), &plan);
  EXPECT_EQ(plan.shape, "scan") << plan.explanation;
  EXPECT_EQ(plan.owners, 6u);
  EXPECT_THAT(f.sql, HasSubstr(absl::StrCat(kRoleJoin, "?, ?, ?))"))) << f.sql;
  EXPECT_THAT(plan.explanation, HasSubstr("owners as 3 roles + 0 users"));
  std::vector<std::string> params = TextParams(f);
  for (const char* role : {"vp", "rep1", "rep2"}) {
    EXPECT_THAT(params, ::testing::Contains(role));
  }
  // ("users/vp" is there as a manual-share grantee key, not as an owner.)
  for (const char* user : {"users/alice", "users/bob", "users/carol",
                           "users/eve", "users/frank"}) {
    EXPECT_THAT(params, Not(::testing::Contains(user))) << "listed one by one";
  }
}

TEST(RecordFilter, PartlyCoveredRolesStayUserLists) {
  // alice owns her records and reads rep2's through an owner-based rule:
  // rep2 (bob, carol) is covered, rep1 (alice, eve, frank) is not.
  Evaluator alice(TestSnapshot(), Principal{"web", "alice"});
  PlanInfo plan;
  model::SqlFragment f = alice.RecordFilter(
      Schema("accounts"), Operation::kRead, RoleJoinAlways(), &plan);
  EXPECT_THAT(f.sql, HasSubstr(absl::StrCat(kRoleJoin, "?))"))) << f.sql;
  EXPECT_THAT(f.sql, HasSubstr("\"owner\" IN (?)")) << f.sql;
  std::vector<std::string> params = TextParams(f);
  EXPECT_THAT(params, ::testing::Contains("rep2"));
  EXPECT_THAT(params, ::testing::Contains("users/alice"));
  EXPECT_THAT(params, Not(::testing::Contains("rep1")));
  EXPECT_THAT(params, Not(::testing::Contains("users/eve")));
}

TEST(RecordFilter, ReadOnlyRulesDoNotCountForEdits) {
  // Editing needs READ_WRITE: alice's READ rule on rep2's records
  // does not count, so only she remains, and no role is covered.
  Evaluator alice(TestSnapshot(), Principal{"web", "alice"});
  PlanInfo plan;
  model::SqlFragment f = alice.RecordFilter(
      Schema("accounts"), Operation::kEdit, RoleJoinAlways(), &plan);
  EXPECT_EQ(plan.owners, 1u);
  EXPECT_THAT(f.sql, Not(HasSubstr("\"users\""))) << f.sql;
  EXPECT_THAT(TextParams(f), ::testing::Contains("users/alice"));
}

query::CheckedFilter Filter(absl::string_view collection,
                            absl::string_view text) {
  auto f = query::ParseAndCheckFilter(
      text, Schema(collection), [](const model::FieldSchema&) { return true; });
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : query::CheckedFilter();
}

constexpr char kEnergy[] = "\"industry\" = ?";

// bob reads Energy accounts through the criteria rule (group emea).
TEST(RecordFilter, CriteriaRuleContradictedByTheFilterIsLeftOut) {
  Evaluator bob(TestSnapshot(), Principal{"web", "bob"});
  PlanInfo plain;
  model::SqlFragment without =
      bob.RecordFilter(Schema("accounts"), Operation::kRead, {}, &plain);
  EXPECT_EQ(plain.criteria_rules, 1u);
  EXPECT_THAT(without.sql, HasSubstr(kEnergy));

  query::CheckedFilter retail =
      Filter("accounts", "employee_count > 3 AND industry = \"Retail\"");
  PlanInfo plan;
  model::SqlFragment f = bob.RecordFilter(Schema("accounts"), Operation::kRead,
                                          {}, &plan, &retail);
  EXPECT_EQ(plan.criteria_rules, 0u) << plan.explanation;
  EXPECT_THAT(plan.explanation,
              HasSubstr("sharingRules/energy contradicts the filter"));
  EXPECT_THAT(f.sql, Not(HasSubstr(kEnergy))) << f.sql;
  // With no criteria rule left and one owner, the drive form applies.
  EXPECT_EQ(plan.shape, "drive");
}

TEST(RecordFilter, OnlyProvableContradictionsPruneARule) {
  Evaluator bob(TestSnapshot(), Principal{"web", "bob"});
  for (const char* text : {
           "industry = \"Energy\"",   // same constant
           "industry != \"Retail\"",  // not an equality
           "industry = \"Retail\" OR billing_city = \"Oslo\"",  // a disjunction
           "NOT (industry = \"Retail\")",                       // a negation
           "billing_country = \"DE\"",                          // another field
       }) {
    query::CheckedFilter filter = Filter("accounts", text);
    if (filter.empty()) continue;  // reported by Filter
    PlanInfo plan;
    model::SqlFragment f = bob.RecordFilter(
        Schema("accounts"), Operation::kRead, {}, &plan, &filter);
    EXPECT_EQ(plan.criteria_rules, 1u) << text << ": " << plan.explanation;
    EXPECT_THAT(f.sql, HasSubstr(kEnergy)) << text;
  }
}

TEST(RecordFilter, RestrictionContradictedByTheFilterMatchesNothing) {
  // carol only ever sees accounts with billing_country "DE".
  Evaluator carol(TestSnapshot(), Principal{"web", "carol"});
  query::CheckedFilter us = Filter("accounts", "billing_country = \"US\"");
  PlanInfo plan;
  model::SqlFragment f =
      carol.RecordFilter(Schema("accounts"), Operation::kRead, {}, &plan, &us);
  EXPECT_EQ(f.sql, "1 = 0");
  EXPECT_EQ(plan.shape, "none");
  EXPECT_THAT(plan.explanation,
              HasSubstr("restrictionRules/de contradicts the filter"));

  query::CheckedFilter de = Filter("accounts", "billing_country = \"DE\"");
  model::SqlFragment kept =
      carol.RecordFilter(Schema("accounts"), Operation::kRead, {}, &plan, &de);
  EXPECT_THAT(kept.sql, HasSubstr("\"billing_country\" = ?")) << kept.sql;
}

}  // namespace
}  // namespace crm::policy
