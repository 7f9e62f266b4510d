// The data inventory (records/data_inventory.h) computed from compiled
// snapshots of the test organisation (policy/policy_test_org.h) with data
// sources, purposes and retention rules added: sources and purposes per
// field, the flags for fields with no source, no purpose or no registered
// sources at all, implicit interactions sources, encryption, consent,
// retention and erasure treatment, totals, the object filter.
#include "records/data_inventory.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/policy_test_org.h"
#include "policy/snapshot.h"

namespace crm::records {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using crm::v1::DataInventory;
using crm::v1::FieldRetention;
using crm::v1::InventoryField;
using crm::v1::InventoryObject;

// Web forms (purpose "sign-ups") write two contact fields and every lead
// field and record contacts' consent; "notes" (services/notes, no purpose)
// writes accounts.industry.
constexpr char kSources[] = R"pb(
  data_sources {
    name: "dataSources/web-forms"
    display_name: "Web forms"
    kind: WEB_FORMS
    service: "services/web"
    purpose: "sign-ups"
    writes { object: "contacts" fields: "email" fields: "last_name" consent: true }
    writes { object: "leads" }
  }
  data_sources {
    name: "dataSources/notes"
    kind: INTERACTIONS
    service: "services/notes"
    writes { object: "accounts" fields: "industry" }
  }
)pb";

// The test services, plus "notes" (edits accounts), "gateway" (creates
// cases; no data source of its own) and "campaigns" (purpose marketing).
google::protobuf::RepeatedPtrField<crm::internal::ServiceConfig> Services() {
  auto services = policy::testing::TestServices();
  const char* extra[] = {
      R"pb(name: "notes" grants { object: "accounts" read: true edit: true })pb",
      R"pb(name: "gateway" grants { object: "cases" read: true create: true })pb",
      R"pb(name: "campaigns" purpose: "marketing"
           grants { object: "contacts" read: true })pb",
  };
  for (const char* text : extra) {
    EXPECT_TRUE(
        google::protobuf::TextFormat::ParseFromString(text, services.Add()))
        << text;
  }
  return services;
}

std::shared_ptr<const policy::PolicySnapshot> Snapshot(bool with_sources) {
  crm::internal::PolicyState state = policy::testing::TestState();
  state.set_version(42);
  if (with_sources) {
    EXPECT_TRUE(google::protobuf::TextFormat::MergeFromString(kSources, &state));
  }
  auto s = policy::PolicySnapshot::Build(state, Services(),
                                         model::SchemaRegistry::Default());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : nullptr;
}

RetentionRules Retention() {
  RetentionRules rules;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(name: "stale-leads" object: "leads" max_age_days: 730
           action: ANONYMIZE fields: "first_name" fields: "email")pb",
      rules.Add()));
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(name: "old-activities" object: "activities" max_age_days: 1095
           action: DELETE)pb",
      rules.Add()));
  return rules;
}

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

