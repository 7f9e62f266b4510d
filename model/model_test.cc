// Schemas derived from descriptors, the record codec and input validation.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "crm/v1/resources.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "model/object_schema.h"
#include "model/record.h"
#include "model/resource_name.h"
#include "model/validation.h"

namespace crm::model {
namespace {

using ::testing::HasSubstr;

const ObjectSchema& Schema(const char* collection) {
  const ObjectSchema* s = SchemaRegistry::Default().Find(collection);
  EXPECT_NE(s, nullptr) << collection;
  return *s;
}

TEST(SchemaRegistry, HasEveryResource) {
  for (const char* c : {"accounts", "contacts", "leads", "opportunities",
                        "cases", "activities"}) {
    const ObjectSchema& s = Schema(c);
    EXPECT_EQ(s.collection(), c);
    EXPECT_EQ(s.FieldIndex("name"), -1) << "name is the id column, not a field";
    EXPECT_EQ(s.FieldIndex("etag"), -1);
    for (const char* f : {"create_time", "update_time", "owner", "source"}) {
      ASSERT_NE(s.FindField(f), nullptr) << c << "." << f;
      EXPECT_TRUE(s.FindField(f)->output_only) << c << "." << f;
    }
  }
  EXPECT_EQ(SchemaRegistry::Default().Find("users"), nullptr);
  EXPECT_EQ(SchemaRegistry::Default().All().size(), 6u);
}

TEST(ObjectSchema, FieldKindsAndBehaviour) {
  const ObjectSchema& contacts = Schema("contacts");
  EXPECT_EQ(contacts.FindField("last_name")->kind, FieldKind::kString);
  EXPECT_TRUE(contacts.FindField("last_name")->required);
  EXPECT_EQ(contacts.FindField("account")->references,
            std::vector<std::string>{"accounts"});
  EXPECT_TRUE(contacts.FindField("personal_phone")->sensitive);
  EXPECT_EQ(contacts.FindField("email")->max_length, 320u);
  const ObjectSchema& activities = Schema("activities");
  EXPECT_EQ(activities.FindField("kind")->kind, FieldKind::kEnum);
  EXPECT_EQ(activities.FindField("occur_time")->kind, FieldKind::kTimestamp);
  EXPECT_TRUE(activities.FindField("regarding")->immutable);
  EXPECT_EQ(Schema("opportunities").FindField("amount")->kind, FieldKind::kDouble);
  EXPECT_EQ(Schema("accounts").FindField("employee_count")->kind,
            FieldKind::kInt64);
}

TEST(RecordCodec, RoundTripsEveryKind) {
  const ObjectSchema& schema = Schema("opportunities");
  crm::v1::Opportunity in;
  in.set_display_name("Deal \xc3\xa9t\xc3\xa9");
  in.set_stage(crm::v1::Opportunity::CLOSED_WON);
  in.set_amount(-12.5);
  in.set_probability(90);
  in.mutable_close_time()->set_seconds(-86400);  // before the epoch
  in.mutable_close_time()->set_nanos(123456000);
  Record record = RecordFromMessage(schema, in);
  record.id = "o1";
  record.version = 7;
  EXPECT_EQ(std::get<std::string>(record.values[schema.FieldIndex("stage")]),
            "CLOSED_WON");
  EXPECT_EQ(std::get<int64_t>(record.values[schema.FieldIndex("close_time")]),
            -86400 * int64_t{1000000} + 123456);
  crm::v1::Opportunity out;
  RecordToMessage(schema, record, &out);
  EXPECT_EQ(out.name(), "opportunities/o1");
  EXPECT_EQ(out.etag(), "v7");
  EXPECT_EQ(out.display_name(), in.display_name());
  EXPECT_EQ(out.stage(), in.stage());
  EXPECT_EQ(out.amount(), in.amount());
  EXPECT_EQ(out.close_time().seconds(), -86400);
  EXPECT_EQ(out.close_time().nanos(), 123456000);
  EXPECT_FALSE(out.has_create_time()) << "0 micros means unset";
}

// Found by fuzz/record_codec_fuzzer (UBSan: signed overflow in
// TimestampMicros). A request's Timestamp is converted before validation
// looks at it, and Create converts the output-only ones too.
TEST(RecordCodec, TimestampsOfAnySecondsConvertWithoutOverflow) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(int64_t{1} << 62);
  EXPECT_EQ(TimestampMicros(ts), std::numeric_limits<int64_t>::max());
  ts.set_seconds(-(int64_t{1} << 62));
  EXPECT_EQ(TimestampMicros(ts), std::numeric_limits<int64_t>::min());
  for (int64_t micros : {std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::min() + 1, int64_t{-1},
                         int64_t{1}, std::numeric_limits<int64_t>::max()}) {
    SetTimestampMicros(micros, &ts);
    EXPECT_EQ(TimestampMicros(ts), micros) << ts.ShortDebugString();
  }
  const ObjectSchema& schema = Schema("opportunities");
  crm::v1::Opportunity opp;
  opp.set_display_name("x");
  opp.mutable_close_time()->set_seconds(int64_t{1} << 62);
  EXPECT_THAT(
      ValidateFields(schema, opp, CreatableFields(schema)).message(),
      HasSubstr("opportunity.close_time: timestamp out of range"));
  opp.clear_close_time();
  opp.mutable_create_time()->set_seconds(-(int64_t{1} << 62));
  EXPECT_EQ(std::get<int64_t>(RecordFromMessage(schema, opp)
                                  .values[schema.FieldIndex("create_time")]),
            std::numeric_limits<int64_t>::min());
}

// Found by fuzz/record_codec_fuzzer (UBSan: 5e175 is outside the range of
// long): a double column value for an integer field.
TEST(RecordCodec, DoubleForAnIntegerFieldConvertsOnlyWhenItFits) {
  const ObjectSchema& schema = Schema("accounts");
  const FieldSchema& count = *schema.FindField("employee_count");
  crm::v1::Account account;
  SetFieldValue(count, 41.9, &account);
  EXPECT_EQ(account.employee_count(), 41);
  for (double d : {5.0111e175, -1e19, 9223372036854775808.0,
                   std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::infinity()}) {
    account.set_employee_count(7);
    SetFieldValue(count, d, &account);
    EXPECT_EQ(account.employee_count(), 0) << d;
  }
  SetFieldValue(count, -9223372036854775808.0, &account);
  EXPECT_EQ(account.employee_count(), std::numeric_limits<int64_t>::min());
}

TEST(RecordCodec, UnknownEnumNameBecomesDefault) {
  const ObjectSchema& schema = Schema("leads");
  crm::v1::Lead lead;
  SetFieldValue(*schema.FindField("status"), std::string("RETIRED_VALUE"), &lead);
  EXPECT_EQ(lead.status(), crm::v1::Lead::STATUS_UNSPECIFIED);
}

TEST(Etag, OnlyIssuedFormsParse) {
  EXPECT_EQ(*ParseEtag(EtagOf(42)), 42);
  for (const char* bad : {"", "v", "v0", "v-1", "42", "w/\"1\"", "v1x",
                          "v99999999999999999999999"}) {
    EXPECT_FALSE(ParseEtag(bad).ok()) << bad;
  }
  // Found by fuzz/resource_name_fuzzer: forms EtagOf never makes, which
  // absl::SimpleAtoi alone accepts.
  for (const char* bad : {"v8\n", "v8 ", "v 8", "v+8", "v08", "v\t8"}) {
    EXPECT_FALSE(ParseEtag(bad).ok()) << bad;
  }
}

TEST(ResourceName, ParsesAndExplains) {
  std::vector<std::string> accounts = {"accounts"};
  auto ok = ParseResourceName("accounts/a-1_B", accounts, "name");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->id, "a-1_B");
  struct Case {
    const char* name;
    const char* message;
  };
  for (const Case& c : {Case{"accounts", "not a resource name"},
                        Case{"leads/x", "expected accounts/{id}"},
                        Case{"accounts/", "invalid id"},
                        Case{"accounts/x/y", "invalid id"},
                        Case{"accounts/x y", "invalid id"}}) {
    auto r = ParseResourceName(c.name, accounts, "name");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(r.status().message(), HasSubstr(c.message)) << c.name;
  }
}

