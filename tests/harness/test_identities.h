// Test helpers for identities: profiles and users stored straight into a
// TestServer's database (there is no user administration API yet), and
// clients that act for a user or come from a chosen loopback address.
#ifndef CRM_TESTS_HARNESS_TEST_IDENTITIES_H_
#define CRM_TESTS_HARNESS_TEST_IDENTITIES_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "clients/crm_client.h"
#include "store/identity_store.h"
#include "tests/harness/test_server.h"

namespace crm::testing {

// Stores `profile` in the server's database (validated first) and has the
// server compile the policy again, so the next call sees it.
absl::Status AddProfile(TestServer& server, const store::ProfileRow& profile);

// Stores a user (id = username) with `password`, hashed with the server's
// configured (cheap, in tests) costs; the next call sees it (as AddProfile).
absl::Status AddUser(TestServer& server, const std::string& username,
                     const std::string& password,
                     const std::string& profile_id,
                     const std::string& time_zone = "");

// Logs in through `client`; the token, or the error.
absl::StatusOr<std::string> LoginToken(client::CrmClient& client,
                                       const std::string& username,
                                       const std::string& password);

// A client for `service` connecting to `target` ("127.0.0.1:PORT", e.g. a
// TcpRelay), verifying the server as "localhost".
std::unique_ptr<client::CrmClient> ClientTo(const TestServer& server,
                                            const std::string& target,
                                            const std::string& service);

}  // namespace crm::testing

#endif  // CRM_TESTS_HARNESS_TEST_IDENTITIES_H_