DataInventory Inventory(bool with_sources,
                        crm::v1::GetDataInventoryRequest request = {}) {
  auto snapshot = Snapshot(with_sources);
  DataInventory out;
  if (snapshot == nullptr) return out;
  absl::Status s = BuildDataInventory(*snapshot, DefaultErasureRules(),
                                      Retention(), request, kNow, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

const InventoryObject& Object(const DataInventory& inv, const std::string& o) {
  for (const InventoryObject& obj : inv.objects()) {
    if (obj.object() == o) return obj;
  }
  ADD_FAILURE() << "no object " << o;
  static const InventoryObject none;
  return none;
}

const InventoryField& Field(const DataInventory& inv, const std::string& o,
                            const std::string& f) {
  for (const InventoryField& field : Object(inv, o).fields()) {
    if (field.name() == f) return field;
  }
  ADD_FAILURE() << "no field " << o << "." << f;
  static const InventoryField none;
  return none;
}

std::vector<int> Flags(const InventoryField& f) {
  return {f.flags().begin(), f.flags().end()};
}

TEST(DataInventory, CarriesThePolicyVersionTheTimeAndEveryObject) {
  DataInventory inv = Inventory(true);
  EXPECT_EQ(inv.policy_version(), 42);
  EXPECT_EQ(inv.generate_time().seconds(), 1'800'000'000);
  EXPECT_EQ(inv.objects_size(),
            static_cast<int>(model::SchemaRegistry::Default().All().size()));
  // Every stored field, in the schema's order; totals add up.
  int fields = 0, personal = 0, flagged = 0, encrypted = 0;
  for (const InventoryObject& o : inv.objects()) {
    const model::ObjectSchema* schema =
        model::SchemaRegistry::Default().Find(o.object());
    ASSERT_NE(schema, nullptr) << o.object();
    ASSERT_EQ(o.fields_size(), static_cast<int>(schema->fields().size()));
    int op = 0, of = 0;
    for (int i = 0; i < o.fields_size(); ++i) {
      EXPECT_EQ(o.fields(i).name(), schema->fields()[i].name);
      op += o.fields(i).personal();
      of += !o.fields(i).flags().empty();
      encrypted += o.fields(i).encrypted_at_rest();
    }
    EXPECT_EQ(o.personal_fields(), op) << o.object();
    EXPECT_EQ(o.flagged_fields(), of) << o.object();
    fields += o.fields_size();
    personal += op;
    flagged += of;
  }
  EXPECT_EQ(inv.total_fields(), fields);
  EXPECT_EQ(inv.personal_fields(), personal);
  EXPECT_EQ(inv.flagged_fields(), flagged);
  EXPECT_EQ(inv.encrypted_fields(), encrypted);
  EXPECT_EQ(encrypted, 2);  // contacts.personal_phone, personal_email
}

TEST(DataInventory, FieldSourcesPurposesAndTheirFlags) {
  DataInventory inv = Inventory(true);
  EXPECT_TRUE(inv.sources_registered());
  // A field a source with a purpose writes: no source flag.
  const InventoryField& email = Field(inv, "contacts", "email");
  EXPECT_THAT(email.sources(), ElementsAre("dataSources/web-forms"));
  EXPECT_THAT(email.purposes(), ElementsAre("sign-ups"));
  // A field no source may write.
  const InventoryField& title = Field(inv, "contacts", "title");
  EXPECT_THAT(title.sources(), IsEmpty());
  EXPECT_THAT(Flags(title), ::testing::Contains(crm::v1::NO_SOURCE));
  const InventoryField& name = Field(inv, "accounts", "display_name");
  EXPECT_THAT(Flags(name), ElementsAre(crm::v1::NO_SOURCE));
  // Written, but by a source recording no purpose.
  const InventoryField& industry = Field(inv, "accounts", "industry");
  EXPECT_THAT(industry.sources(), ElementsAre("dataSources/notes"));
  EXPECT_THAT(industry.purposes(), IsEmpty());
  EXPECT_THAT(Flags(industry), ElementsAre(crm::v1::NO_PURPOSE));
  // A source that lists no fields writes every field of the object, but a
  // server-set field has no source and no flag.
  EXPECT_THAT(Field(inv, "leads", "company").sources(),
              ElementsAre("dataSources/web-forms"));
  const InventoryField& created = Field(inv, "leads", "create_time");
  EXPECT_TRUE(created.server_set());
  EXPECT_THAT(created.sources(), IsEmpty());
  EXPECT_THAT(Flags(created), IsEmpty());
  EXPECT_EQ(created.type(), "timestamp");
}

TEST(DataInventory, AServiceWithoutSourcesWritesAsItsImplicitInteractions) {
  DataInventory inv = Inventory(true);
  // "gateway" creates cases and has no data source; "web" has one and is
  // not implicit; "readonly" and "campaigns" write nothing.
  std::vector<std::string> implicit;
  for (const auto& s : inv.sources()) {
    if (s.implicit()) {
      implicit.push_back(s.name());
      EXPECT_EQ(s.kind(), crm::v1::INTERACTIONS);
      EXPECT_TRUE(s.purpose().empty());
    }
  }
  EXPECT_THAT(implicit, ElementsAre("interactions:services/gateway"));
  const InventoryField& subject = Field(inv, "cases", "subject");
  EXPECT_THAT(subject.sources(),
              ElementsAre("interactions:services/gateway"));
  EXPECT_THAT(Flags(subject), ::testing::Contains(crm::v1::NO_PURPOSE));
  // Registered sources come first, in name order, with what they write.
  ASSERT_GE(inv.sources_size(), 3);
  EXPECT_EQ(inv.sources(0).name(), "dataSources/notes");
  EXPECT_EQ(inv.sources(1).name(), "dataSources/web-forms");
  EXPECT_EQ(inv.sources(1).service(), "services/web");
  EXPECT_EQ(inv.sources(1).display_name(), "Web forms");
  EXPECT_THAT(inv.sources(1).objects(), ElementsAre("contacts", "leads"));
  EXPECT_THAT(inv.sources(1).consent_objects(), ElementsAre("contacts"));
}

TEST(DataInventory, WithNoSourceRegisteredEveryWritableFieldIsFlagged) {
  DataInventory inv = Inventory(false);
  EXPECT_FALSE(inv.sources_registered());
  EXPECT_THAT(inv.sources(), IsEmpty());  // no implicit source either
  for (const InventoryObject& o : inv.objects()) {
    for (const InventoryField& f : o.fields()) {
      EXPECT_THAT(f.sources(), IsEmpty());
      if (f.server_set()) {
        EXPECT_THAT(Flags(f), IsEmpty()) << o.object() << "." << f.name();
      } else {
        EXPECT_EQ(Flags(f).front(), crm::v1::SOURCES_NOT_REGISTERED)
            << o.object() << "." << f.name();
      }
    }
  }
}

TEST(DataInventory, EncryptionBlindIndexAndConsent) {
  DataInventory inv = Inventory(true);
  const InventoryField& pe = Field(inv, "contacts", "personal_email");
  EXPECT_TRUE(pe.sensitive());
  EXPECT_TRUE(pe.encrypted_at_rest());
  EXPECT_TRUE(pe.blind_index());
  EXPECT_TRUE(pe.personal());
  EXPECT_EQ(pe.consent_channel(), "email");
  const InventoryField& pp = Field(inv, "contacts", "personal_phone");
  EXPECT_TRUE(pp.encrypted_at_rest());
  EXPECT_FALSE(pp.blind_index());
  const InventoryField& city = Field(inv, "accounts", "billing_city");
  EXPECT_FALSE(city.encrypted_at_rest());
  EXPECT_FALSE(city.personal());
  // Consent: contacts are consent subjects, governed by every purpose of
  // the policy (campaigns: marketing); accounts are not.
  EXPECT_THAT(inv.consent_purposes(), ElementsAre("marketing"));
  const InventoryObject& contacts = Object(inv, "contacts");
  EXPECT_TRUE(contacts.consent_subject());
  EXPECT_THAT(contacts.consent_purposes(), ElementsAre("marketing"));
  EXPECT_THAT(contacts.consent_sources(),
              ElementsAre("dataSources/web-forms"));
  EXPECT_THAT(Field(inv, "contacts", "phone").consent_purposes(),
              ElementsAre("marketing"));
  EXPECT_FALSE(Object(inv, "accounts").consent_subject());
  EXPECT_THAT(city.consent_purposes(), IsEmpty());
}

TEST(DataInventory, RetentionAndErasurePerField) {
  DataInventory inv = Inventory(true);
  // leads: stale-leads anonymizes first_name and email; erasure empties
  // the lead's personal fields.
  const InventoryField& email = Field(inv, "leads", "email");
  ASSERT_EQ(email.retention_size(), 1);
  EXPECT_EQ(email.retention(0).rule(), "stale-leads");
  EXPECT_EQ(email.retention(0).max_age_days(), 730);
  EXPECT_EQ(email.retention(0).effect(), FieldRetention::ANONYMIZED);
  EXPECT_EQ(email.erasure(), crm::v1::ERASURE_ANONYMIZES_FIELD);
  EXPECT_TRUE(email.personal());
  EXPECT_THAT(Flags(email), IsEmpty());
  const InventoryField& status = Field(inv, "leads", "status");
  ASSERT_EQ(status.retention_size(), 1);
  EXPECT_EQ(status.retention(0).effect(), FieldRetention::KEPT);
  EXPECT_EQ(status.erasure(), crm::v1::ERASURE_KEEPS_FIELD);
  EXPECT_FALSE(status.personal());
  EXPECT_EQ(Object(inv, "leads").retention_rules_size(), 1);
  // activities: deleted with the record by both.
  const InventoryField& subject = Field(inv, "activities", "subject");
  ASSERT_EQ(subject.retention_size(), 1);
  EXPECT_EQ(subject.retention(0).effect(), FieldRetention::DELETED_WITH_RECORD);
  EXPECT_EQ(subject.erasure(), crm::v1::ERASURE_DELETES_RECORD);
  // About the person (erasure deletes it with the record), and limited by
  // old-activities: no finding of personal data.
  EXPECT_TRUE(subject.personal());
  EXPECT_THAT(Flags(subject), Not(Contains(crm::v1::PERSONAL_NO_RETENTION)));
  EXPECT_FALSE(Field(inv, "activities", "create_time").personal());
  // contacts: no retention rule; mailing_country is a postal channel the
  // erasure rule keeps: both personal-data findings.
  const InventoryField& country = Field(inv, "contacts", "mailing_country");
  EXPECT_TRUE(country.personal());
  EXPECT_THAT(country.retention(), IsEmpty());
  EXPECT_EQ(country.erasure(), crm::v1::ERASURE_KEEPS_FIELD);
  EXPECT_THAT(Flags(country),
              ElementsAre(crm::v1::NO_SOURCE,
                          crm::v1::PERSONAL_KEPT_ON_ERASURE,
                          crm::v1::PERSONAL_NO_RETENTION));
  // accounts: no erasure rule.
  EXPECT_EQ(Field(inv, "accounts", "phone").erasure(),
            crm::v1::ERASURE_NO_RULE);
  EXPECT_FALSE(Object(inv, "accounts").has_erasure_rule());
  EXPECT_EQ(Object(inv, "cases").erasure_rule().action(),
            crm::v1::ErasureRule::ANONYMIZE);
}

TEST(DataInventory, ObjectFilterAndUnknownObject) {
  crm::v1::GetDataInventoryRequest request;
  request.add_objects("leads");
  request.add_objects("contacts");
  DataInventory inv = Inventory(true, request);
  ASSERT_EQ(inv.objects_size(), 2);
  EXPECT_EQ(inv.objects(0).object(), "contacts");  // collection order
  EXPECT_EQ(inv.objects(1).object(), "leads");
  EXPECT_EQ(inv.total_fields(),
            inv.objects(0).fields_size() + inv.objects(1).fields_size());

  request.add_objects("widgets");
  auto snapshot = Snapshot(true);
  ASSERT_NE(snapshot, nullptr);
  DataInventory out;
  absl::Status s = BuildDataInventory(*snapshot, DefaultErasureRules(),
                                      Retention(), request, kNow, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown object 'widgets'"));
  EXPECT_THAT(s.message(), HasSubstr("contacts"));
}

}  // namespace
}  // namespace crm::records
