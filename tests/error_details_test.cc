// The google.rpc details the server sends with its errors
// (proto/crm/v1/errors.proto), read as a client reads them: from the
// grpc-status-details-bin trailer, on SQLite and on PostgreSQL.
#include "clients/error_details.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/account_test_base.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ErrorDetailsTest : public AccountTestBase {};

TEST_P(ErrorDetailsTest, BadRequestListsEveryViolation) {
  crm::v1::CreateAccountRequest req;
  req.mutable_account()->set_display_name("");
  req.mutable_account()->set_description(std::string(40000, 'd'));
  crm::v1::Account out;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().CreateAccount(ctx.get(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "INVALID_REQUEST");
  EXPECT_EQ(d.domain, "crm.example.com");
  ASSERT_EQ(d.field_violations.size(), 2u) << s.error_message();
  // Declaration order: display_name before description.
  EXPECT_EQ(d.field_violations[0].field, "account.display_name");
  EXPECT_EQ(d.field_violations[0].description, "required");
  EXPECT_EQ(d.field_violations[1].field, "account.description");
  EXPECT_THAT(s.error_message(), StartsWith("account.display_name: required"));
  EXPECT_THAT(s.error_message(), HasSubstr("account.description: 40000 bytes"));
  EXPECT_EQ(d.metadata["violations"], "2");
}

TEST_P(ErrorDetailsTest, UpdateMaskViolationsAreAllReported) {
  crm::v1::Account a = CreateAccount("Initech");
  crm::v1::UpdateAccountRequest up;
  *up.mutable_account() = a;
  up.mutable_update_mask()->add_paths("no_such_field");
  up.mutable_update_mask()->add_paths("create_time");
  crm::v1::Account out;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), up, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  ASSERT_EQ(d.field_violations.size(), 2u) << s.error_message();
  EXPECT_EQ(d.field_violations[0].field, "update_mask");
  EXPECT_THAT(d.field_violations[0].description, HasSubstr("no_such_field"));
  EXPECT_THAT(d.field_violations[1].description, HasSubstr("create_time"));
}

TEST_P(ErrorDetailsTest, MissingRecordIsRecordNotFound) {
  crm::v1::Account got;
  grpc::Status s = GetAccount("accounts/nope", &got);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "accounts/nope not found");
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "RECORD_NOT_FOUND");
  EXPECT_EQ(d.metadata["resource"], "accounts/nope");
  EXPECT_EQ(d.resource_name, "accounts/nope");
}

TEST_P(ErrorDetailsTest, MalformedNameHasABadRequest) {
  crm::v1::Account got;
  grpc::Status s = GetAccount("contacts/x", &got);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "INVALID_REQUEST");
  ASSERT_EQ(d.field_violations.size(), 1u);
  EXPECT_EQ(d.field_violations[0].field, "name");
}

INSTANTIATE_TEST_SUITE_P(Backends, ErrorDetailsTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
