// Transport security and caller identity through the real server: only a
// client with a valid certificate from the configured CA whose identity is a
// registered service is served; everyone else is refused before any handler
// runs, and nothing is written.
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class MtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = Backend::kSqlite});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  grpc::Status TryCreate(client::CrmClient& client) {
    crm::v1::CreateAccountRequest req;
    req.mutable_account()->set_display_name("Should not exist");
    crm::v1::Account out;
    auto ctx = client.NewContext();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return client.accounts().CreateAccount(ctx.get(), req, &out);
  }

  int AccountCount() {
    auto admin = server_->Client("admin-cli");
    crm::v1::ListAccountsRequest req;
    crm::v1::ListAccountsResponse resp;
    auto ctx = admin->NewContext();
    EXPECT_TRUE(admin->accounts().ListAccounts(ctx.get(), req, &resp).ok());
    return resp.accounts_size();
  }

  std::unique_ptr<TestServer> server_;
};

TEST_F(MtlsTest, RegisteredServiceIsServedAndIdentified) {
  auto client = server_->Client("billing");
  crm::v1::EchoRequest req;
  req.set_payload("ping");
  crm::v1::EchoResponse resp;
  auto ctx = client->NewContext();
  grpc::Status s = client->diagnostics().Echo(ctx.get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.payload(), "ping");
  EXPECT_EQ(resp.caller(), "services/billing");
}

TEST_F(MtlsTest, ManyCallsOnOneConnectionKeepTheirIdentity) {
  auto client = server_->Client("web-frontend");
  for (int i = 0; i < 50; ++i) {
    crm::v1::EchoRequest req;
    crm::v1::EchoResponse resp;
    auto ctx = client->NewContext();
    grpc::Status s = client->diagnostics().Echo(ctx.get(), req, &resp);
    ASSERT_TRUE(s.ok()) << "call " << i << ": " << s.error_message();
    EXPECT_EQ(resp.caller(), "services/web-frontend");
  }
}

TEST_F(MtlsTest, RefusedClientsAreNotServed) {
  const TestCerts& certs = server_->certs();
  struct Case {
    std::string label;
    std::string ca, cert, key;
    grpc::StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"no client certificate", certs.ca, "", "", grpc::StatusCode::UNAVAILABLE, ""},
      {"certificate from another CA", certs.ca, certs.ClientCert("foreign"),
       certs.ClientKey("foreign"), grpc::StatusCode::UNAVAILABLE, ""},
      {"expired certificate", certs.ca, certs.ClientCert("expired"),
       certs.ClientKey("expired"), grpc::StatusCode::UNAVAILABLE, ""},
      {"revoked certificate", certs.ca, certs.ClientCert("revoked"),
       certs.ClientKey("revoked"), grpc::StatusCode::UNAVAILABLE, ""},
      {"unregistered identity", certs.ca, certs.ClientCert("unregistered"),
       certs.ClientKey("unregistered"), grpc::StatusCode::UNAUTHENTICATED,
       "not a registered service"},
  };
  for (const Case& c : cases) {
    auto client = server_->ClientWithFiles(c.ca, c.cert, c.key);
    grpc::Status s = TryCreate(*client);
    EXPECT_EQ(s.error_code(), c.code) << c.label << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.label;
  }
  EXPECT_EQ(AccountCount(), 0);
}

TEST_F(MtlsTest, ServiceWithoutGrantIsDeniedPerObject) {
  auto billing = server_->Client("billing");
  grpc::Status s = TryCreate(*billing);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("billing has no permission to create accounts"));

  crm::v1::ListContactsRequest req;
  crm::v1::ListContactsResponse resp;
  auto ctx = billing->NewContext();
  s = billing->contacts().ListContacts(ctx.get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);

  auto gateway = server_->Client("gateway");  // registered, no grants at all
  s = TryCreate(*gateway);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(AccountCount(), 0);
}

TEST_F(MtlsTest, SensitiveFieldsAreNeitherReadNorWrittenWithoutAGrant) {
  auto admin = server_->Client("admin-cli");
  crm::v1::CreateContactRequest req;
  req.mutable_contact()->set_last_name("Lovelace");
  req.mutable_contact()->set_personal_phone("+44 7700 900123");
  crm::v1::Contact out;
  auto ctx = admin->NewContext();
  grpc::Status s = admin->contacts().CreateContact(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("contact.personal_phone"));

  req.mutable_contact()->clear_personal_phone();
  ctx = admin->NewContext();
  ASSERT_TRUE(admin->contacts().CreateContact(ctx.get(), req, &out).ok());
  crm::v1::ListContactsRequest list;
  list.set_order_by("personal_phone");
  crm::v1::ListContactsResponse resp;
  ctx = admin->NewContext();
  s = admin->contacts().ListContacts(ctx.get(), list, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("unknown or not readable"));
}

}  // namespace
}  // namespace crm::testing
