// Idempotent creates (AIP-155 request_id; contract in
// proto/crm/v1/crm_service.proto, "Idempotent creates") through the real
// server over mTLS, on SQLite and PostgreSQL: a retried create returns the
// first record, a reused id with another body is refused, ids are scoped by
// principal and object, racing duplicates make one record, and crmctl's
// --request-id reaches the server.
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cli.h"
#include "clients/crm_client.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/account_test_base.h"
#include "tests/harness/policy_objects.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Text(const grpc::Status &s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

crm::v1::CreateAccountRequest AccountRequest(const std::string &display_name,
                                             const std::string &request_id) {
  crm::v1::CreateAccountRequest req;
  req.mutable_account()->set_display_name(display_name);
  req.mutable_account()->set_industry("Retail");
  req.set_request_id(request_id);
  return req;
}

grpc::Status Create(client::CrmClient &client,
                    const crm::v1::CreateAccountRequest &req,
                    crm::v1::Account *out) {
  auto ctx = client.NewContext();
  return client.accounts().CreateAccount(ctx.get(), req, out);
}

// Rows of `table` in the server's database, read directly.
int64_t CountRows(const TestServer &server, const std::string &table) {
  auto db = store::Database::Open(server.database(), 1);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return -1;
  int64_t n = -1;
  absl::Status s = (*db)->WithSession([&](store::Session &session) {
    auto r = store::QueryInt(
        session, {absl::StrCat("SELECT COUNT(*) FROM ", table), {}}, "test");
    if (r.ok()) n = *r;
    return r.status();
  });
  EXPECT_TRUE(s.ok()) << s;
  return n;
}

class IdempotentCreateTest : public AccountTestBase {};

TEST_P(IdempotentCreateTest, RetryReturnsTheFirstRecord) {
  const std::string id = client::NewRequestId();
  crm::v1::Account first;
  grpc::Status s = Create(*admin_, AccountRequest("Acme", id), &first);
  ASSERT_TRUE(s.ok()) << Text(s);
  ASSERT_THAT(first.name(), StartsWith("accounts/"));
  for (int retry = 0; retry < 3; ++retry) {
    crm::v1::Account again;
    s = Create(*admin_, AccountRequest("Acme", id), &again);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_EQ(again.name(), first.name());
    EXPECT_EQ(again.etag(), first.etag());
    EXPECT_EQ(again.create_time().seconds(), first.create_time().seconds());
    EXPECT_EQ(again.create_time().nanos(), first.create_time().nanos());
  }
  EXPECT_EQ(CountRows(*server_, "accounts"), 1);
  EXPECT_EQ(CountRows(*server_, "create_requests"), 1);
}

TEST_P(IdempotentCreateTest, WithoutRequestIdEveryCallCreates) {
  crm::v1::Account a, b;
  ASSERT_TRUE(Create(*admin_, AccountRequest("Acme", ""), &a).ok());
  ASSERT_TRUE(Create(*admin_, AccountRequest("Acme", ""), &b).ok());
  EXPECT_NE(a.name(), b.name());
  EXPECT_EQ(CountRows(*server_, "accounts"), 2);
  EXPECT_EQ(CountRows(*server_, "create_requests"), 0);
}

// The answer is the record as it is now, read like a Get.
TEST_P(IdempotentCreateTest, RetryAfterAnUpdateReturnsTheCurrentRecord) {
  crm::v1::Account first;
  ASSERT_TRUE(Create(*admin_, AccountRequest("Acme", "order-17"), &first).ok());
  crm::v1::UpdateAccountRequest up;
  up.mutable_account()->set_name(first.name());
  up.mutable_account()->set_industry("Robotics");
  up.mutable_update_mask()->add_paths("industry");
  crm::v1::Account updated;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().UpdateAccount(ctx.get(), up, &updated).ok());

  crm::v1::Account again;
  grpc::Status s = Create(*admin_, AccountRequest("Acme", "order-17"), &again);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(again.name(), first.name());
  EXPECT_EQ(again.industry(), "Robotics");
  EXPECT_EQ(again.etag(), "v2");

  crm::v1::DeleteAccountRequest del;
  del.set_name(first.name());
  google::protobuf::Empty empty;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->accounts().DeleteAccount(ctx.get(), del, &empty).ok());
  s = Create(*admin_, AccountRequest("Acme", "order-17"), &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr(first.name()));
  EXPECT_EQ(CountRows(*server_, "accounts"), 0);
}

