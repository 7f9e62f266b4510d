// Pure tests of crmctl's parts: no server, no network.
#include "clients/cli.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "clients/channel.h"
#include "clients/cli_args.h"
#include "clients/descriptor_catalog.h"
#include "clients/field_values.h"
#include "clients/output_format.h"
#include "clients/resource_requests.h"
#include "crm/v1/crm_service.pb.h"
#include "crm/v1/resources.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// --- Global flags ---------------------------------------------------------

TEST(ParseGlobalFlags, DefaultsWithoutEnvironment) {
  auto line = ParseGlobalFlags({"accounts", "get", "1"}, FakeEnv({}));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->globals.channel.target, "localhost:8443");
  EXPECT_EQ(line->globals.channel.ca_file, "certs/out/ca.pem");
  EXPECT_EQ(line->globals.channel.cert_file, "certs/out/admin-cli.pem");
  EXPECT_EQ(line->globals.channel.key_file, "certs/out/admin-cli.key");
  EXPECT_EQ(line->globals.token, "");
  EXPECT_EQ(line->globals.output, OutputFormat::kTable);
  EXPECT_THAT(line->command, ElementsAre("accounts", "get", "1"));
}

TEST(ParseGlobalFlags, EnvironmentThenFlagsOverride) {
  auto env = FakeEnv({{"CRM_TARGET", "env:1"},
                      {"CRM_CA", "env-ca.pem"},
                      {"CRM_CERT", "env.pem"},
                      {"CRM_KEY", "env.key"},
                      {"CRM_TOKEN", "envtoken"}});
  auto line = ParseGlobalFlags(
      {"--target", "flag:2", "--key=flag.key", "--output", "json",
       "--deadline=2.5", "--forwarded-for", "203.0.113.7", "echo", "hi"},
      env);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(line->globals.channel.target, "flag:2");
  EXPECT_EQ(line->globals.channel.ca_file, "env-ca.pem");
  EXPECT_EQ(line->globals.channel.cert_file, "env.pem");
  EXPECT_EQ(line->globals.channel.key_file, "flag.key");
  EXPECT_EQ(line->globals.token, "envtoken");
  EXPECT_EQ(line->globals.forwarded_for, "203.0.113.7");
  EXPECT_EQ(line->globals.output, OutputFormat::kJson);
  EXPECT_EQ(line->globals.channel.default_deadline, absl::Milliseconds(2500));
  EXPECT_THAT(line->command, ElementsAre("echo", "hi"));
}

TEST(ParseGlobalFlags, FlagsAfterCommandBelongToCommand) {
  auto line =
      ParseGlobalFlags({"accounts", "list", "--target", "x"}, FakeEnv({}));
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->globals.channel.target, "localhost:8443");
  EXPECT_THAT(line->command, ElementsAre("accounts", "list", "--target", "x"));
}

TEST(ParseGlobalFlags, Errors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--nope", "echo"}, "unknown global flag '--nope'"},
      {{"--target"}, "--target needs a value"},
      {{"--output", "yaml", "echo"}, "'yaml' is not one of: table, json"},
      {{"--deadline", "-1", "echo"}, "not a positive number"},
      {{"--deadline", "soon", "echo"}, "not a positive number"},
      {{"-x", "echo"}, "unknown flag '-x'"},
  };
  for (const Case& c : cases) {
    auto line = ParseGlobalFlags(c.args, FakeEnv({}));
    ASSERT_FALSE(line.ok()) << c.args[0];
    EXPECT_EQ(line.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(line.status().message()), HasSubstr(c.message))
        << "args starting " << c.args[0];
  }
}

TEST(ParseGlobalFlags, Help) {
  auto line = ParseGlobalFlags({"-h"}, FakeEnv({}));
  ASSERT_TRUE(line.ok());
  EXPECT_TRUE(line->globals.help);
}

// --- Command flags --------------------------------------------------------

const std::vector<FlagSpec> kListFlags = {{"filter", true}, {"all", false}};

TEST(ParseCommandArgs, FlagsAndPositionalsInAnyOrder) {
  auto a = ParseCommandArgs({"x=1", "--filter", "a = 1", "--all", "y=2"},
                            kListFlags, "cmd");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(a->positional, ElementsAre("x=1", "y=2"));
  EXPECT_EQ(a->Get("filter"), "a = 1");
  EXPECT_TRUE(a->Has("all"));
}

