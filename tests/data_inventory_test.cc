// The data inventory ("what we hold and why", crm/v1/
// data_inventory_service.proto) through the real server over mTLS, on
// SQLite and PostgreSQL:
//   - with no data source registered, every writable field is flagged;
//     registering a source through the policy API shows in the next
//     report (its fields, purpose, the policy version), removing it again
//     too;
//   - retention (the server's configured rules) and erasure per field;
//   - a service without privacy_operations is refused, and the refusal and
//     the allowed calls are audited;
//   - `crmctl privacy inventory`: the markdown's totals and sections, the
//     CSV's rows and the JSON match the API's answer.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/data_inventory_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

const crm::v1::InventoryField* FindField(const crm::v1::DataInventory& inv,
                                         const std::string& object,
                                         const std::string& field) {
  for (const auto& o : inv.objects()) {
    if (o.object() != object) continue;
    for (const auto& f : o.fields()) {
      if (f.name() == field) return &f;
    }
  }
  return nullptr;
}

std::vector<int> Flags(const crm::v1::InventoryField& f) {
  return {f.flags().begin(), f.flags().end()};
}

class DataInventoryTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli",
               {"manage_policy", "privacy_operations", "view_audit"});
           auto* rule = config.mutable_privacy()->add_retention_rules();
           EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
               R"pb(name: "stale-leads" object: "leads" max_age_days: 730
                    action: ANONYMIZE fields: "first_name" fields: "email")pb",
               rule));
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    billing_ = server_->Client("billing");
  }

  grpc::Status Get(client::CrmClient& c, crm::v1::DataInventory* out,
                   std::vector<std::string> objects = {}) {
    auto stub = crm::v1::DataInventoryService::NewStub(c.channel());
    crm::v1::GetDataInventoryRequest req;
    for (const auto& o : objects) req.add_objects(o);
    auto ctx = c.NewContext();
    return stub->GetDataInventory(ctx.get(), req, out);
  }

  crm::v1::DataInventory Inventory() {
    crm::v1::DataInventory out;
    grpc::Status s = Get(*admin_, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  void CreateSource(const std::string& id, const std::string& text) {
    crm::v1::CreatePolicyObjectRequest req;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        text, req.mutable_object()->mutable_data_source()))
        << text;
    req.set_id(id);
    crm::v1::PolicyObject created;
    auto ctx = admin_->NewContext();
    grpc::Status s =
        admin_->policy_admin().CreatePolicyObject(ctx.get(), req, &created);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  void DeleteSource(const std::string& name) {
    crm::v1::DeletePolicyObjectRequest req;
    req.set_name(name);
    google::protobuf::Empty empty;
    auto ctx = admin_->NewContext();
    grpc::Status s =
        admin_->policy_admin().DeletePolicyObject(ctx.get(), req, &empty);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  // Events whose filter matches, waiting up to a minute for `want` of them
  // (refusals are queued without making the caller wait).
  std::vector<crm::v1::AuditEvent> AuditEvents(const std::string& filter,
                                               size_t want) {
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (true) {
      crm::v1::ListAuditEventsRequest req;
      req.set_filter(filter);
      req.set_page_size(100);
      crm::v1::ListAuditEventsResponse out;
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), req, &out);
      EXPECT_TRUE(s.ok()) << Text(s);
      if (!s.ok() || out.events_size() >= static_cast<int>(want) ||
          absl::Now() > deadline) {
        return {out.events().begin(), out.events().end()};
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  CliResult Crmctl(std::vector<std::string> args,
                   const std::string& service = "admin-cli") {
    return RunCrmctl(args, {{"CRM_TARGET", server_->target()},
                            {"CRM_CA", server_->certs().ca},
                            {"CRM_CERT", server_->certs().ClientCert(service)},
                            {"CRM_KEY", server_->certs().ClientKey(service)}});
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<client::CrmClient> billing_;
};

constexpr char kBilling[] = R"pb(
  display_name: "Billing"
  kind: ACCOUNTING
  service: "services/billing"
  purpose: "invoicing"
  writes { object: "opportunities" fields: "amount" fields: "stage" }
)pb";

TEST_P(DataInventoryTest, ARegisteredOrRemovedSourceShowsInTheNextReport) {
  // No data source: the source rule is off, every writable field flagged.
  crm::v1::DataInventory before = Inventory();
  EXPECT_FALSE(before.sources_registered());
  const auto* amount = FindField(before, "opportunities", "amount");
  ASSERT_NE(amount, nullptr);
  EXPECT_THAT(amount->sources(), IsEmpty());
  EXPECT_THAT(Flags(*amount), ElementsAre(crm::v1::SOURCES_NOT_REGISTERED));

  CreateSource("billing", kBilling);
  crm::v1::DataInventory after = Inventory();
  EXPECT_GT(after.policy_version(), before.policy_version());
  EXPECT_TRUE(after.sources_registered());
  amount = FindField(after, "opportunities", "amount");
  ASSERT_NE(amount, nullptr);
  // Billing as itself; the services with write grants and no source of
  // their own for their users, as their implicit interactions source (no
  // purpose).
  EXPECT_THAT(amount->sources(),
              ElementsAre("dataSources/billing",
                          "interactions:services/admin-cli",
                          "interactions:services/expired",
                          "interactions:services/revoked",
                          "interactions:services/web-frontend"));
  EXPECT_THAT(amount->purposes(), ElementsAre("invoicing"));
  EXPECT_THAT(Flags(*amount), IsEmpty());
  // A field only implicit sources write: no purpose recorded.
  const auto* desc = FindField(after, "opportunities", "description");
  ASSERT_NE(desc, nullptr);
  EXPECT_THAT(desc->sources(),
              Contains("interactions:services/admin-cli"));
  EXPECT_THAT(desc->sources(), Not(Contains("dataSources/billing")));
  EXPECT_THAT(Flags(*desc), ElementsAre(crm::v1::NO_PURPOSE));
  ASSERT_GE(after.sources_size(), 1);
  EXPECT_EQ(after.sources(0).name(), "dataSources/billing");
  EXPECT_EQ(after.sources(0).kind(), crm::v1::ACCOUNTING);
  EXPECT_EQ(after.sources(0).service(), "services/billing");
  EXPECT_NE(after.flagged_fields(), before.flagged_fields());

  DeleteSource("dataSources/billing");
  crm::v1::DataInventory removed = Inventory();
  EXPECT_GT(removed.policy_version(), after.policy_version());
  EXPECT_FALSE(removed.sources_registered());
  amount = FindField(removed, "opportunities", "amount");
  ASSERT_NE(amount, nullptr);
  EXPECT_THAT(amount->sources(), IsEmpty());
  EXPECT_EQ(removed.flagged_fields(), before.flagged_fields());
}

TEST_P(DataInventoryTest, RetentionErasureAndEncryptionPerField) {
  crm::v1::DataInventory inv = Inventory();
  const auto* email = FindField(inv, "leads", "email");
  ASSERT_NE(email, nullptr);
  ASSERT_EQ(email->retention_size(), 1);
  EXPECT_EQ(email->retention(0).rule(), "stale-leads");
  EXPECT_EQ(email->retention(0).effect(), crm::v1::FieldRetention::ANONYMIZED);
  EXPECT_EQ(email->erasure(), crm::v1::ERASURE_ANONYMIZES_FIELD);
  EXPECT_TRUE(email->personal());
  const auto* status = FindField(inv, "leads", "status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->retention(0).effect(), crm::v1::FieldRetention::KEPT);
  const auto* pe = FindField(inv, "contacts", "personal_email");
  ASSERT_NE(pe, nullptr);
  EXPECT_TRUE(pe->encrypted_at_rest());
  EXPECT_TRUE(pe->blind_index());
  EXPECT_THAT(Flags(*pe), Contains(crm::v1::PERSONAL_NO_RETENTION));
  EXPECT_EQ(FindField(inv, "activities", "subject")->erasure(),
            crm::v1::ERASURE_DELETES_RECORD);
}

TEST_P(DataInventoryTest, AServiceWithoutPrivacyOperationsIsRefusedAndAudited) {
  crm::v1::DataInventory out;
  grpc::Status s = Get(*billing_, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("privacy_operations"));
  EXPECT_EQ(out.objects_size(), 0);
  // crmctl: exit 2 + PERMISSION_DENIED (7), the message on stderr.
  CliResult cli = Crmctl({"privacy", "inventory"}, "billing");
  EXPECT_EQ(cli.code, 9) << cli.Describe();
  EXPECT_THAT(cli.err, HasSubstr("privacy_operations"));
  EXPECT_THAT(cli.out, Not(HasSubstr("What we hold")));

  crm::v1::DataInventory ok = Inventory();
  auto allowed = AuditEvents(
      "action = \"privacy.inventory\" AND outcome = \"ALLOWED\"", 1);
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_EQ(allowed[0].actor_service(), "services/admin-cli");
  EXPECT_EQ(allowed[0].attributes().at("policy_version"),
            absl::StrCat(ok.policy_version()));
  auto denied = AuditEvents(
      "outcome = \"DENIED\" AND actor_service = \"services/billing\"", 2);
  ASSERT_EQ(denied.size(), 2u);
  for (const auto& e : denied) {
    EXPECT_EQ(e.action(), "privacy.inventory");
    EXPECT_THAT(e.reason(), HasSubstr("system:")) << e.DebugString();
  }
  // An unknown object is named.
  s = Get(*admin_, &out, {"widgets"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("widgets"));
}

// "Fields: 78; personal: 20; encrypted at rest: 2; flagged: 25." -> numbers.
std::vector<int> TotalsAfter(const std::string& text,
                             const std::string& heading) {
  size_t at = text.find(heading);
  if (at == std::string::npos) return {};
  at = text.find("Fields: ", at);
  if (at == std::string::npos) return {};
  std::string line = text.substr(at, text.find('\n', at) - at);
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(line, ';')) {
    std::string digits;
    for (char c : part) {
      if (c >= '0' && c <= '9') digits += c;
    }
    int n = 0;
    if (absl::SimpleAtoi(digits, &n)) out.push_back(n);
  }
  return out;
}

TEST_P(DataInventoryTest, CrmctlMarkdownCsvAndJsonMatchTheApi) {
  CreateSource("billing", kBilling);
  crm::v1::DataInventory api = Inventory();
  CliResult md = Crmctl({"privacy", "inventory"});
  ASSERT_EQ(md.code, 0) << md.Describe();
  EXPECT_THAT(md.out, HasSubstr("# What we hold and why"));
  EXPECT_THAT(md.out, HasSubstr(absl::StrCat(
                          "from policy version ", api.policy_version())));
  EXPECT_THAT(TotalsAfter(md.out, "# What we hold and why"),
              ElementsAre(api.total_fields(), api.personal_fields(),
                          api.encrypted_fields(), api.flagged_fields()));
  for (const auto& o : api.objects()) {
    int encrypted = 0;
    for (const auto& f : o.fields()) encrypted += f.encrypted_at_rest();
    EXPECT_THAT(TotalsAfter(md.out, absl::StrCat("\n## ", o.object(), "\n")),
                ElementsAre(o.fields_size(), o.personal_fields(), encrypted,
                            o.flagged_fields()))
        << o.object();
  }
  EXPECT_THAT(md.out, HasSubstr("| Billing (dataSources/billing) | accounting "
                                "| services/billing | invoicing |"));
  EXPECT_THAT(md.out, HasSubstr("| personal_email | yes (sensitive, channel "
                                "email) |"));
  EXPECT_THAT(md.out, HasSubstr("no purpose recorded"));

  CliResult csv = Crmctl({"privacy", "inventory", "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv.Describe();
  std::vector<std::string> lines =
      absl::StrSplit(csv.out, "\r\n", absl::SkipEmpty());
  EXPECT_EQ(lines.size(), static_cast<size_t>(api.total_fields() + 1));
  EXPECT_THAT(csv.out, HasSubstr("opportunities,amount,double,no,no,no,no,no,,"
                                 "invoicing,,\"dataSources/billing "
                                 "(accounting, services/billing); "
                                 "interactions:services/admin-cli "
                                 "(interactions, services/admin-cli); "));

  CliResult json = Crmctl({"privacy", "inventory", "--format", "json",
                           "--objects", "leads,contacts"});
  ASSERT_EQ(json.code, 0) << json.Describe();
  crm::v1::DataInventory parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed)
                  .ok())
      << json.out;
  ASSERT_EQ(parsed.objects_size(), 2);
  EXPECT_EQ(parsed.objects(0).object(), "contacts");
  EXPECT_EQ(parsed.policy_version(), api.policy_version());

  CliResult bad = Crmctl({"privacy", "inventory", "--format", "pdf"});
  EXPECT_EQ(bad.code, 1) << bad.Describe();  // a usage error, no call
  EXPECT_THAT(bad.err, HasSubstr("markdown, json, csv"));
}

INSTANTIATE_TEST_SUITE_P(Backends, DataInventoryTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
