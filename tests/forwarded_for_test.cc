// x-forwarded-for from a trusted gateway counts by its rightmost address,
// the one the gateway appended itself (server/request_context.h): addresses
// left of it arrived with the end user's request and are the user's to
// forge. Real server, real mTLS; WhoAmI reports the address the server
// settled on, and a profile's IP rule shows which one restrictions check.
#include "tests/auth_test_util.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class ForwardedForTest : public AuthFixture, public ::testing::Test {
 protected:
  void SetUp() override {
    StartServer(Backend::kSqlite);
    if (HasFatalFailure()) return;
    store::ProfileRow office;
    office.id = "office";
    office.name = "Office";
    office.allowed_ip_ranges = "10.0.0.0/8";
    ASSERT_TRUE(AddProfile(*server_, office).ok());
    ASSERT_TRUE(AddUser(*server_, "dave", "dave-pw", "office").ok());
  }

  // WhoAmI as the trusted gateway "gateway", with one "x-forwarded-for"
  // metadata entry per element of `headers`, in order.
  grpc::Status WhoAmIWith(const std::vector<std::string>& headers,
                          crm::v1::WhoAmIResponse* response) {
    auto client = server_->Client("gateway");
    auto context = client->NewContext();
    for (const std::string& h : headers) {
      context->AddMetadata(server::kForwardedForHeader, h);
    }
    return client->auth().WhoAmI(context.get(), crm::v1::WhoAmIRequest(),
                                 response);
  }
};

TEST_F(ForwardedForTest, TheRightmostAddressCounts) {
  struct Case {
    std::vector<std::string> headers;
    std::string address;  // what WhoAmI reports
    const char* what;
  };
  const Case cases[] = {
      {{"1.2.3.4, 10.1.2.3"}, "10.1.2.3", "the gateway appended 10.1.2.3"},
      {{"10.1.2.3"}, "10.1.2.3", "a single address"},
      {{"1.2.3.4 ,  10.1.2.3 "}, "10.1.2.3", "spaces around the addresses"},
      {{"not-an-address, 10.1.2.3"},
       "10.1.2.3",
       "a forged left part is not even parsed"},
      {{"1.2.3.4", "10.1.2.3"},
       "10.1.2.3",
       "two header lines: the last line's address"},
      {{"9.9.9.9, 1.2.3.4", "5.6.7.8, 10.1.2.3"},
       "10.1.2.3",
       "two lists: the last address of the last"},
      {{"203.0.113.7, 2001:db8::7"}, "2001:db8::7", "IPv6"},
  };
  for (const Case& c : cases) {
    crm::v1::WhoAmIResponse who;
    grpc::Status s = WhoAmIWith(c.headers, &who);
    ASSERT_TRUE(s.ok()) << c.what << ": " << StatusText(s);
    EXPECT_EQ(who.client_address(), c.address) << c.what;
  }
}

TEST_F(ForwardedForTest, ARightmostValueThatIsNoAddressIsRefused) {
  for (const std::string header :
       {"10.1.2.3, not-an-address", "10.1.2.3,", "10.1.2.3, 10.1.2"}) {
    crm::v1::WhoAmIResponse who;
    grpc::Status s = WhoAmIWith({header}, &who);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << header << ": " << StatusText(s);
    EXPECT_THAT(s.error_message(), HasSubstr("rightmost")) << header;
  }
}

// Issue 9, item 8: a gateway that appends to the header let the end user
// choose their address by sending one of their own.
TEST_F(ForwardedForTest, AnEndUserCannotChooseTheirAddress) {
  auto web = server_->Client("web-frontend");
  // The user sent "x-forwarded-for: 10.1.2.3"; the gateway appended the
  // address it saw, 203.0.113.7, outside dave's 10.0.0.0/8.
  web->set_forwarded_for("10.1.2.3, 203.0.113.7");
  grpc::Status s = Login(*web, "dave", "dave-pw");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << StatusText(s);
  EXPECT_THAT(s.error_message(), HasSubstr("ip_ranges"));
  // From inside the range (as the gateway saw it), the login works.
  web->set_forwarded_for("203.0.113.7, 10.1.2.3");
  EXPECT_TRUE(Login(*web, "dave", "dave-pw").ok());
}

}  // namespace
}  // namespace crm::testing
