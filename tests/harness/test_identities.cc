#include "tests/harness/test_identities.h"

#include <cstdio>
#include <cstdlib>

#include "auth/authenticator.h"
#include "auth/profile_restrictions.h"
#include "server/request_context.h"

namespace crm::testing {

absl::Status AddProfile(TestServer& server, const store::ProfileRow& profile) {
  if (absl::Status s = auth::ValidateProfile(profile); !s.ok()) return s;
  if (absl::Status s =
          server.server().core().authn->identities().CreateProfile(profile);
      !s.ok()) {
    return s;
  }
  return server.server().ReloadPolicy();
}

absl::Status AddUser(TestServer& server, const std::string& username,
                     const std::string& password,
                     const std::string& profile_id,
                     const std::string& time_zone) {
  server::ServerCore& core = server.server().core();
  auth::NewUser user;
  user.id = username;
  user.username = username;
  user.display_name = username + " (test)";
  user.password = password;
  user.profile_id = profile_id;
  user.time_zone = time_zone;
  if (absl::Status s = auth::CreateUserWithPassword(
          core.authn->identities(), user, core.authn->settings().hash_params,
          core.clock->Now());
      !s.ok()) {
    return s;
  }
  return server.server().ReloadPolicy();
}

absl::StatusOr<std::string> LoginToken(client::CrmClient& client,
                                       const std::string& username,
                                       const std::string& password) {
  crm::v1::LoginRequest request;
  request.set_username(username);
  request.set_password(password);
  crm::v1::LoginResponse response;
  auto context = client.NewContext();
  grpc::Status s = client.auth().Login(context.get(), request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  return response.session_token();
}

std::unique_ptr<client::CrmClient> ClientTo(const TestServer& server,
                                            const std::string& target,
                                            const std::string& service) {
  client::ChannelOptions options;
  options.target = target;
  options.ca_file = server.certs().ca;
  options.cert_file = server.certs().ClientCert(service);
  options.key_file = server.certs().ClientKey(service);
  options.server_name_override = "localhost";
  options.default_deadline = absl::Seconds(10);
  auto c = client::CrmClient::Create(options);
  if (!c.ok()) {
    std::fprintf(stderr, "ClientTo: %s\n", c.status().ToString().c_str());
    std::abort();
  }
  return *std::move(c);
}

}  // namespace crm::testing