TEST(ParseCommandArgs, EqualsFormAndDoubleDash) {
  auto a =
      ParseCommandArgs({"--filter=--odd", "--", "--all"}, kListFlags, "cmd");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Get("filter"), "--odd");
  EXPECT_FALSE(a->Has("all"));
  EXPECT_THAT(a->positional, ElementsAre("--all"));
}

TEST(ParseCommandArgs, Errors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--bogus"}, "cmd: unknown flag '--bogus'; its flags: --filter, --all"},
      {{"--filter"}, "--filter needs a value"},
      {{"--filter", "a", "--filter", "b"}, "--filter given twice"},
      {{"--all=yes"}, "--all takes no value"},
  };
  for (const Case& c : cases) {
    auto a = ParseCommandArgs(c.args, kListFlags, "cmd");
    ASSERT_FALSE(a.ok()) << c.message;
    EXPECT_THAT(std::string(a.status().message()), HasSubstr(c.message));
  }
}

// --- Value coercion -------------------------------------------------------

const google::protobuf::FieldDescriptor* Field(
    const google::protobuf::Message& m, const std::string& name) {
  return m.GetDescriptor()->FindFieldByName(name);
}

TEST(SetFieldFromText, EachType) {
  crm::v1::Account account;
  ASSERT_TRUE(
      SetFieldFromText(&account, Field(account, "display_name"), "Acme Ltd")
          .ok());
  ASSERT_TRUE(
      SetFieldFromText(&account, Field(account, "employee_count"), "120").ok());
  ASSERT_TRUE(
      SetFieldFromText(&account, Field(account, "annual_revenue"), "1.5e6")
          .ok());
  EXPECT_EQ(account.display_name(), "Acme Ltd");
  EXPECT_EQ(account.employee_count(), 120);
  EXPECT_DOUBLE_EQ(account.annual_revenue(), 1.5e6);

  google::protobuf::BoolValue b;
  ASSERT_TRUE(SetFieldFromText(&b, Field(b, "value"), "TRUE").ok());
  EXPECT_TRUE(b.value());
  ASSERT_TRUE(SetFieldFromText(&b, Field(b, "value"), "no").ok());
  EXPECT_FALSE(b.value());

  google::protobuf::Int32Value i32;
  ASSERT_TRUE(SetFieldFromText(&i32, Field(i32, "value"), "-7").ok());
  EXPECT_EQ(i32.value(), -7);

  crm::v1::Lead lead;
  ASSERT_TRUE(SetFieldFromText(&lead, Field(lead, "status"), "qualified").ok());
  EXPECT_EQ(lead.status(), crm::v1::Lead::QUALIFIED);

  crm::v1::Opportunity opp;
  ASSERT_TRUE(SetFieldFromText(&opp, Field(opp, "close_time"),
                               "2024-05-01T09:30:00.25+02:00")
                  .ok());
  EXPECT_EQ(opp.close_time().seconds(), 1714548600);
  EXPECT_EQ(opp.close_time().nanos(), 250000000);
}

TEST(SetFieldFromText, EmptyClears) {
  crm::v1::Account account;
  account.set_industry("Retail");
  account.set_employee_count(5);
  ASSERT_TRUE(SetFieldFromText(&account, Field(account, "industry"), "").ok());
  ASSERT_TRUE(
      SetFieldFromText(&account, Field(account, "employee_count"), "").ok());
  EXPECT_EQ(account.industry(), "");
  EXPECT_EQ(account.employee_count(), 0);
}

