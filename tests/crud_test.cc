// End-to-end behaviour of the standard methods through the real server over
// mTLS, on SQLite and on PostgreSQL.
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/account_test_base.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class CrudTest : public AccountTestBase {};

TEST_P(CrudTest, CreateGetUpdateDelete) {
  crm::v1::Account created = CreateAccount("Acme Ltd", "Manufacturing", 120);
  EXPECT_THAT(created.name(), ::testing::StartsWith("accounts/"));
  EXPECT_EQ(created.etag(), "v1");
  EXPECT_EQ(created.owner(), "services/admin-cli");
  EXPECT_EQ(created.source(), "services/admin-cli");
  EXPECT_GT(created.create_time().seconds(), 0);

  crm::v1::Account got;
  ASSERT_TRUE(GetAccount(created.name(), &got).ok());
  EXPECT_EQ(got.display_name(), "Acme Ltd");
  EXPECT_EQ(got.employee_count(), 120);
  EXPECT_EQ(got.create_time().seconds(), created.create_time().seconds());

  crm::v1::UpdateAccountRequest up;
  *up.mutable_account() = got;
  up.mutable_account()->set_industry("Robotics");
  up.mutable_account()->set_employee_count(999);  // not in the mask
  up.mutable_update_mask()->add_paths("industry");
  crm::v1::Account updated;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), up, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.industry(), "Robotics");
  EXPECT_EQ(updated.employee_count(), 120);
  EXPECT_EQ(updated.etag(), "v2");

  crm::v1::DeleteAccountRequest del;
  del.set_name(created.name());
  google::protobuf::Empty empty;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().DeleteAccount(ctx.get(), del, &empty).ok());
  EXPECT_EQ(GetAccount(created.name(), &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(CrudTest, EveryResourceTypeRoundTrips) {
  crm::v1::Account account = CreateAccount("Globex");
  crm::v1::CreateContactRequest cc;
  cc.mutable_contact()->set_last_name("Hopper");
  cc.mutable_contact()->set_account(account.name());
  crm::v1::Contact contact;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->contacts().CreateContact(ctx.get(), cc, &contact).ok());

  crm::v1::CreateCaseRequest kc;
  kc.mutable_case_()->set_subject("Broken widget");
  kc.mutable_case_()->set_account(account.name());
  kc.mutable_case_()->set_contact(contact.name());
  kc.mutable_case_()->set_priority(crm::v1::Case::HIGH);
  crm::v1::Case kase;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->cases().CreateCase(ctx.get(), kc, &kase).ok());
  EXPECT_EQ(kase.priority(), crm::v1::Case::HIGH);

  crm::v1::CreateActivityRequest ac;
  ac.mutable_activity()->set_kind(crm::v1::Activity::CALL);
  ac.mutable_activity()->set_subject("Called about the widget");
  ac.mutable_activity()->set_regarding(kase.name());
  ac.mutable_activity()->mutable_occur_time()->set_seconds(1700000000);
  crm::v1::Activity activity;
  ctx = admin_->NewContext();
  grpc::Status s = admin_->activities().CreateActivity(ctx.get(), ac, &activity);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(activity.occur_time().seconds(), 1700000000);

  crm::v1::CreateOpportunityRequest oc;
  oc.mutable_opportunity()->set_display_name("Big deal");
  oc.mutable_opportunity()->set_account(account.name());
  oc.mutable_opportunity()->set_amount(1234.5);
  oc.mutable_opportunity()->set_stage(crm::v1::Opportunity::NEGOTIATION);
  crm::v1::Opportunity opp;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->opportunities().CreateOpportunity(ctx.get(), oc, &opp).ok());
  EXPECT_DOUBLE_EQ(opp.amount(), 1234.5);

  crm::v1::CreateLeadRequest lc;
  lc.mutable_lead()->set_last_name("Hamilton");
  lc.mutable_lead()->set_status(crm::v1::Lead::NEW);
  crm::v1::Lead lead;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->leads().CreateLead(ctx.get(), lc, &lead).ok());

  crm::v1::ListCasesRequest lr;
  lr.set_filter("priority = HIGH");
  crm::v1::ListCasesResponse cases;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->cases().ListCases(ctx.get(), lr, &cases).ok());
  ASSERT_EQ(cases.cases_size(), 1);
  EXPECT_EQ(cases.cases(0).contact(), contact.name());
}

TEST_P(CrudTest, ReferencesMustNameExistingRecords) {
  crm::v1::CreateContactRequest cc;
  cc.mutable_contact()->set_last_name("Nobody");
  cc.mutable_contact()->set_account("accounts/doesnotexist");
  crm::v1::Contact contact;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->contacts().CreateContact(ctx.get(), cc, &contact);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("contact.account"));

  cc.mutable_contact()->set_account("leads/x");
  ctx = admin_->NewContext();
  s = admin_->contacts().CreateContact(ctx.get(), cc, &contact);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("accounts/{id}"));
}