TEST_P(IdempotentCreateTest, SameIdWithAnotherBodyIsRefused) {
  crm::v1::Account first;
  ASSERT_TRUE(Create(*admin_, AccountRequest("Acme", "r-1"), &first).ok());
  crm::v1::Account out;
  grpc::Status s = Create(*admin_, AccountRequest("Globex", "r-1"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Text(s);
  EXPECT_THAT(s.error_message(), AllOf(HasSubstr("request_id \"r-1\""),
                                       HasSubstr("different account"),
                                       HasSubstr("new request_id")));
  // A field that differs only from its default counts too.
  crm::v1::CreateAccountRequest more = AccountRequest("Acme", "r-1");
  more.mutable_account()->set_employee_count(1);
  s = Create(*admin_, more, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Text(s);
  // Output-only fields are ignored, as the create ignores them.
  crm::v1::CreateAccountRequest same = AccountRequest("Acme", "r-1");
  same.mutable_account()->set_etag("v9");
  same.mutable_account()->set_owner("users/someone");
  s = Create(*admin_, same, &out);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(out.name(), first.name());
  EXPECT_EQ(CountRows(*server_, "accounts"), 1);
}

TEST_P(IdempotentCreateTest, IdsAreScopedByPrincipalAndObject) {
  auto web = server_->Client("web-frontend");
  crm::v1::Account by_admin, by_web;
  ASSERT_TRUE(
      Create(*admin_, AccountRequest("Acme", "shared-id"), &by_admin).ok());
  grpc::Status s = Create(*web, AccountRequest("Acme", "shared-id"), &by_web);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_NE(by_admin.name(), by_web.name());
  EXPECT_EQ(by_web.owner(), "services/web-frontend");
  // Another object: the same id names another create.
  crm::v1::CreateContactRequest cc;
  cc.mutable_contact()->set_last_name("Hopper");
  cc.set_request_id("shared-id");
  crm::v1::Contact contact;
  auto ctx = admin_->NewContext();
  s = admin_->contacts().CreateContact(ctx.get(), cc, &contact);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_THAT(contact.name(), StartsWith("contacts/"));
  EXPECT_EQ(CountRows(*server_, "accounts"), 2);
  EXPECT_EQ(CountRows(*server_, "create_requests"), 3);
}

TEST_P(IdempotentCreateTest, ConcurrentDuplicatesMakeOneRecord) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 4;
  std::vector<std::unique_ptr<client::CrmClient>> clients;
  for (int i = 0; i < kThreads; ++i) clients.push_back(server_->Client());
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = absl::StrCat("race-", round);
    std::atomic<int> ready{0};
    std::vector<grpc::Status> statuses(kThreads);
    std::vector<crm::v1::Account> out(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        // Every thread sends once all are ready, so the calls overlap.
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();
        statuses[i] = Create(*clients[i], AccountRequest("Racer", id), &out[i]);
      });
    }
    for (std::thread &t : threads) t.join();
    for (int i = 0; i < kThreads; ++i) {
      ASSERT_TRUE(statuses[i].ok())
          << "round " << round << " thread " << i << ": " << Text(statuses[i]);
      EXPECT_EQ(out[i].name(), out[0].name()) << "round " << round;
    }
    EXPECT_EQ(CountRows(*server_, "accounts"), round + 1);
  }
  EXPECT_EQ(CountRows(*server_, "create_requests"), kRounds);
}

