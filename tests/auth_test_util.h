// Shared fixture of the auth integration tests (tests/auth_*_test.cc): a
// TestServer on a FakeClock set to Monday 2026-11-23 10:00 UTC, with
// profiles and users stored straight into its database.
#ifndef CRM_TESTS_AUTH_TEST_UTIL_H_
#define CRM_TESTS_AUTH_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "auth/clock.h"
#include "crm/v1/auth_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/request_context.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {

inline absl::Time MondayTenUtc() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 23, 10, 0, 0),
                         absl::UTCTimeZone());
}

inline std::string StatusText(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

class AuthFixture {
 protected:
  // Starts the server on `backend` with `customize` applied; adds profiles
  // "staff" (Staff: no restrictions) and "admins" (Administrators:
  // manage_users), users bob (staff, password "bob-pw") and alice (admins,
  // "alice-pw").
  void StartServer(Backend backend,
                   std::function<void(crm::internal::ServerConfig&)>
                       customize = nullptr) {
    TestServerOptions options;
    options.backend = backend;
    options.clock = &clock_;
    options.customize = std::move(customize);
    auto server = TestServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    store::ProfileRow staff;
    staff.id = "staff";
    staff.name = "Staff";
    ASSERT_TRUE(AddProfile(*server_, staff).ok());
    store::ProfileRow admins;
    admins.id = "admins";
    admins.name = "Administrators";
    admins.system_permissions = "manage_users,view_audit";
    ASSERT_TRUE(AddProfile(*server_, admins).ok());
    ASSERT_TRUE(AddUser(*server_, "bob", "bob-pw", "staff").ok());
    ASSERT_TRUE(AddUser(*server_, "alice", "alice-pw", "admins").ok());
  }

  grpc::Status Login(client::CrmClient& client, const std::string& username,
                     const std::string& password,
                     crm::v1::LoginResponse* response = nullptr) {
    crm::v1::LoginRequest request;
    request.set_username(username);
    request.set_password(password);
    crm::v1::LoginResponse ignored;
    auto context = client.NewContext();
    return client.auth().Login(context.get(), request,
                               response != nullptr ? response : &ignored);
  }

  // Logs in and returns the token (test failure if it fails).
  std::string MustLogin(client::CrmClient& client, const std::string& username,
                        const std::string& password) {
    crm::v1::LoginResponse response;
    grpc::Status s = Login(client, username, password, &response);
    EXPECT_TRUE(s.ok()) << username << ": " << StatusText(s);
    return response.session_token();
  }

  grpc::Status WhoAmI(client::CrmClient& client,
                      crm::v1::WhoAmIResponse* response = nullptr) {
    crm::v1::WhoAmIResponse ignored;
    auto context = client.NewContext();
    return client.auth().WhoAmI(context.get(), crm::v1::WhoAmIRequest(),
                                response != nullptr ? response : &ignored);
  }

  grpc::Status Unlock(client::CrmClient& client, const std::string& username) {
    crm::v1::UnlockUserRequest request;
    request.set_username(username);
    google::protobuf::Empty response;
    auto context = client.NewContext();
    return client.auth().UnlockUser(context.get(), request, &response);
  }

  // A client of `service` acting for the user of `token`.
  std::unique_ptr<client::CrmClient> UserClient(const std::string& service,
                                                const std::string& token) {
    auto c = server_->Client(service);
    c->set_session_token(token);
    return c;
  }

  auth::FakeClock clock_{MondayTenUtc()};
  std::unique_ptr<TestServer> server_;
};

}  // namespace crm::testing

#endif  // CRM_TESTS_AUTH_TEST_UTIL_H_
