// Requests that cannot be parsed get INVALID_ARGUMENT naming the method
// (server/parse_errors.h), not gRPC's INTERNAL with an empty message. The
// bytes are sent raw, with grpc::GenericStub, as a foreign client would.
#include "server/parse_errors.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <future>
#include <string>

#include "clients/error_details.h"
#include "crm/v1/crm_service.pb.h"
#include "crm/v1/resources.pb.h"
#include "crm/v1/user_admin_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// One length-delimited field (a string, bytes or message field) on the wire;
// protobuf's own serializer would refuse to write invalid UTF-8 cleanly.
std::string Field(int number, const std::string& payload) {
  return Varint((static_cast<uint64_t>(number) << 3) | 2) +
         Varint(payload.size()) + payload;
}

const std::string kInvalidUtf8 = "Acme \xff\xfe Ltd";

class ParseErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Sends `bytes` as the request of `method` ("/pkg.Service/Method") as
  // admin-cli and returns the status.
  grpc::Status RawCall(const std::string& method, const std::string& bytes) {
    auto client = server_->Client("admin-cli");
    grpc::GenericStub stub(client->channel());
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    auto context = client->NewContext();
    std::promise<grpc::Status> done;
    stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request,
                   &response, [&done](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  }

  void ExpectInvalidArgument(const std::string& method,
                             const std::string& bytes, const char* what) {
    grpc::Status s = RawCall(method, bytes);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << s.error_code() << " '" << s.error_message() << "'";
    EXPECT_THAT(s.error_message(), HasSubstr(method)) << what;
    EXPECT_THAT(s.error_message(), HasSubstr(server::kParseErrorMessage))
        << what;
  }

  std::unique_ptr<TestServer> server_;
};

TEST_F(ParseErrorsTest, InvalidUtf8InAStringFieldIsInvalidArgument) {
  // CreateAccountRequest { account { display_name: <invalid UTF-8> } }
  ExpectInvalidArgument(
      "/crm.v1.AccountService/CreateAccount",
      Field(crm::v1::CreateAccountRequest::kAccountFieldNumber,
            Field(crm::v1::Account::kDisplayNameFieldNumber, kInvalidUtf8)),
      "a CRM method");
  // The field is named: in the message and in a google.rpc.BadRequest.
  grpc::Status named = RawCall(
      "/crm.v1.AccountService/CreateAccount",
      Field(crm::v1::CreateAccountRequest::kAccountFieldNumber,
            Field(crm::v1::Account::kDisplayNameFieldNumber, kInvalidUtf8)));
  EXPECT_THAT(named.error_message(), HasSubstr("account.display_name"));
  client::ErrorDetails d = client::DecodeErrorDetails(named);
  EXPECT_EQ(d.reason, "INVALID_REQUEST");
  EXPECT_EQ(d.metadata["method"], "/crm.v1.AccountService/CreateAccount");
  ASSERT_EQ(d.field_violations.size(), 1u);
  EXPECT_EQ(d.field_violations[0].field, "account.display_name");
  // GetUserRequest { name: <invalid UTF-8> }
  ExpectInvalidArgument(
      "/crm.v1.UserAdminService/GetUser",
      Field(crm::v1::GetUserRequest::kNameFieldNumber, kInvalidUtf8),
      "an admin method");
  // HealthCheckRequest { service: <invalid UTF-8> }: gRPC's own health
  // service parses its request itself and already says INVALID_ARGUMENT;
  // the interceptor leaves that alone.
  grpc::Status s =
      RawCall("/grpc.health.v1.Health/Check", Field(1, kInvalidUtf8));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_FALSE(s.error_message().empty());
}

TEST_F(ParseErrorsTest, MalformedMessagesAreInvalidArgument) {
  const std::string kGet = "/crm.v1.AccountService/GetAccount";
  // Field 1, length 5, but one byte follows.
  ExpectInvalidArgument(kGet,
                        std::string("\x0a\x05"
                                    "a",
                                    3),
                        "truncated");
  // A tag with field number 0.
  ExpectInvalidArgument(kGet, std::string("\x02\x00", 2), "field number 0");
  // A varint that never ends.
  ExpectInvalidArgument(kGet, std::string(11, '\xff'), "endless varint");
}

// An enum number the schema does not define parses (proto3 keeps it) and is
// then refused by validation, naming the field; nothing is written.
TEST_F(ParseErrorsTest, UnknownEnumNumbersAreInvalidArgumentNamingTheField) {
  auto varint_field = [](int number, uint64_t value) {
    return Varint(static_cast<uint64_t>(number) << 3) + Varint(value);
  };
  const std::string activity =
      varint_field(crm::v1::Activity::kKindFieldNumber, 99) +
      Field(crm::v1::Activity::kSubjectFieldNumber, "Call");
  grpc::Status s = RawCall(
      "/crm.v1.ActivityService/CreateActivity",
      Field(crm::v1::CreateActivityRequest::kActivityFieldNumber, activity));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  ASSERT_EQ(d.field_violations.size(), 1u) << s.error_message();
  EXPECT_EQ(d.field_violations[0].field, "activity.kind");

  // A share with an access level that does not exist.
  s = RawCall("/crm.v1.SharingService/ShareRecord",
              Field(1, "accounts/000000000000000000000000") +
                  Field(2, Field(1, "users/bob")) + varint_field(3, 99));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("access"));
}

TEST_F(ParseErrorsTest, ValidRequestsAndOtherErrorsAreUnchanged) {
  // The same method with valid bytes is served (NOT_FOUND for a missing
  // account: the handler's own status passes untouched).
  grpc::Status s = RawCall(
      "/crm.v1.AccountService/GetAccount",
      Field(crm::v1::GetAccountRequest::kNameFieldNumber, "accounts/nope"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  // A valid Create works.
  s = RawCall("/crm.v1.AccountService/CreateAccount",
              Field(crm::v1::CreateAccountRequest::kAccountFieldNumber,
                    Field(crm::v1::Account::kDisplayNameFieldNumber,
                          "Acme \xc3\xa9 Ltd")));
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  // An unknown method stays UNIMPLEMENTED.
  s = RawCall("/crm.v1.AccountService/NoSuchMethod", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace crm::testing