// (A request_id that is not UTF-8 fails earlier, when the request is
// parsed, like any string field that is not UTF-8.)
TEST_P(IdempotentCreateTest, BadRequestIdIsInvalidArgument) {
  for (const std::string &bad :
       {std::string("has space"), std::string(65, 'a'), std::string("ü"),
        std::string("a/b"), std::string("id\n")}) {
    crm::v1::Account out;
    grpc::Status s = Create(*admin_, AccountRequest("Acme", bad), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << bad << ": " << Text(s);
    EXPECT_THAT(s.error_message(), StartsWith("request_id:")) << bad;
  }
  // The edges that are accepted.
  crm::v1::Account out;
  grpc::Status s =
      Create(*admin_, AccountRequest("Acme", std::string(64, 'z')), &out);
  EXPECT_TRUE(s.ok()) << Text(s);
  s = Create(*admin_, AccountRequest("Acme", "A-z_0.9"), &out);
  EXPECT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(CountRows(*server_, "accounts"), 2);
}

// crmctl accounts create --request-id: the same id twice is one record.
TEST_P(IdempotentCreateTest, CrmctlCreateTakesARequestId) {
  std::map<std::string, std::string> env = {
      {"CRM_TARGET", server_->target()},
      {"CRM_CA", server_->certs().ca},
      {"CRM_CERT", server_->certs().ClientCert("admin-cli")},
      {"CRM_KEY", server_->certs().ClientKey("admin-cli")}};
  auto run = [&](const std::vector<std::string> &args, std::string *out) {
    client::CliDeps deps;
    std::istringstream in;
    deps.in = &in;
    deps.env = [&env](const std::string &name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    std::ostringstream o, e;
    int code = client::RunCli(args, o, e, deps);
    *out = o.str() + e.str();
    return code;
  };
  std::vector<std::string> names;
  for (int i = 0; i < 2; ++i) {
    std::string out;
    ASSERT_EQ(run({"--output", "json", "accounts", "create",
                   "display_name=Acme", "--request-id", "cli-1"},
                  &out),
              0)
        << out;
    crm::v1::Account account;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &account).ok())
        << out;
    names.push_back(account.name());
  }
  EXPECT_EQ(names[0], names[1]);
  std::string out;
  EXPECT_NE(
      run({"accounts", "create", "display_name=Other", "--request-id", "cli-1"},
          &out),
      0);
  EXPECT_THAT(out, HasSubstr("request_id \"cli-1\""));
  EXPECT_NE(run({"accounts", "create", "display_name=X", "--request-id", "a b"},
                &out),
            0);
  EXPECT_THAT(out, HasSubstr("request_id:"));
  EXPECT_EQ(CountRows(*server_, "accounts"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, IdempotentCreateTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto &info) {
                           return BackendName(info.param);
                         });

// Users acting through the web-frontend gateway: the principal is the
// service and the user, and a retry is answered under the caller's access
// now (accounts are private: a user sees what they own).
class IdempotentCreateUsersTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig &config) {
           testing::GrantSystemPermissions(
               config, "admin-cli", {"manage_policy"});
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Sales Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    for (const char *user : {"alice", "bob"}) {
      ASSERT_TRUE(AddUser(*server_, user, "pw", "rep").ok());
    }
    CreatePolicy("", PrivateWithHierarchy("accounts"));
    crm::v1::PolicyObject set;
    auto *p = set.mutable_permission_set()->add_object_permissions();
    p->set_object("accounts");
    p->set_read(true);
    p->set_create(true);
    set.mutable_permission_set()->add_assignees("profiles/rep");
    CreatePolicy("reps", set);
    for (const char *user : {"alice", "bob"}) {
      auto client = server_->Client("web-frontend");
      auto token = LoginToken(*client, user, "pw");
      ASSERT_TRUE(token.ok()) << token.status();
      client->set_session_token(*token);
      users_[user] = std::move(client);
    }
  }

  void CreatePolicy(const std::string &id, const crm::v1::PolicyObject &o) {
    auto stub = crm::v1::PolicyAdminService::NewStub(admin_->channel());
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = o;
    req.set_id(id);
    crm::v1::PolicyObject out;
    auto ctx = admin_->NewContext();
    grpc::Status s = stub->CreatePolicyObject(ctx.get(), req, &out);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::map<std::string, std::unique_ptr<client::CrmClient>> users_;
};

TEST_P(IdempotentCreateUsersTest, EachUserHasTheirOwnIds) {
  crm::v1::Account by_alice, by_bob, alice_again;
  ASSERT_TRUE(
      Create(*users_["alice"], AccountRequest("Acme", "u-1"), &by_alice).ok());
  grpc::Status s =
      Create(*users_["bob"], AccountRequest("Acme", "u-1"), &by_bob);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_NE(by_alice.name(), by_bob.name());
  EXPECT_EQ(by_alice.owner(), "users/alice");
  EXPECT_EQ(by_bob.owner(), "users/bob");
  // The gateway acting as itself is a third principal.
  auto web = server_->Client("web-frontend");
  crm::v1::Account by_web;
  ASSERT_TRUE(Create(*web, AccountRequest("Acme", "u-1"), &by_web).ok());
  EXPECT_NE(by_web.name(), by_alice.name());
  s = Create(*users_["alice"], AccountRequest("Acme", "u-1"), &alice_again);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(alice_again.name(), by_alice.name());
  EXPECT_EQ(CountRows(*server_, "accounts"), 3);
}

TEST_P(IdempotentCreateUsersTest, RetryOfARecordNoLongerVisibleIsNotFound) {
  crm::v1::Account by_alice;
  ASSERT_TRUE(
      Create(*users_["alice"], AccountRequest("Acme", "u-2"), &by_alice).ok());
  // Given to bob behind the server's back: private, so alice no longer
  // sees it.
  auto db = store::Database::Open(server_->database(), 1);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::Status st = (*db)->WithSession([&](store::Session &session) {
    return store::Execute(session,
                          {"UPDATE accounts SET owner = ? WHERE id = ?",
                           {std::string("users/bob"),
                            by_alice.name().substr(strlen("accounts/"))}},
                          "test")
        .status();
  });
  ASSERT_TRUE(st.ok()) << st;
  crm::v1::Account out;
  grpc::Status s =
      Create(*users_["alice"], AccountRequest("Acme", "u-2"), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Text(s);
  // Exactly the text of a Get of a missing record.
  EXPECT_EQ(s.error_message(), absl::StrCat(by_alice.name(), " not found"));
  EXPECT_EQ(CountRows(*server_, "accounts"), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, IdempotentCreateUsersTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto &info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