TEST_P(CrudTest, ListFiltersOrdersAndPagesStablyWhileInserting) {
  std::set<std::string> originals;
  for (int i = 0; i < 23; ++i) {
    originals.insert(
        CreateAccount(absl::StrCat("Company ", 100 + i),
                      i % 2 == 0 ? "Retail" : "Energy", i)
            .name());
  }
  crm::v1::ListAccountsRequest req;
  req.set_page_size(5);
  req.set_order_by("display_name desc");
  std::vector<std::string> seen;
  std::string previous_name = "\xff";
  int pages = 0;
  do {
    crm::v1::ListAccountsResponse resp;
    grpc::Status s = ListAccounts(req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& a : resp.accounts()) {
      EXPECT_LT(a.display_name(), previous_name);
      previous_name = a.display_name();
      seen.push_back(a.name());
    }
    // Records inserted mid-listing ("Company 0x" sorts after every original
    // in descending order) must neither repeat nor displace anything.
    CreateAccount(absl::StrCat("Company 0", pages), "Inserted", 5);
    req.set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page_token().empty());
  std::set<std::string> seen_set(seen.begin(), seen.end());
  EXPECT_EQ(seen_set.size(), seen.size()) << "a record was repeated";
  for (const auto& name : originals) EXPECT_TRUE(seen_set.count(name)) << name;

  crm::v1::ListAccountsRequest filtered;
  filtered.set_filter(
      "industry = \"Retail\" AND (employee_count >= 10 OR NOT employee_count > 2)");
  filtered.set_order_by("employee_count");
  crm::v1::ListAccountsResponse resp;
  ASSERT_TRUE(ListAccounts(filtered, &resp).ok());
  std::vector<int64_t> counts;
  for (const auto& a : resp.accounts()) counts.push_back(a.employee_count());
  EXPECT_EQ(counts, (std::vector<int64_t>{0, 2, 10, 12, 14, 16, 18, 20, 22}));
}

TEST_P(CrudTest, StaleEtagIsAbortedAndChangesNothing) {
  crm::v1::Account a = CreateAccount("Initech");
  crm::v1::UpdateAccountRequest up;
  *up.mutable_account() = a;
  up.mutable_account()->set_phone("+1 555 0100");
  up.mutable_update_mask()->add_paths("phone");
  crm::v1::Account updated;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().UpdateAccount(ctx.get(), up, &updated).ok());

  // `a` still carries v1.
  up.mutable_account()->set_phone("+1 555 0199");
  ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), up, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  crm::v1::DeleteAccountRequest del;
  del.set_name(a.name());
  del.set_etag(a.etag());
  google::protobuf::Empty empty;
  ctx = admin_->NewContext();
  EXPECT_EQ(admin_->accounts().DeleteAccount(ctx.get(), del, &empty).error_code(),
            grpc::StatusCode::ABORTED);
  crm::v1::Account got;
  ASSERT_TRUE(GetAccount(a.name(), &got).ok());
  EXPECT_EQ(got.phone(), "+1 555 0100");
  EXPECT_EQ(got.etag(), "v2");
}

TEST_P(CrudTest, ConcurrentWritersLoseNoUpdate) {
  crm::v1::Account a = CreateAccount("Counter", "Retail", 0);
  constexpr int kThreads = 6;
  constexpr int kIncrements = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = server_->Client("admin-cli");
      for (int i = 0; i < kIncrements; ++i) {
        for (int attempt = 0;; ++attempt) {
          crm::v1::Account current;
          if (!GetAccount(a.name(), &current, client.get()).ok() ||
              attempt > 200) {
            ++failures;
            break;
          }
          crm::v1::UpdateAccountRequest up;
          *up.mutable_account() = current;  // carries the etag read
          up.mutable_account()->set_employee_count(current.employee_count() + 1);
          up.mutable_update_mask()->add_paths("employee_count");
          crm::v1::Account out;
          auto ctx = client->NewContext();
          grpc::Status s = client->accounts().UpdateAccount(ctx.get(), up, &out);
          if (s.ok()) break;
          if (s.error_code() != grpc::StatusCode::ABORTED) {
            ADD_FAILURE() << s.error_message();
            ++failures;
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  crm::v1::Account final_state;
  ASSERT_TRUE(GetAccount(a.name(), &final_state).ok());
  EXPECT_EQ(final_state.employee_count(), kThreads * kIncrements);
  EXPECT_EQ(final_state.etag(), absl::StrCat("v", 1 + kThreads * kIncrements));
}

TEST_P(CrudTest, UnconditionalWritesToDifferentFieldsBothSurvive) {
  crm::v1::Account a = CreateAccount("Parallel");
  std::vector<std::thread> threads;
  const char* fields[] = {"phone", "website", "billing_city", "industry"};
  for (const char* field : fields) {
    threads.emplace_back([&, field] {
      auto client = server_->Client("admin-cli");
      for (int i = 0; i < 8; ++i) {
        crm::v1::UpdateAccountRequest up;
        up.mutable_account()->set_name(a.name());
        const auto* f = crm::v1::Account::descriptor()->FindFieldByName(field);
        up.mutable_account()->GetReflection()->SetString(
            up.mutable_account(), f, absl::StrCat(field, "-", i));
        up.mutable_update_mask()->add_paths(field);
        crm::v1::Account out;
        auto ctx = client->NewContext();
        grpc::Status s = client->accounts().UpdateAccount(ctx.get(), up, &out);
        EXPECT_TRUE(s.ok()) << s.error_message();
      }
    });
  }
  for (auto& t : threads) t.join();
  crm::v1::Account got;
  ASSERT_TRUE(GetAccount(a.name(), &got).ok());
  EXPECT_EQ(got.phone(), "phone-7");
  EXPECT_EQ(got.website(), "website-7");
  EXPECT_EQ(got.billing_city(), "billing_city-7");
  EXPECT_EQ(got.industry(), "industry-7");
  EXPECT_EQ(got.etag(), "v33");
}

INSTANTIATE_TEST_SUITE_P(Backends, CrudTest, ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
