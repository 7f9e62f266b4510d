// The client side of idempotent creates: NewRequestId and the request_id
// of BuildCreateRequest (crmctl's --request-id).
#include <cctype>
#include <set>
#include <string>

#include "clients/crm_client.h"
#include "clients/descriptor_catalog.h"
#include "clients/resource_requests.h"
#include "crm/v1/crm_service.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

TEST(NewRequestId, IsARandomVersion4Uuid) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t p = 0; p < id.size(); ++p) {
      if (p == 8 || p == 13 || p == 18 || p == 23) {
        EXPECT_EQ(id[p], '-') << id;
      } else {
        EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(id[p])) &&
                    !std::isupper(static_cast<unsigned char>(id[p])))
            << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_THAT(std::string("89ab"), ::testing::HasSubstr(id.substr(19, 1)))
        << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(BuildCreateRequest, SetsTheRequestIdWhenGiven) {
  auto accounts = FindResource("accounts");
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  auto with =
      BuildCreateRequest(*accounts, {"display_name=Acme"}, "", "order-17");
  ASSERT_TRUE(with.ok()) << with.status();
  crm::v1::CreateAccountRequest typed;
  typed.CopyFrom(**with);
  EXPECT_EQ(typed.request_id(), "order-17");
  EXPECT_EQ(typed.account().display_name(), "Acme");

  auto without = BuildCreateRequest(*accounts, {"display_name=Acme"}, "");
  ASSERT_TRUE(without.ok()) << without.status();
  typed.CopyFrom(**without);
  EXPECT_EQ(typed.request_id(), "");
}

}  // namespace
}  // namespace crm::client
