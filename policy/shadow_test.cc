// Shadow evaluation (policy/shadow.h): an Evaluator with a candidate
// attached answers exactly as without one, and tells its sink, per
// decision, whether the candidate decides alike; a disagreement carries
// both rules.
#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "policy/shadow.h"

namespace crm::policy {
namespace {

using testing::MakeRecord;
using testing::Schema;
using testing::TestServices;
using testing::TestSnapshot;
using testing::TestState;

class Recorder : public ShadowSink {
 public:
  void Agreed() override { ++agreed; }
  void Disagreed(ShadowDisagreement d) override {
    disagreements.push_back(std::move(d));
  }
  int agreed = 0;
  std::vector<ShadowDisagreement> disagreements;
};

std::shared_ptr<const PolicySnapshot> Build(
    const crm::internal::PolicyState& state) {
  auto s = PolicySnapshot::Build(state, TestServices(),
                                 model::SchemaRegistry::Default());
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// The test organisation with one more sharing rule: accounts of industry
// "Retail" readable by role rep1 (alice), and without bob's sales set.
std::shared_ptr<const PolicySnapshot> Candidate() {
  crm::internal::PolicyState state = TestState();
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(
      R"pb(sharing_rules {
             name: "sharingRules/retail"
             object: "accounts"
             criteria: "industry = \"Retail\""
             shared_with { role: "roles/rep1" }
             access: READ
           })pb",
      &state));
  // The auditor's view-all on accounts withdrawn.
  for (auto& set : *state.mutable_permission_sets()) {
    if (set.name() != "permissionSets/auditor") continue;
    for (auto& p : *set.mutable_object_permissions()) p.set_view_all(false);
  }
  return Build(state);
}

TEST(Shadow, SameDecisionsAgreeAndAnswersDoNotChange) {
  auto live = TestSnapshot();
  Recorder sink;
  Evaluator alice(live, Principal{"web", "alice"});
  alice.AttachShadow(TestSnapshot(), &sink);
  const model::Record mine =
      MakeRecord("accounts", "a1", {{"owner", "users/alice"}});
  const model::Record other =
      MakeRecord("accounts", "a2", {{"owner", "users/ceo"}});
  EXPECT_TRUE(alice.AllowsObject(Schema("accounts"), Operation::kRead));
  EXPECT_TRUE(alice.CheckRecord(Schema("accounts"), Operation::kRead, mine)
                  .allowed);
  EXPECT_FALSE(alice.CheckRecord(Schema("accounts"), Operation::kRead, other)
                   .allowed);
  alice.Fields(Schema("accounts"));
  alice.CanWriteField(Schema("accounts"),
                      *Schema("accounts").FindField("phone"));
  alice.CheckSystem(crm::v1::MANAGE_POLICY);
  EXPECT_EQ(sink.agreed, 6);
  EXPECT_TRUE(sink.disagreements.empty());
}

TEST(Shadow, ACandidateGrantIsReportedButNotEnforced) {
  auto live = TestSnapshot();
  Recorder sink;
  Evaluator alice(live, Principal{"web", "alice"});
  alice.AttachShadow(Candidate(), &sink);
  const model::Record retail = MakeRecord(
      "accounts", "r1", {{"owner", "users/ceo"}, {"industry", "Retail"}});
  RecordFacts facts;
  facts.record = &retail;
  // Live: hidden; the candidate's rule would show it. The answer is live's.
  EXPECT_FALSE(alice.AllowsRecord(Schema("accounts"), Operation::kRead, facts));
  ASSERT_EQ(sink.disagreements.size(), 1u);
  const ShadowDisagreement& d = sink.disagreements[0];
  EXPECT_EQ(d.question, "record:read");
  EXPECT_EQ(d.resource, "accounts/r1");
  EXPECT_FALSE(d.live.allowed);
  EXPECT_TRUE(d.shadow.allowed);
  EXPECT_EQ(d.shadow.rule, "sharing-rule:sharingRules/retail");
  EXPECT_FALSE(d.live.rule.empty());
  // An account of another industry: both hide it.
  const model::Record energy = MakeRecord(
      "accounts", "e1", {{"owner", "users/ceo"}, {"industry", "Banking"}});
  EXPECT_FALSE(
      alice.CheckRecord(Schema("accounts"), Operation::kRead, energy).allowed);
  EXPECT_EQ(sink.disagreements.size(), 1u);
  EXPECT_EQ(sink.agreed, 1);
}

