// Bad input is refused with INVALID_ARGUMENT, a message a person can act on,
// and nothing written.
#include "absl/strings/str_cat.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/account_test_base.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class BadInputTest : public AccountTestBase {
 protected:
  void SetUp() override {
    AccountTestBase::SetUp();
    if (HasFatalFailure()) return;
    existing_ = CreateAccount("Existing");
  }

  grpc::Status List(const std::string& filter, const std::string& order_by = "",
                    const std::string& token = "", int page_size = 0) {
    crm::v1::ListAccountsRequest req;
    req.set_filter(filter);
    req.set_order_by(order_by);
    req.set_page_token(token);
    req.set_page_size(page_size);
    crm::v1::ListAccountsResponse resp;
    return ListAccounts(req, &resp);
  }

  // The stored account, to prove nothing changed.
  crm::v1::Account Stored() {
    crm::v1::Account out;
    EXPECT_TRUE(GetAccount(existing_.name(), &out).ok());
    return out;
  }

  crm::v1::Account existing_;
};

TEST_P(BadInputTest, MalformedResourceNames) {
  struct Case {
    std::string name;
    std::string message;
  };
  const Case cases[] = {
      {"", "not a resource name"},
      {"acme", "not a resource name"},
      {"contacts/abc", "expected accounts/{id}"},
      {"accounts/", "invalid id"},
      {"accounts/a/b", "invalid id"},
      {"accounts/" + std::string(65, 'x'), "invalid id"},
      {"accounts/'; DROP TABLE accounts; --", "invalid id"},
  };
  for (const Case& c : cases) {
    crm::v1::GetAccountRequest req;
    req.set_name(c.name);
    crm::v1::Account out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->accounts().GetAccount(ctx.get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.name;
  }
  EXPECT_EQ(CountAccounts(), 1);
}

TEST_P(BadInputTest, UpdateMaskProblems) {
  struct Case {
    std::vector<std::string> paths;
    std::string message;
  };
  const Case cases[] = {
      {{}, "update_mask: required"},
      {{"no_such_field"}, "unknown field 'no_such_field'"},
      {{"*"}, "'*' is not supported"},
      {{"owner"}, "output-only"},
      {{"create_time"}, "output-only"},
      {{"phone", "phone"}, "named twice"},
      {{"phone", "bogus"}, "unknown field 'bogus'"},
  };
  for (const Case& c : cases) {
    crm::v1::UpdateAccountRequest req;
    *req.mutable_account() = existing_;
    req.mutable_account()->set_phone("+1 555 0111");
    for (const auto& p : c.paths) req.mutable_update_mask()->add_paths(p);
    crm::v1::Account out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
  }
  crm::v1::Account stored = Stored();
  EXPECT_EQ(stored.phone(), "");
  EXPECT_EQ(stored.etag(), "v1");
}

TEST_P(BadInputTest, FilterAndOrderByProblems) {
  struct Case {
    std::string filter;
    std::string order_by;
    std::string message;
  };
  const Case cases[] = {
      {"display_name = ", "", "filter:"},
      {"display_name = \"x\" AND", "", "filter:"},
      {"((display_name = \"x\")", "", "filter:"},
      {"no_such_field = 1", "", "unknown or not readable"},
      {"personal_phone = \"1\"", "", "unknown or not readable"},
      {"employee_count = \"many\"", "", "filter:"},
      {"display_name = 'x'; DROP TABLE accounts", "", "filter:"},
      {"", "no_such_field desc", "unknown or not readable"},
      {"", "display_name sideways", "order_by"},
  };
  for (const Case& c : cases) {
    grpc::Status s = List(c.filter, c.order_by);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.filter << c.order_by;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message))
        << c.filter << c.order_by;
  }
  std::string long_filter = "display_name = \"" + std::string(3000, 'a') + "\"";
  grpc::Status s = List(long_filter);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("2048"));
  s = List("", "", "", 5000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
}

TEST_P(BadInputTest, TamperedOrMisusedPageToken) {
  for (int i = 0; i < 3; ++i) {
    crm::v1::CreateAccountRequest req;
    req.mutable_account()->set_display_name(absl::StrCat("More ", i));
    crm::v1::Account out;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->accounts().CreateAccount(ctx.get(), req, &out).ok());
  }
  crm::v1::ListAccountsRequest req;
  req.set_page_size(1);
  crm::v1::ListAccountsResponse resp;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().ListAccounts(ctx.get(), req, &resp).ok());
  std::string token = resp.next_page_token();
  ASSERT_FALSE(token.empty());
  EXPECT_TRUE(List("", "", token, 1).ok());

  std::string tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& bad :
       {tampered, token.substr(0, token.size() - 3), std::string("garbage"),
        token + "x"}) {
    grpc::Status s = List("", "", bad, 1);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  }
  // A valid token for another query.
  grpc::Status s = List("display_name != \"x\"", "", token, 1);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("different query"));
}

TEST_P(BadInputTest, OversizedFieldsAndInvalidValuesWriteNothing) {
  crm::v1::CreateAccountRequest req;
  req.mutable_account()->set_display_name("Big");
  req.mutable_account()->set_description(std::string(40000, 'd'));
  crm::v1::Account out;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("account.description: 40000 bytes"));

  req.mutable_account()->clear_description();
  req.mutable_account()->set_display_name("");
  ctx = admin_->NewContext();
  s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("account.display_name: required"));

  req.mutable_account()->set_display_name("NaN");
  req.mutable_account()->set_annual_revenue(std::nan(""));
  ctx = admin_->NewContext();
  s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("finite"));

  // An oversized request message.
  req.mutable_account()->set_annual_revenue(0);
  req.mutable_account()->set_description(std::string(3 << 20, 'x'));
  ctx = admin_->NewContext();
  s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("the limit is 1048576"));

  EXPECT_EQ(CountAccounts(), 1);
}

TEST_P(BadInputTest, MalformedEtag) {
  crm::v1::DeleteAccountRequest req;
  req.set_name(existing_.name());
  req.set_etag("W/\"abc\"");
  google::protobuf::Empty empty;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().DeleteAccount(ctx.get(), req, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("etag"));
  EXPECT_EQ(CountAccounts(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, BadInputTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