TEST(Validation, CreateRules) {
  const ObjectSchema& schema = Schema("contacts");
  std::vector<int> fields = CreatableFields(schema);
  EXPECT_EQ(std::count(fields.begin(), fields.end(), schema.FieldIndex("owner")), 0);
  struct Case {
    std::function<void(crm::v1::Contact&)> mutate;
    const char* message;  // "" = valid
  };
  const Case cases[] = {
      {[](crm::v1::Contact&) {}, ""},
      {[](crm::v1::Contact& c) { c.clear_last_name(); }, "contact.last_name: required"},
      {[](crm::v1::Contact& c) { c.set_email(std::string(321, 'e')); },
       "contact.email: 321 bytes; the limit is 320"},
      {[](crm::v1::Contact& c) { c.set_account("contacts/x"); }, "expected accounts/{id}"},
      {[](crm::v1::Contact& c) { c.set_account("accounts/ok"); }, ""},
  };
  for (const Case& c : cases) {
    crm::v1::Contact contact;
    contact.set_last_name("Hopper");
    c.mutate(contact);
    absl::Status s = ValidateFields(schema, contact, fields);
    if (std::string(c.message).empty()) {
      EXPECT_TRUE(s.ok()) << s;
    } else {
      EXPECT_THAT(s.message(), HasSubstr(c.message));
    }
  }
  crm::v1::Opportunity opp;
  opp.set_display_name("x");
  opp.set_amount(INFINITY);
  EXPECT_THAT(ValidateFields(Schema("opportunities"), opp,
                             CreatableFields(Schema("opportunities")))
                  .message(),
              HasSubstr("finite"));
  crm::v1::Activity activity;
  activity.set_subject("s");
  EXPECT_THAT(ValidateFields(Schema("activities"), activity,
                             CreatableFields(Schema("activities")))
                  .message(),
              HasSubstr("activity.kind: required"));
}

TEST(Validation, UpdateMask) {
  const ObjectSchema& schema = Schema("activities");
  google::protobuf::FieldMask mask;
  mask.add_paths("subject");
  mask.add_paths("duration_seconds");
  auto fields = ResolveUpdateMask(schema, mask);
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(*fields, (std::vector<int>{schema.FieldIndex("subject"),
                                       schema.FieldIndex("duration_seconds")}));
  mask.add_paths("regarding");
  EXPECT_THAT(ResolveUpdateMask(schema, mask).status().message(),
              HasSubstr("immutable"));
}

}  // namespace
}  // namespace crm::model