TEST(Shadow, AWithdrawnGrantIsReportedWithBothRules) {
  auto live = TestSnapshot();
  Recorder sink;
  Evaluator dave(live, Principal{"web", "dave"});
  dave.AttachShadow(Candidate(), &sink);
  const model::Record any =
      MakeRecord("accounts", "x1", {{"owner", "users/ceo"}});
  EXPECT_TRUE(dave.CheckRecord(Schema("accounts"), Operation::kRead, any)
                  .allowed);
  ASSERT_EQ(sink.disagreements.size(), 1u);
  EXPECT_TRUE(sink.disagreements[0].live.allowed);
  EXPECT_EQ(sink.disagreements[0].live.rule, "view-all:accounts");
  EXPECT_FALSE(sink.disagreements[0].shadow.allowed);
}

TEST(Shadow, FieldAndSystemPermissionsAreCompared) {
  crm::internal::PolicyState state = TestState();
  for (auto& set : *state.mutable_permission_sets()) {
    if (set.name() != "permissionSets/sales") continue;
    for (auto& f : *set.mutable_field_permissions()) {
      if (f.object() == "accounts" && f.field() == "phone") f.set_read(false);
    }
  }
  auto candidate = Build(state);
  Recorder sink;
  Evaluator alice(TestSnapshot(), Principal{"web", "alice"});
  alice.AttachShadow(candidate, &sink);
  const FieldAccess fields = alice.Fields(Schema("accounts"));
  EXPECT_TRUE(fields.CanRead(*Schema("accounts").FindField("phone")));
  ASSERT_EQ(sink.disagreements.size(), 1u);
  EXPECT_EQ(sink.disagreements[0].question, "fields");
  EXPECT_NE(sink.disagreements[0].live.rule.find("phone"), std::string::npos);
  EXPECT_EQ(sink.disagreements[0].shadow.rule.find("read: phone"),
            std::string::npos);

  // The service web holds manage_policy through a permission set live; the
  // candidate (the test organisation) has no such set.
  crm::internal::PolicyState with_set = TestState();
  ASSERT_TRUE(google::protobuf::TextFormat::MergeFromString(
      R"pb(permission_sets {
             name: "permissionSets/web-admin"
             system_permissions: MANAGE_POLICY
             assignees: "services/web"
           })pb",
      &with_set));
  Recorder web_sink;
  Evaluator web(Build(with_set), Principal{"web", ""});
  web.AttachShadow(TestSnapshot(), &web_sink);
  EXPECT_TRUE(web.AllowsSystem(crm::v1::MANAGE_POLICY));
  ASSERT_EQ(web_sink.disagreements.size(), 1u);
  EXPECT_EQ(web_sink.disagreements[0].question, "system:manage_policy");
  EXPECT_EQ(web_sink.disagreements[0].live.rule,
            "system:permission-set:permissionSets/web-admin");
  EXPECT_FALSE(web_sink.disagreements[0].shadow.allowed);
}

// A record's parent is loaded when either policy needs it, so the
// candidate decides from the facts it needs.
TEST(Shadow, ParentIsLoadedWhenOnlyTheCandidateNeedsIt) {
  crm::internal::PolicyState state = TestState();
  for (auto& d : *state.mutable_defaults()) {
    if (d.object() == "contacts") d.set_internal_access(crm::v1::OrgWideDefault::PRIVATE);
  }
  auto live = Build(state);  // contacts private: no parent needed
  Recorder sink;
  Evaluator alice(live, Principal{"web", "alice"});
  EXPECT_FALSE(alice.NeedsParent(Schema("contacts")));
  alice.AttachShadow(TestSnapshot(), &sink);  // controlled by parent
  EXPECT_TRUE(alice.NeedsParent(Schema("contacts")));
  EXPECT_FALSE(alice.NeedsParent(Schema("accounts")));
  // A service acting as itself needs no parent under either.
  Evaluator web(live, Principal{"web", ""});
  web.AttachShadow(TestSnapshot(), &sink);
  EXPECT_FALSE(web.NeedsParent(Schema("contacts")));
}

TEST(Shadow, DetachingStopsComparing) {
  Recorder sink;
  Evaluator alice(TestSnapshot(), Principal{"web", "alice"});
  alice.AttachShadow(Candidate(), &sink);
  ASSERT_NE(alice.shadow(), nullptr);
  alice.AttachShadow(nullptr, nullptr);
  EXPECT_EQ(alice.shadow(), nullptr);
  alice.AllowsObject(Schema("accounts"), Operation::kRead);
  EXPECT_EQ(sink.agreed, 0);
}

}  // namespace
}  // namespace crm::policy