TEST(SetFieldFromText, BadValuesNameFieldAndExpectation) {
  crm::v1::Account account;
  crm::v1::Lead lead;
  crm::v1::Activity activity;
  google::protobuf::BoolValue b;
  google::protobuf::Int32Value i32;
  google::protobuf::UInt32Value u32;
  struct Case {
    google::protobuf::Message* message;
    std::string field, text, expected;
  } cases[] = {
      {&account, "employee_count", "12x",
       "field 'employee_count' expects an integer (int64), got '12x'"},
      {&account, "employee_count", "1.5", "expects an integer"},
      {&i32, "value", "3000000000", "expects an integer (int32)"},
      {&u32, "value", "-1", "expects an integer (uint32)"},
      {&account, "annual_revenue", "lots", "expects a finite number"},
      {&account, "annual_revenue", "inf", "expects a finite number"},
      {&b, "value", "maybe", "expects true or false"},
      {&lead, "status", "HOT",
       "field 'status': 'HOT' is not a Status; valid values: "
       "STATUS_UNSPECIFIED, "
       "NEW, WORKING, QUALIFIED, UNQUALIFIED, CONVERTED"},
      {&activity, "occur_time", "yesterday", "expects an RFC 3339 time"},
      {&activity, "occur_time", "2024-13-01T00:00:00Z",
       "expects an RFC 3339 time"},
      {&activity, "occur_time", "2024-05-01 10:00", "expects an RFC 3339 time"},
  };
  for (const Case& c : cases) {
    absl::Status s =
        SetFieldFromText(c.message, Field(*c.message, c.field), c.text);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
        << c.field << "=" << c.text;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected))
        << c.field << "=" << c.text;
  }
}

TEST(FindSettableField, UnknownAndOutputOnly) {
  auto unknown = FindSettableField(crm::v1::Account::descriptor(), "colour",
                                   FieldAccess::kWritable);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()),
              HasSubstr("unknown field 'colour' for Account; settable fields: "
                        "display_name, industry, website"));
  auto output_only = FindSettableField(crm::v1::Account::descriptor(), "owner",
                                       FieldAccess::kWritable);
  ASSERT_FALSE(output_only.ok());
  EXPECT_THAT(std::string(output_only.status().message()),
              HasSubstr("field 'owner' is output-only"));
  auto any = FindSettableField(crm::v1::Account::descriptor(), "owner",
                               FieldAccess::kAny);
  EXPECT_TRUE(any.ok());
  auto camel = FindSettableField(crm::v1::Account::descriptor(), "displayName",
                                 FieldAccess::kWritable);
  ASSERT_TRUE(camel.ok());
  EXPECT_EQ((*camel)->name(), "display_name");
}

TEST(ApplyAssignments, MaskPathsInOrderWithoutDuplicates) {
  crm::v1::Account account;
  auto paths = ApplyAssignments(
      &account, {"phone=+44 1", "industry=", "phone=+44 2", "website=a=b"});
  ASSERT_TRUE(paths.ok()) << paths.status();
  EXPECT_THAT(*paths, ElementsAre("phone", "industry", "website"));
  EXPECT_EQ(account.phone(), "+44 2");
  EXPECT_EQ(account.website(), "a=b");
}

TEST(ApplyAssignments, Errors) {
  crm::v1::Account account;
  EXPECT_THAT(
      std::string(ApplyAssignments(&account, {"phone"}).status().message()),
      HasSubstr("expected field=value, got 'phone'"));
  EXPECT_THAT(
      std::string(ApplyAssignments(&account, {"=x"}).status().message()),
      HasSubstr("expected field=value"));
  EXPECT_THAT(
      std::string(ApplyAssignments(&account, {"nope=1"}).status().message()),
      HasSubstr("unknown field 'nope'"));
}

// --- Requests -------------------------------------------------------------

ResourceMethods Resource(const std::string& collection) {
  auto r = FindResource(collection);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

TEST(FindResource, EveryCollectionHasItsStandardMethods) {
  EXPECT_THAT(Collections(), ElementsAre("accounts", "activities", "cases",
                                         "contacts", "leads", "opportunities"));
  for (const std::string& c : Collections()) {
    ResourceMethods r = Resource(c);
    ASSERT_NE(r.get, nullptr) << c;
    ASSERT_NE(r.list, nullptr) << c;
    ASSERT_NE(r.create, nullptr) << c;
    ASSERT_NE(r.update, nullptr) << c;
    ASSERT_NE(r.remove, nullptr) << c;
    EXPECT_TRUE(absl::StartsWith(r.get->name(), "Get")) << c;
    EXPECT_TRUE(absl::StartsWith(r.remove->name(), "Delete")) << c;
    EXPECT_EQ(r.service, r.get->service()) << c;
  }
  EXPECT_EQ(Resource("opportunities").list->name(), "ListOpportunities");
  auto missing = FindResource("widgets");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("accounts, activities"));
}

