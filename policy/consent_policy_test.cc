// Consent and purposes (policy.proto "Consent and purposes"): the compiler
// checks purposes and consent sources; the Evaluator refuses a contact with
// no opt-in for each of the principal's purposes (rule "consent:{p}"),
// masks the channels opted out of, and leaves principals with no purpose
// and objects that are no consent subjects alone. (The SQL form is proven
// against the point decision by tests/policy_differential_test.cc.)
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/evaluator.h"
#include "policy/policy_test_org.h"
#include "policy/snapshot.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;
using testing::Schema;
using testing::TestServices;
using testing::TestState;

// "readonly" marked with the purpose "marketing"; "web" the source
// web-forms that may record consent of contacts.
std::shared_ptr<const PolicySnapshot> Build(const char* extra = "",
                                            const char* purpose = "marketing",
                                            absl::Status* status = nullptr) {
  crm::internal::PolicyState state = TestState();
  EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(
      absl::StrCat(R"pb(data_sources {
        name: "dataSources/web-forms" kind: WEB_FORMS service: "services/web"
        writes { object: "contacts" consent: true }
      })pb", extra),
      &state));
  auto services = TestServices();
  for (auto& s : services) {
    if (s.name() == "readonly") s.set_purpose(purpose);
  }
  auto snapshot =
      PolicySnapshot::Build(state, services, model::SchemaRegistry::Default());
  if (status != nullptr) *status = snapshot.status();
  return snapshot.ok() ? *snapshot : nullptr;
}

model::Record Contact(const char* id) {
  model::Record r;
  r.id = id;
  r.values.resize(Schema("contacts").fields().size());
  return r;
}

TEST(ConsentCompile, RefusesBadPurposesAndConsentOfNonSubjects) {
  absl::Status s;
  EXPECT_EQ(Build("", "Marketing!", &s), nullptr);
  EXPECT_THAT(s.message(), HasSubstr("purpose 'Marketing!'"));
  EXPECT_EQ(Build(R"pb(data_sources {
                    name: "dataSources/acc" kind: ACCOUNTING
                    service: "services/web"
                    writes { object: "accounts" consent: true }
                  })pb",
                  "marketing", &s),
            nullptr);
  EXPECT_THAT(s.message(), HasSubstr("carries no consent"));
  ASSERT_NE(Build(), nullptr);
}

TEST(ConsentDecision, OptInPerPurposeOnSomeChannelMaskingAndSources) {
  auto snapshot = Build();
  ASSERT_NE(snapshot, nullptr);
  const model::ObjectSchema& contacts = Schema("contacts");
  const model::ObjectSchema& accounts = Schema("accounts");
  Evaluator marked(snapshot, Principal{"readonly", ""});
  Evaluator plain(snapshot, Principal{"web", ""});
  EXPECT_EQ(marked.purposes(), std::vector<std::string>{"marketing"});
  EXPECT_TRUE(marked.ConsentApplies(contacts));
  EXPECT_FALSE(marked.ConsentApplies(accounts));
  EXPECT_FALSE(plain.ConsentApplies(contacts));

  const model::Record c = Contact("c1");
  struct Case {
    std::vector<ConsentFact> consents;
    bool allowed;
    std::vector<std::string> masked;
  } cases[] = {
      {{}, false, {}},
      {{{"email", "service", true, false}}, false, {}},
      {{{"email", "marketing", false, true}}, false, {"email"}},
      {{{"email", "marketing", true, false}}, true, {}},
      {{{"post", "marketing", true, false}, {"phone", "marketing", false, true}},
       true,
       {"phone"}},
  };
  for (size_t i = 0; i < std::size(cases); ++i) {
    RecordFacts facts;
    facts.record = &c;
    facts.consents = cases[i].consents;
    Decision d = marked.CheckRecord(contacts, Operation::kRead, facts);
    EXPECT_EQ(d.allowed, cases[i].allowed) << "case " << i << ": " << d.rule;
    EXPECT_EQ(marked.AllowsRecord(contacts, Operation::kRead, facts),
              cases[i].allowed)
        << "case " << i;
    if (!d.allowed) {
      EXPECT_EQ(d.rule, "consent:marketing") << "case " << i;
      EXPECT_THAT(d.reason, HasSubstr("has not opted in to purpose"));
    }
    EXPECT_EQ(marked.MaskedChannels(contacts, cases[i].consents),
              cases[i].masked)
        << "case " << i;
    // No purpose: consent changes nothing.
    EXPECT_TRUE(plain.CheckRecord(contacts, Operation::kRead, facts).allowed);
    EXPECT_TRUE(plain.MaskedChannels(contacts, cases[i].consents).empty());
  }
  // The SQL form names the purpose; a principal without one has none.
  EXPECT_THAT(marked.RecordFilter(contacts, Operation::kRead).sql,
              HasSubstr("\"consents\""));
  EXPECT_EQ(plain.RecordFilter(contacts, Operation::kRead).sql, "");
  EXPECT_EQ(marked.RecordFilter(accounts, Operation::kRead).sql, "");

  // Who may record consent as a source.
  EXPECT_EQ(plain.CheckConsentSource(contacts).rule,
            "source:dataSources/web-forms");
  Decision no = marked.CheckConsentSource(contacts);
  EXPECT_FALSE(no.allowed);
  EXPECT_EQ(no.rule, "no-consent-source:services/readonly:contacts");
  EXPECT_FALSE(plain.CheckConsentSource(accounts).allowed);
}

TEST(ConsentDecision, APermissionSetMarksItsUsers) {
  absl::Status status;
  auto snapshot = Build(R"pb(permission_sets {
                          name: "permissionSets/mkt"
                          purpose: "newsletter"
                          assignees: "users/alice"
                        })pb",
                        "marketing", &status);
  ASSERT_NE(snapshot, nullptr) << status;
  Evaluator u1(snapshot, Principal{"web", "alice"});
  EXPECT_EQ(u1.purposes(), std::vector<std::string>{"newsletter"});
  // Through the marked service: both purposes, each needs an opt-in.
  Evaluator both(snapshot, Principal{"readonly", "alice"});
  EXPECT_EQ(both.purposes(),
            (std::vector<std::string>{"marketing", "newsletter"}));
}

}  // namespace
}  // namespace crm::policy
