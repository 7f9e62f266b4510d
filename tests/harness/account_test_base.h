// A test fixture for integration tests that exercise the accounts service
// through a real server over mTLS: one TestServer per test (on the backend
// given as the test parameter), a client acting as the admin-cli service,
// and small helpers for the account calls most tests need.
//
// Usage:
//   class MyTest : public AccountTestBase {};
//   TEST_P(MyTest, Something) { auto a = CreateAccount("Acme"); ... }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyTest, AllBackends(), BackendName);
#ifndef CRM_TESTS_HARNESS_ACCOUNT_TEST_BASE_H_
#define CRM_TESTS_HARNESS_ACCOUNT_TEST_BASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "crm/v1/crm_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {

class AccountTestBase : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
  }

  // Creates an account as admin-cli; a failure fails the test.
  crm::v1::Account CreateAccount(const std::string& name,
                                 const std::string& industry = "Retail",
                                 int64_t employees = 10) {
    crm::v1::CreateAccountRequest req;
    req.mutable_account()->set_display_name(name);
    req.mutable_account()->set_industry(industry);
    req.mutable_account()->set_employee_count(employees);
    crm::v1::Account out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // `client` defaults to admin-cli.
  grpc::Status GetAccount(const std::string& name, crm::v1::Account* out,
                          client::CrmClient* client = nullptr) {
    if (client == nullptr) client = admin_.get();
    crm::v1::GetAccountRequest req;
    req.set_name(name);
    auto ctx = client->NewContext();
    return client->accounts().GetAccount(ctx.get(), req, out);
  }

  grpc::Status ListAccounts(const crm::v1::ListAccountsRequest& req,
                            crm::v1::ListAccountsResponse* out,
                            client::CrmClient* client = nullptr) {
    if (client == nullptr) client = admin_.get();
    auto ctx = client->NewContext();
    return client->accounts().ListAccounts(ctx.get(), req, out);
  }

  // How many accounts admin-cli sees (up to 1000).
  int CountAccounts() {
    crm::v1::ListAccountsRequest req;
    req.set_page_size(1000);
    crm::v1::ListAccountsResponse resp;
    grpc::Status s = ListAccounts(req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.accounts_size();
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
};

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_ACCOUNT_TEST_BASE_H_
