#include "store/audit_json.h"

#include <string>
#include <vector>

#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace crm::store {
namespace {

using crm::v1::AuditEvent;
using google::protobuf::util::MessageDifferencer;

// Events whose changes and attributes exercise the writer's escaping.
std::vector<AuditEvent> Samples() {
  std::vector<AuditEvent> out;
  out.emplace_back();  // nothing
  {
    AuditEvent e;
    auto* c = e.add_changes();
    c->set_field("industry");
    c->set_before("\"Retail\"");
    c->set_after("\"Banking\"");
    c->set_values_recorded(true);
    e.add_changes()->set_field("phone");
    e.add_changes()->set_before("");  // present but empty, no field name
    (*e.mutable_attributes())["count"] = "50";
    (*e.mutable_attributes())["filter"] = "industry = \"Retail\" AND x\\y";
    out.push_back(e);
  }
  {
    AuditEvent e;
    (*e.mutable_attributes())["message"] =
        std::string("tab\tnew\nline\rcr \x01 ctl / slash \xc3\xa9 utf-8");
    (*e.mutable_attributes())[""] = "";
    e.add_changes()->set_after("members[2]");
    out.push_back(e);
  }
  return out;
}

AuditEvent Part(const AuditEvent& e, bool changes) {
  AuditEvent part;
  if (changes) {
    *part.mutable_changes() = e.changes();
  } else {
    *part.mutable_attributes() = e.attributes();
  }
  return part;
}

TEST(AuditJson, WritesWhatProtobufReadsAndReadsItBack) {
  for (const AuditEvent& e : Samples()) {
    for (bool changes : {true, false}) {
      SCOPED_TRACE(e.ShortDebugString() + (changes ? " changes" : " attrs"));
      const AuditEvent want = Part(e, changes);
      const std::string json = AuditPartJson(e, changes);
      if (want.ByteSizeLong() == 0) {
        EXPECT_EQ(json, "");
        continue;
      }
      AuditEvent by_protobuf;
      ASSERT_TRUE(
          google::protobuf::util::JsonStringToMessage(json, &by_protobuf).ok())
          << json;
      EXPECT_TRUE(MessageDifferencer::Equals(by_protobuf, want)) << json;
      AuditEvent ours;
      MergeAuditPartJson(json, &ours);
      EXPECT_TRUE(MessageDifferencer::Equals(ours, want)) << json;
    }
  }
}

TEST(AuditJson, ReadsWhatProtobufWrote) {
  for (const AuditEvent& e : Samples()) {
    for (bool changes : {true, false}) {
      for (bool proto_names : {true, false}) {
        const AuditEvent want = Part(e, changes);
        if (want.ByteSizeLong() == 0) continue;
        std::string json;
        google::protobuf::util::JsonPrintOptions options;
        options.preserve_proto_field_names = proto_names;
        options.add_whitespace = !proto_names;
        ASSERT_TRUE(
            google::protobuf::util::MessageToJsonString(want, &json, options)
                .ok());
        AuditEvent ours;
        MergeAuditPartJson(json, &ours);
        EXPECT_TRUE(MessageDifferencer::Equals(ours, want)) << json;
      }
    }
  }
}

TEST(AuditJson, OtherTextsAreProtobufs) {
  struct Case {
    std::string json;
    std::string want;  // ShortDebugString of the result; "" = unchanged
  };
  const std::vector<Case> cases = {
      {R"({"attributes":{"a":"\u00e9"}})",
       R"(attributes { key: "a" value: "\303\251" })"},
      {R"({"changes":[{"field":"x","valuesRecorded":true}]})",
       "changes { field: \"x\" values_recorded: true }"},
      {R"({"changes":[{"field":"x","before":null}]})",
       "changes { field: \"x\" }"},
      {R"({"attributes":{"a":"b"},"sequence":"7"})",
       "sequence: 7 attributes { key: \"a\" value: \"b\" }"},
      {R"({"attributes":{"a":"b"})", ""},         // truncated
      {R"({"attributes":{"a":"b"}} x)", ""},      // trailing garbage
      {R"({"nonsense":1})", ""},                  // unknown field
      {"not json", ""},
  };
  for (const Case& c : cases) {
    AuditEvent ours;
    MergeAuditPartJson(c.json, &ours);
    EXPECT_EQ(ours.ShortDebugString(), c.want) << c.json;
    AuditEvent theirs;
    if (!google::protobuf::util::JsonStringToMessage(c.json, &theirs).ok()) {
      theirs.Clear();
    }
    EXPECT_TRUE(MessageDifferencer::Equals(ours, theirs)) << c.json;
  }
}

}  // namespace
}  // namespace crm::store