TEST(FindMethod, FullShortAndUnknown) {
  auto full = FindMethod("crm.v1.AccountService/GetAccount");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(MethodPath(*full), "/crm.v1.AccountService/GetAccount");
  auto slash = FindMethod("/crm.v1.DiagnosticsService/Echo");
  ASSERT_TRUE(slash.ok());
  auto short_name = FindMethod("LeadService/ListLeads");
  ASSERT_TRUE(short_name.ok());
  EXPECT_EQ((*short_name)->full_name(), "crm.v1.LeadService.ListLeads");
  EXPECT_THAT(std::string(FindMethod("NoService/X").status().message()),
              HasSubstr("known services: crm.v1.AccessReviewService, "
                        "crm.v1.AccountService"));
  EXPECT_THAT(std::string(FindMethod("AccountService/Frob").status().message()),
              HasSubstr("its methods: GetAccount, ListAccounts"));
  EXPECT_EQ(FindMethod("AccountService").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResourceName, AcceptsIdOrNameInCollection) {
  EXPECT_EQ(*ResourceName("accounts", "a1"), "accounts/a1");
  EXPECT_EQ(*ResourceName("accounts", "accounts/a1"), "accounts/a1");
  EXPECT_FALSE(ResourceName("accounts", "contacts/a1").ok());
  EXPECT_FALSE(ResourceName("accounts", "").ok());
}

TEST(BuildUpdateRequest, MaskIsAssignedFieldsAndEtagIsConditional) {
  auto request = BuildUpdateRequest(
      Resource("cases"), "c9", {"priority=high", "origin=", "subject=Broken"},
      "", "etag-1");
  ASSERT_TRUE(request.ok()) << request.status();
  crm::v1::UpdateCaseRequest typed;
  typed.CopyFrom(**request);
  EXPECT_EQ(typed.case_().name(), "cases/c9");
  EXPECT_EQ(typed.case_().etag(), "etag-1");
  EXPECT_EQ(typed.case_().priority(), crm::v1::Case::HIGH);
  EXPECT_EQ(typed.case_().subject(), "Broken");
  EXPECT_THAT(typed.update_mask().paths(),
              ElementsAre("priority", "origin", "subject"));
}

TEST(BuildUpdateRequest, JsonKeysJoinTheMask) {
  auto request = BuildUpdateRequest(
      Resource("accounts"), "accounts/a1", {"phone=1"},
      R"({"industry": "Retail", "employeeCount": 3, "website": null})", "");
  ASSERT_TRUE(request.ok()) << request.status();
  crm::v1::UpdateAccountRequest typed;
  typed.CopyFrom(**request);
  EXPECT_THAT(typed.update_mask().paths(),
              ElementsAre("industry", "website", "employee_count", "phone"));
  EXPECT_EQ(typed.account().employee_count(), 3);
  EXPECT_EQ(typed.account().etag(), "");
}

TEST(BuildUpdateRequest, Errors) {
  EXPECT_THAT(
      std::string(BuildUpdateRequest(Resource("accounts"), "a1", {}, "", "")
                      .status()
                      .message()),
      HasSubstr("name the fields to change"));
  EXPECT_THAT(std::string(BuildUpdateRequest(Resource("accounts"), "a1",
                                             {"name=accounts/2"}, "", "")
                              .status()
                              .message()),
              HasSubstr("output-only"));
  EXPECT_THAT(std::string(BuildUpdateRequest(Resource("accounts"), "a1", {},
                                             R"({"colour": 1})", "")
                              .status()
                              .message()),
              HasSubstr("unknown field 'colour'"));
  EXPECT_FALSE(
      BuildUpdateRequest(Resource("accounts"), "leads/1", {"phone=1"}, "", "")
          .ok());
}

TEST(BuildCreateRequest, JsonThenAssignments) {
  auto request = BuildCreateRequest(
      Resource("activities"), {"kind=call", "occur_time=2024-01-02T03:04:05Z"},
      R"({"subject": "Intro", "kind": "EMAIL"})");
  ASSERT_TRUE(request.ok()) << request.status();
  crm::v1::CreateActivityRequest typed;
  typed.CopyFrom(**request);
  EXPECT_EQ(typed.activity().subject(), "Intro");
  EXPECT_EQ(typed.activity().kind(), crm::v1::Activity::CALL);
  EXPECT_EQ(typed.activity().occur_time().seconds(), 1704164645);
  EXPECT_FALSE(BuildCreateRequest(Resource("activities"), {}, "").ok());
  EXPECT_THAT(std::string(BuildCreateRequest(Resource("activities"), {}, "{bad")
                              .status()
                              .message()),
              HasSubstr("--json: not a valid Activity"));
}

TEST(BuildListAndDelete, SetRequestFields) {
  auto list = BuildListRequest(Resource("leads"),
                               {"status = NEW", "update_time desc", 20, "tok"});
  ASSERT_TRUE(list.ok());
  crm::v1::ListLeadsRequest l;
  l.CopyFrom(**list);
  EXPECT_EQ(l.filter(), "status = NEW");
  EXPECT_EQ(l.order_by(), "update_time desc");
  EXPECT_EQ(l.page_size(), 20);
  EXPECT_EQ(l.page_token(), "tok");
  auto del = BuildDeleteRequest(Resource("leads"), "l1", "e2");
  ASSERT_TRUE(del.ok());
  crm::v1::DeleteLeadRequest d;
  d.CopyFrom(**del);
  EXPECT_EQ(d.name(), "leads/l1");
  EXPECT_EQ(d.etag(), "e2");
}

// --- Output ---------------------------------------------------------------

TEST(FormatTable, AlignsColumnsAndTrimsTrailingSpace) {
  EXPECT_EQ(FormatTable({"NAME", "X"}, {{"accounts/1", "a"}, {"a/2", ""}}),
            "NAME        X\n"
            "accounts/1  a\n"
            "a/2\n");
}

crm::v1::Opportunity SampleOpportunity() {
  crm::v1::Opportunity o;
  o.set_name("opportunities/o1");
  o.set_owner("users/u1");
  o.set_display_name("Big deal");
  o.set_stage(crm::v1::Opportunity::NEGOTIATION);
  o.set_amount(2500.5);
  o.mutable_close_time()->set_seconds(1704164645);
  o.set_description("line one\nline two");
  return o;
}

TEST(FormatRecord, NameFirstThenNonEmptyFields) {
  EXPECT_EQ(FormatRecord(SampleOpportunity()),
            "FIELD         VALUE\n"
            "name          opportunities/o1\n"
            "owner         users/u1\n"
            "display_name  Big deal\n"
            "stage         NEGOTIATION\n"
            "amount        2500.5\n"
            "close_time    2024-01-02T03:04:05Z\n"
            "description   line one\\nline two\n");
}

TEST(FormatList, ColumnsAndNextPageToken) {
  crm::v1::Opportunity a = SampleOpportunity();
  crm::v1::Opportunity b;
  b.set_name("opportunities/o2");
  b.set_display_name(std::string(60, 'x'));
  std::string table =
      FormatList(crm::v1::Opportunity::descriptor(), {&a, &b}, "next1");
  EXPECT_EQ(
      table,
      "name              display_name                                      "
      "stage        amount  close_time            description         owner\n"
      "opportunities/o1  Big deal                                          "
      "NEGOTIATION  2500.5  2024-01-02T03:04:05Z  line one\\nline two  "
      "users/u1\n"
      "opportunities/o2  " +
          std::string(45, 'x') +
          "...\n"
          "next_page_token: next1\n");
  EXPECT_EQ(FormatList(crm::v1::Opportunity::descriptor(), {}, ""),
            "(no records)\n");
}

TEST(ListColumns, PrefersFilledFieldsThenOwner) {
  crm::v1::Case c;
  c.set_origin("email");
  auto columns = ListColumns(crm::v1::Case::descriptor(), {&c});
  std::vector<std::string> names;
  for (const auto* f : columns) names.push_back(f->name());
  EXPECT_THAT(names, ElementsAre("name", "subject", "account", "contact",
                                 "status", "origin", "owner"));
}

TEST(FormatJson, UsesProtoFieldNames) {
  auto json = FormatJson(SampleOpportunity());
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"display_name\": \"Big deal\""));
  EXPECT_THAT(*json, HasSubstr("\"close_time\": \"2024-01-02T03:04:05Z\""));
  EXPECT_THAT(*json, HasSubstr("\"stage\": \"NEGOTIATION\""));
}

