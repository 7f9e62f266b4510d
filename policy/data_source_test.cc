// The source rule (policy.proto "Data sources"): the compiler refuses
// illegitimate kinds by name and unknown services, objects and fields;
// Evaluator::CheckSourceWrite decides per (principal, object, field) with
// the rule that decided; shadow evaluation compares it.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "policy/shadow.h"
#include "policy/snapshot.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;
using testing::Schema;
using testing::TestServices;
using testing::TestState;

// The test organisation with data sources: "readonly" writes nothing (no
// grant either), "web" is the source "web-forms" for two contact fields and
// every field of leads.
constexpr char kSources[] = R"pb(
  data_sources {
    name: "dataSources/web-forms"
    display_name: "Web forms"
    kind: WEB_FORMS
    service: "services/web"
    purpose: "sign-ups"
    writes { object: "contacts" fields: "email" fields: "last_name" }
    writes { object: "leads" }
  }
)pb";

crm::internal::PolicyState WithSources(const char* text = kSources) {
  crm::internal::PolicyState state = TestState();
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(text, &state));
  return state;
}

std::shared_ptr<const PolicySnapshot> Build(
    const crm::internal::PolicyState& state) {
  auto s = PolicySnapshot::Build(state, TestServices(),
                                 model::SchemaRegistry::Default());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}

std::vector<PolicyProblem> Problems(const char* text) {
  return PolicySnapshot::Check(WithSources(text), TestServices(),
                               model::SchemaRegistry::Default());
}

