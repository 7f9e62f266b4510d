// The google.rpc details the server sends with its errors
// (proto/crm/v1/errors.proto), read as a client reads them: from the
// grpc-status-details-bin trailer, on SQLite and on PostgreSQL.
#include "absl/strings/str_replace.h"
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

TEST_P(ErrorDetailsTest, ListReportsEveryProblemAndNamesTheUnknownField) {
  crm::v1::ListAccountsRequest req;
  req.set_page_size(-1);
  req.set_filter("nope = 1");
  req.set_order_by("display_name, nada desc");
  crm::v1::ListAccountsResponse out;
  grpc::Status s = ListAccounts(req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "UNKNOWN_FIELD");
  EXPECT_EQ(d.metadata["field"], "nope");
  EXPECT_EQ(d.metadata["violations"], "3");
  ASSERT_EQ(d.field_violations.size(), 3u) << s.error_message();
  EXPECT_EQ(d.field_violations[0].field, "page_size");
  EXPECT_EQ(d.field_violations[1].field, "filter");
  EXPECT_THAT(d.field_violations[1].description, HasSubstr("'nope'"));
  EXPECT_EQ(d.field_violations[2].field, "order_by");
  EXPECT_THAT(d.field_violations[2].description, HasSubstr("'nada'"));
  EXPECT_THAT(s.error_message(), StartsWith("page_size: -1 is out of range"));
}

// A field the caller may not read is reported exactly like one that does
// not exist (contacts.personal_phone is sensitive: admin-cli has no grant).
TEST_P(ErrorDetailsTest, UnreadableFieldLooksUnknown) {
  auto list = [&](const std::string& order_by) {
    crm::v1::ListContactsRequest req;
    req.set_order_by(order_by);
    crm::v1::ListContactsResponse out;
    auto ctx = admin_->NewContext();
    return admin_->contacts().ListContacts(ctx.get(), req, &out);
  };
  grpc::Status hidden = list("personal_phone");
  grpc::Status unknown = list("personal_phonf");
  ASSERT_EQ(hidden.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(hidden.error_code(), unknown.error_code());
  EXPECT_EQ(hidden.error_message(),
            absl::StrReplaceAll(unknown.error_message(),
                                {{"personal_phonf", "personal_phone"}}));
  EXPECT_EQ(hidden.error_details(),
            absl::StrReplaceAll(unknown.error_details(),
                                {{"personal_phonf", "personal_phone"}}));
  EXPECT_EQ(client::DecodeErrorDetails(hidden).reason, "UNKNOWN_FIELD");
}

TEST_P(ErrorDetailsTest, UpdateMaskUnknownFieldIsUnknownField) {
  crm::v1::Account a = CreateAccount("Initech");
  crm::v1::UpdateAccountRequest up;
  *up.mutable_account() = a;
  up.mutable_update_mask()->add_paths("no_such_field");
  crm::v1::Account out;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), up, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "UNKNOWN_FIELD");
  EXPECT_EQ(d.metadata["field"], "no_such_field");
}

TEST_P(ErrorDetailsTest, SensitiveFieldWriteIsFieldNotWritable) {
  crm::v1::CreateContactRequest req;
  req.mutable_contact()->set_last_name("Lovelace");
  req.mutable_contact()->set_personal_phone("+44 7700 900123");
  crm::v1::Contact out;
  auto ctx = admin_->NewContext();
  grpc::Status s = admin_->contacts().CreateContact(ctx.get(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "FIELD_NOT_WRITABLE");
  EXPECT_EQ(d.metadata["object"], "contacts");
  EXPECT_EQ(d.metadata["field"], "personal_phone");
  EXPECT_EQ(d.metadata["rule"], "sensitive-field:contacts.personal_phone");
  EXPECT_THAT(s.error_message(), HasSubstr("contact.personal_phone"));
}

TEST_P(ErrorDetailsTest, StaleEtagNamesTheCurrentEtag) {
  crm::v1::Account a = CreateAccount("Initech");
  crm::v1::UpdateAccountRequest up;
  *up.mutable_account() = a;
  up.mutable_account()->set_industry("Software");
  up.mutable_update_mask()->add_paths("industry");
  crm::v1::Account fresh;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().UpdateAccount(ctx.get(), up, &fresh).ok());
  ASSERT_NE(fresh.etag(), a.etag());

  up.mutable_account()->set_industry("Retail");  // still carries a.etag()
  crm::v1::Account out;
  ctx = admin_->NewContext();
  grpc::Status s = admin_->accounts().UpdateAccount(ctx.get(), up, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "STALE_ETAG");
  EXPECT_EQ(d.metadata["resource"], a.name());
  EXPECT_EQ(d.metadata["expected_etag"], a.etag());
  EXPECT_EQ(d.metadata["current_etag"], fresh.etag());
  EXPECT_EQ(d.resource_name, a.name());
  // Nothing was written.
  crm::v1::Account now;
  ASSERT_TRUE(GetAccount(a.name(), &now).ok());
  EXPECT_EQ(now.industry(), "Software");
  EXPECT_EQ(now.etag(), fresh.etag());
}

TEST_P(ErrorDetailsTest, MissingObjectPermissionNamesTheRule) {
  auto billing = server_->Client("billing");  // accounts: read only
  crm::v1::CreateAccountRequest req;
  req.mutable_account()->set_display_name("Nope");
  crm::v1::Account out;
  auto ctx = billing->NewContext();
  grpc::Status s = billing->accounts().CreateAccount(ctx.get(), req, &out);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "OBJECT_PERMISSION_DENIED");
  EXPECT_EQ(d.metadata["object"], "accounts");
  EXPECT_EQ(d.metadata["operation"], "create");
  EXPECT_THAT(d.metadata["rule"], StartsWith("no-grant:accounts:create"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ErrorDetailsTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