// --- Channel --------------------------------------------------------------

TEST(IdempotentMethodNames, ReadMethodsOnlyFromEveryService) {
  std::vector<std::string> names = IdempotentMethodNames();
  auto has = [&names](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  EXPECT_TRUE(has("crm.v1.AccountService/GetAccount"));
  EXPECT_TRUE(has("crm.v1.ActivityService/ListActivities"));
  EXPECT_TRUE(has("crm.v1.DiagnosticsService/Echo"));
  EXPECT_TRUE(has("crm.v1.AuthService/WhoAmI"));
  for (const std::string& n : names) {
    EXPECT_FALSE(absl::StrContains(n, "/Create") ||
                 absl::StrContains(n, "/Update") ||
                 absl::StrContains(n, "/Delete"))
        << n;
  }
  EXPECT_TRUE(has("crm.v1.PolicyAdminService/ListPolicyObjects"));
  EXPECT_TRUE(has("crm.v1.SharingService/ListRecordShares"));
  EXPECT_TRUE(has("crm.v1.UserAdminService/ListUsers"));
  EXPECT_TRUE(has("crm.v1.AccessReviewService/ListRecordAccessors"));
  EXPECT_TRUE(has("crm.v1.AuditService/ListAuditEvents"));
  EXPECT_TRUE(has("crm.v1.AuditService/GetAuditPublicKey"));
  // Get and List of six resources, Echo, WhoAmI; GetPolicyObject,
  // ListPolicyObjects, ListPolicyVersions, GetPolicyVersion,
  // GetShadowPolicy, ListRecordShares; GetUser, ListUsers, GetProfile,
  // ListProfiles; ListRecordAccessors, GetAccessReviewReport;
  // ListAuditEvents, GetAuditPublicKey; GetKeyStatus (not RotateDataKey);
  // GetRecordProvenance, ListFieldHistory; GetConsent, ListConsentHistory
  // (not SetConsent).
  EXPECT_TRUE(has("crm.v1.AccessReviewService/GetAccessReviewReport"));
  EXPECT_TRUE(has("crm.v1.ConsentService/GetConsent"));
  EXPECT_TRUE(has("crm.v1.ConsentService/ListConsentHistory"));
  EXPECT_FALSE(has("crm.v1.ConsentService/SetConsent"));
  EXPECT_TRUE(has("crm.v1.ProvenanceService/GetRecordProvenance"));
  EXPECT_TRUE(has("crm.v1.ProvenanceService/ListFieldHistory"));
  EXPECT_TRUE(has("crm.v1.PolicyAdminService/GetPolicyVersion"));
  EXPECT_TRUE(has("crm.v1.PolicyAdminService/GetShadowPolicy"));
  EXPECT_TRUE(has("crm.v1.KeyAdminService/GetKeyStatus"));
  EXPECT_FALSE(has("crm.v1.KeyAdminService/RotateDataKey"));
  // GetErasureReceipt, GetErasureRules, ListRetentionRuns (not
  // ExportSubject: audited each time; not EraseSubject or RunRetention).
  EXPECT_TRUE(has("crm.v1.PrivacyService/GetErasureReceipt"));
  EXPECT_TRUE(has("crm.v1.PrivacyService/ListRetentionRuns"));
  EXPECT_FALSE(has("crm.v1.PrivacyService/EraseSubject"));
  EXPECT_FALSE(has("crm.v1.PrivacyService/RunRetention"));
  // GetDataInventory (read-only; each attempt audited).
  EXPECT_TRUE(has("crm.v1.DataInventoryService/GetDataInventory"));
  EXPECT_EQ(names.size(), 6u * 2 + 2 + 6 + 4 + 2 + 2 + 1 + 2 + 3 + 2 + 1);
}

TEST(RetryServiceConfigJson, RetriesUnavailableForGivenMethods) {
  std::string json =
      RetryServiceConfigJson({"crm.v1.A/GetX", "crm.v1.A/ListX"}, 9);
  EXPECT_THAT(json, HasSubstr(R"({"service": "crm.v1.A", "method": "GetX"})"));
  EXPECT_THAT(json, HasSubstr(R"("maxAttempts": 5)"));
  EXPECT_THAT(json, HasSubstr(R"("retryableStatusCodes": ["UNAVAILABLE"])"));
  // Valid JSON.
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
      << json;
  EXPECT_EQ(RetryServiceConfigJson({"crm.v1.A/GetX"}, 1),
            R"({"methodConfig": []})");
}

TEST(CreateChannel, NamesTheMissingFile) {
  ChannelOptions options;
  options.target = "localhost:1";
  options.ca_file = "/nonexistent/ca.pem";
  auto channel = CreateChannel(options);
  ASSERT_FALSE(channel.ok());
  EXPECT_THAT(std::string(channel.status().message()),
              HasSubstr("--ca: cannot read '/nonexistent/ca.pem'"));

  options.ca_file = "";
  options.cert_file = "client.pem";
  auto unpaired = CreateChannel(options);
  EXPECT_THAT(std::string(unpaired.status().message()),
              HasSubstr("certificate and its key go together"));
}

TEST(CreateChannel, ChecksPemContents) {
  const std::string dir = ::testing::TempDir();
  auto write = [&dir](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  ChannelOptions options;
  options.target = "localhost:1";
  options.ca_file = write("ca.pem", "-----BEGIN CERTIFICATE-----\nAA==\n");
  options.cert_file = write("c.pem", "-----BEGIN CERTIFICATE-----\nAA==\n");
  options.key_file = write("c.key", "-----BEGIN CERTIFICATE-----\nAA==\n");
  auto wrong_key = CreateChannel(options);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_THAT(std::string(wrong_key.status().message()),
              HasSubstr("--key: '" + options.key_file +
                        "' is not a PEM file with a PRIVATE KEY"));
  // Not a key: only a PEM marker (split so no file in the repo looks like one).
  options.key_file = write("c.key", "-----BEGIN PRIVATE" " KEY-----\nAA==\n");
  EXPECT_TRUE(CreateChannel(options).ok());  // Checked only; no connection yet.
}

// --- RunCli ---------------------------------------------------------------

int RunCapture(const std::vector<std::string>& args, std::string* out,
               std::string* err) {
  std::ostringstream o, e;
  CliDeps deps;
  deps.env = FakeEnv({});
  int code = RunCli(args, o, e, deps);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(RunCli, HelpAndUsageErrors) {
  std::string out, err;
  EXPECT_EQ(RunCapture({"--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("Exit codes"));
  EXPECT_EQ(RunCapture({"help", "leads"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("QUALIFIED"));

  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{}, "error: INVALID_ARGUMENT: missing command"},
      {{"widgets", "list"},
       "error: INVALID_ARGUMENT: unknown command 'widgets'"},
      {{"accounts", "frob"},
       "unknown verb 'frob' for accounts; verbs: get, list"},
      {{"accounts", "get"},
       "accounts get: wrong arguments; usage: crmctl accounts get NAME"},
      {{"accounts", "list", "--page-size", "0"},
       "--page-size '0' is not a positive"},
      {{"accounts", "create", "colour=red"}, "unknown field 'colour'"},
      {{"leads", "update", "l1", "status=hot"},
       "valid values: STATUS_UNSPECIFIED"},
      {{"call", "Nope/X", "{}"}, "error: NOT_FOUND: unknown service 'Nope'"},
      // Local checks come before connecting: certificate files are read last.
      // (An explicit path: certs/out/ exists wherever scripts/dev.sh ran.)
      {{"--ca", "/nonexistent/crm-cli-test/ca.pem", "accounts", "get", "1"},
       "--ca: cannot read '/nonexistent/crm-cli-test/ca.pem'"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RunCapture(c.args, &out, &err), kExitUsage) << c.err;
    EXPECT_THAT(err, HasSubstr(c.err));
  }
}

TEST(ExitCode, RpcErrorsAreTwoPlusCode) {
  EXPECT_EQ(ExitCode(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCode(absl::InvalidArgumentError("x")), 1);
  EXPECT_EQ(ExitCode(RpcError(absl::NotFoundError("x"))), 7);
  EXPECT_EQ(ExitCode(RpcError(absl::InvalidArgumentError("x"))), 5);
  EXPECT_EQ(ExitCode(RpcError(absl::UnauthenticatedError("x"))), 18);
}

}  // namespace
}  // namespace crm::client