TEST(DataSourceCompile, RefusesIllegitimateKindsByNameWithWhy) {
  struct {
    const char* kind;
    const char* why;
  } cases[] = {
      {"CUSTOMER_DEVICES", "a customer's own computer or devices is not a "
                           "legitimate data source"},
      {"EMPLOYEE_PERSONAL_CONTACTS",
       "employees' personal contact lists are not a legitimate data source"},
  };
  for (const auto& c : cases) {
    const std::string text = absl::StrCat(
        "data_sources { name: \"dataSources/x\" kind: ", c.kind,
        " service: \"services/web\" writes { object: \"contacts\" } }");
    auto problems = Problems(text.c_str());
    ASSERT_EQ(problems.size(), 1u) << c.kind;
    EXPECT_EQ(problems[0].object, "dataSources/x");
    EXPECT_EQ(problems[0].field, "kind");
    EXPECT_EQ(problems[0].status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(problems[0].status.message(),
                AllOf(HasSubstr(c.kind), HasSubstr("is refused"),
                      HasSubstr(c.why)));
    // Build refuses it too, with the same message.
    auto built = PolicySnapshot::Build(WithSources(text.c_str()),
                                       TestServices(),
                                       model::SchemaRegistry::Default());
    EXPECT_EQ(built.status(), problems[0].status);
  }
}

TEST(DataSourceCompile, RefusesBadEntriesEachLocated) {
  auto problems = Problems(R"pb(
    data_sources { name: "dataSources/a" service: "services/web"
                   writes { object: "contacts" } }
    data_sources { name: "dataSources/b" kind: SURVEYS
                   service: "services/nope" writes { object: "contacts" } }
    data_sources { name: "dataSources/c" kind: SURVEYS service: "services/web"
                   writes { object: "widgets" } }
    data_sources { name: "dataSources/d" kind: SURVEYS service: "services/web"
                   writes { object: "contacts" fields: "shoe_size" } }
    data_sources { name: "dataSources/e" kind: SURVEYS service: "services/web"
                   writes { object: "contacts" } writes { object: "contacts" } }
    data_sources { name: "bad" kind: SURVEYS service: "services/web" }
  )pb");
  std::vector<std::string> where;
  for (const auto& p : problems) where.push_back(p.object + " " + p.field);
  EXPECT_THAT(where, ::testing::ElementsAre(
                         "bad name", "dataSources/a kind",
                         "dataSources/b service", "dataSources/c writes[0].object",
                         "dataSources/d writes[0].fields[0]",
                         "dataSources/e writes[1].object"));
  EXPECT_THAT(problems[2].status.message(),
              HasSubstr("'services/nope' is not registered in the server's "
                        "configuration"));
  EXPECT_THAT(problems[4].status.message(),
              HasSubstr("unknown field 'shoe_size' of contacts"));
}

TEST(DataSourceEvaluator, DecisionTable) {
  auto with = Build(WithSources());
  auto without = Build(TestState());
  ASSERT_NE(with, nullptr);
  ASSERT_NE(without, nullptr);
  struct Case {
    std::shared_ptr<const PolicySnapshot> snapshot;
    std::string service, user, object, field;
    bool allowed;
    std::string rule;
    std::string source;  // SourceOf
  } cases[] = {
      // No data source in the policy: the rule is off.
      {without, "web", "", "contacts", "phone", true, "source:unregistered",
       "unregistered"},
      {without, "readonly", "", "accounts", "phone", true,
       "source:unregistered", "unregistered"},
      // Registered fields and objects.
      {with, "web", "", "contacts", "email", true, "source:dataSources/web-forms",
       "dataSources/web-forms"},
      {with, "web", "", "leads", "company", true,
       "source:dataSources/web-forms", "dataSources/web-forms"},
      // A field or object the source does not list.
      {with, "web", "", "contacts", "phone", false,
       "no-source:services/web:contacts.phone", ""},
      {with, "web", "", "accounts", "phone", false,
       "no-source:services/web:accounts.phone", ""},
      // A user through a service: the service's sources decide.
      {with, "web", "alice", "contacts", "phone", false,
       "no-source:services/web:contacts.phone", ""},
      {with, "web", "alice", "contacts", "email", true,
       "source:dataSources/web-forms", "dataSources/web-forms"},
      // A service with no source: refused acting as itself; a user through
      // it writes as its implicit "interactions" source.
      {with, "readonly", "", "accounts", "phone", false,
       "no-source:services/readonly:accounts.phone", ""},
      {with, "readonly", "alice", "accounts", "phone", true,
       "source:interactions:services/readonly", "interactions"},
      // An unregistered service: refused (fail closed).
      {with, "ghost", "", "accounts", "phone", false,
       "no-source:services/ghost:accounts.phone", ""},
  };
  for (const Case& c : cases) {
    Evaluator eval(c.snapshot, Principal{c.service, c.user});
    const model::ObjectSchema& schema = Schema(c.object);
    const model::FieldSchema& field = *schema.FindField(c.field);
    const std::string what =
        absl::StrCat(c.user, "@", c.service, " ", c.object, ".", c.field);
    Decision d = eval.CheckSourceWrite(schema, field);
    EXPECT_EQ(d.allowed, c.allowed) << what;
    EXPECT_EQ(d.rule, c.rule) << what;
    EXPECT_EQ(eval.AllowsSourceWrite(schema, field), c.allowed) << what;
    EXPECT_EQ(eval.SourceOf(schema, field), c.source) << what;
    if (!c.allowed) {
      // The reason names the service, the field and what to register.
      EXPECT_THAT(d.reason,
                  AllOf(HasSubstr(absl::StrCat("services/", c.service)),
                        HasSubstr(absl::StrCat(c.object, ".", c.field)),
                        HasSubstr("dataSources/")))
          << what;
      absl::Status st = ToStatus(d, DenialKind::kSource);
      EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << what;
    }
  }
  // No policy: refused.
  Evaluator none(nullptr, Principal{"web", ""});
  EXPECT_FALSE(none.AllowsSourceWrite(Schema("contacts"),
                                      *Schema("contacts").FindField("email")));
}

TEST(DataSourceEvaluator, FirstSourceByNameRecordsTheField) {
  auto snapshot = Build(WithSources(R"pb(
    data_sources { name: "dataSources/z-survey" kind: SURVEYS
                   service: "services/web" writes { object: "contacts" } }
    data_sources { name: "dataSources/a-web" kind: WEB_FORMS
                   service: "services/web"
                   writes { object: "contacts" fields: "email" } }
  )pb"));
  ASSERT_NE(snapshot, nullptr);
  Evaluator eval(snapshot, Principal{"web", ""});
  const auto& contacts = Schema("contacts");
  EXPECT_EQ(eval.SourceOf(contacts, *contacts.FindField("email")),
            "dataSources/a-web");
  EXPECT_EQ(eval.SourceOf(contacts, *contacts.FindField("phone")),
            "dataSources/z-survey");
}

class Recorder : public ShadowSink {
 public:
  void Agreed() override { ++agreed; }
  void Disagreed(ShadowDisagreement d) override {
    disagreements.push_back(std::move(d));
  }
  int agreed = 0;
  std::vector<ShadowDisagreement> disagreements;
};

TEST(DataSourceShadow, ComparesTheSourceRule) {
  // Live: no data source (off); candidate: web-forms registered.
  auto live = Build(TestState());
  auto candidate = Build(WithSources());
  Recorder sink;
  Evaluator eval(live, Principal{"web", ""});
  eval.AttachShadow(candidate, &sink);
  const auto& contacts = Schema("contacts");
  // Agreed: both allow email.
  EXPECT_TRUE(eval.AllowsSourceWrite(contacts, *contacts.FindField("email")));
  EXPECT_EQ(sink.agreed, 1);
  EXPECT_TRUE(sink.disagreements.empty());
  // Disagreed: the candidate refuses phone; live still answers allowed.
  Decision d = eval.CheckSourceWrite(contacts, *contacts.FindField("phone"));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, "source:unregistered");
  ASSERT_EQ(sink.disagreements.size(), 1u);
  const ShadowDisagreement& x = sink.disagreements[0];
  EXPECT_EQ(x.question, "source-write:phone");
  EXPECT_EQ(x.resource, "contacts");
  EXPECT_TRUE(x.live.allowed);
  EXPECT_FALSE(x.shadow.allowed);
  EXPECT_EQ(x.shadow.rule, "no-source:services/web:contacts.phone");
}

}  // namespace
}  // namespace crm::policy
