// Consistency tokens (base/consistency.h) on the real server, both
// backends: every response names the policy version it was decided with; a
// request naming a newer version is decided by a snapshot at least that new
// (the server loads it at once instead of waiting for its refresh), a token
// this deployment never issued is refused, and CrmClient carries the token
// from one call to the next by itself.
//
// A change is made behind the server's back (another writer on the same
// database, as another replica would), so without the token the server would
// keep deciding with the old policy until its refresh (up to 1 s on SQLite).
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/consistency.h"
#include "clients/consistency.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/diagnostics.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/policy_store.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

int64_t TokenOf(const grpc::ClientContext& ctx) {
  auto it = ctx.GetServerTrailingMetadata().find(base::kPolicyVersionHeader);
  int64_t v = 0;
  if (it == ctx.GetServerTrailingMetadata().end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()),
                        &v)) {
    return -1;
  }
  return v;
}


class ConsistencyTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(), .customize = GrantManagePolicy});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto db = store::Database::Open(server_->database(), 1);
    ASSERT_TRUE(db.ok()) << db.status();
    other_writer_ = *std::move(db);
  }

  // A new role written straight into the database by "another server":
  // returns the version it made.
  int64_t WriteBehindTheServersBack(const std::string& id) {
    store::PolicyStore store(other_writer_.get());
    int64_t made = 0;
    absl::Status s = other_writer_->InTransaction([&](store::Session& session) {
      auto v = store.BumpPolicyVersion(session);
      if (!v.ok()) return v.status();
      made = *v;
      crm::v1::Role role;
      role.set_display_name(id);
      return store.InsertObject(
          session, {"roles", id, 1, role.SerializeAsString(), 1});
    });
    EXPECT_TRUE(s.ok()) << s;
    return made;
  }

  grpc::Status GetRole(client::CrmClient& client, const std::string& name,
                       grpc::ClientContext* ctx) {
    crm::v1::GetPolicyObjectRequest req;
    req.set_name(name);
    crm::v1::PolicyObject out;
    return client.policy_admin().GetPolicyObject(ctx, req, &out);
  }

  int64_t Installed() {
    return server_->server().core().policy->Current()->version();
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<store::Database> other_writer_;
};

INSTANTIATE_TEST_SUITE_P(Backends, ConsistencyTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

TEST_P(ConsistencyTest, EveryResponseNamesItsPolicyVersion) {
  auto client = server_->Client("admin-cli");
  auto ctx = client->NewContext();
  crm::v1::EchoRequest req;
  crm::v1::EchoResponse resp;
  ASSERT_TRUE(client->diagnostics().Echo(ctx.get(), req, &resp).ok());
  EXPECT_EQ(TokenOf(*ctx), Installed());
  // Errors carry it too (the decision was made with that version).
  auto bad = client->NewContext();
  EXPECT_EQ(GetRole(*client, "roles/none", bad.get()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(TokenOf(*bad), Installed());
  // And the client library remembers it.
  ASSERT_NE(client->consistency(), nullptr);
  EXPECT_EQ(client->consistency()->seen(), Installed());
}

// The write behind the server's back is invisible to a request without a
// token until the refresh; with the token, the very request sees it. Done
// several times so that at least some requests land before the refresh.
TEST_P(ConsistencyTest, ARequestWithATokenIsDecidedWithThatVersion) {
  auto client = server_->Client("admin-cli");
  for (int i = 0; i < 5; ++i) {
    const std::string id = absl::StrCat("behind-", i);
    const int64_t made = WriteBehindTheServersBack(id);
    auto ctx = client->NewContext();
    ctx->AddMetadata(base::kMinPolicyVersionHeader, absl::StrCat(made));
    grpc::Status s = GetRole(*client, "roles/" + id, ctx.get());
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
    EXPECT_GE(TokenOf(*ctx), made);
    EXPECT_GE(Installed(), made);
  }
}

TEST_P(ConsistencyTest, TheClientCarriesTheTokenItSaw) {
  auto client = server_->Client("admin-cli");
  // The client learns of the change from another server's answer (its
  // tracker may be shared by channels to several servers).
  const int64_t made = WriteBehindTheServersBack("seen-elsewhere");
  client->consistency()->Observe(made);
  auto ctx = client->NewContext();
  grpc::Status s = GetRole(*client, "roles/seen-elsewhere", ctx.get());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(TokenOf(*ctx), made);
}

TEST_P(ConsistencyTest, TokensThisDeploymentNeverIssuedAreRefused) {
  auto client = server_->Client("admin-cli");
  for (const char* token : {"abc", "-3", "0", "99999999"}) {
    auto ctx = client->NewContext();
    ctx->AddMetadata(base::kMinPolicyVersionHeader, token);
    crm::v1::EchoRequest req;
    crm::v1::EchoResponse resp;
    grpc::Status s = client->diagnostics().Echo(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_THAT(s.error_message(), HasSubstr(base::kMinPolicyVersionHeader))
        << token;
  }
}

}  // namespace
}  // namespace crm::testing
