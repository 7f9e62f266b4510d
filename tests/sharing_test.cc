// SharingService through the real server over mTLS, on SQLite and
// PostgreSQL, with users acting through the web-frontend gateway:
//   manager (role) > rep (role); alice and bob are reps, carol the manager;
//   accounts are private with access granted using hierarchies.
#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/sharing_service.grpc.pb.h"
#include "google/protobuf/empty.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/statement.h"
#include "tests/harness/policy_objects.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::PolicyObject;
using ::testing::HasSubstr;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

class SharingTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli", {"manage_policy"});
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    policy_ = crm::v1::PolicyAdminService::NewStub(admin_->channel());

    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Sales Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    for (const char* user : {"alice", "bob", "carol"}) {
      ASSERT_TRUE(AddUser(*server_, user, "pw", "rep").ok());
    }
    CreatePolicy("manager", Role(""));
    CreatePolicy("rep", Role("roles/manager"));
    SetRole("alice", "rep");
    SetRole("bob", "rep");
    SetRole("carol", "manager");
    CreatePolicy("", PrivateWithHierarchy("accounts"));
    // Written after the users: the policy write reloads them too.
    PolicyObject set;
    auto* p = set.mutable_permission_set()->add_object_permissions();
    p->set_object("accounts");
    p->set_read(true);
    p->set_create(true);
    p->set_edit(true);
    p->set_delete_(true);
    set.mutable_permission_set()->add_assignees("profiles/rep");
    CreatePolicy("reps", set);

    for (const char* user : {"alice", "bob", "carol"}) {
      auto client = server_->Client("web-frontend");
      auto token = LoginToken(*client, user, "pw");
      ASSERT_TRUE(token.ok()) << token.status();
      client->set_session_token(*token);
      users_[user] = std::move(client);
    }
  }

  static PolicyObject Role(const std::string& parent) {
    PolicyObject o;
    o.mutable_role()->set_parent(parent);
    return o;
  }

  void CreatePolicy(const std::string& id, const PolicyObject& object) {
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    PolicyObject out;
    auto ctx = admin_->NewContext();
    grpc::Status s = policy_->CreatePolicyObject(ctx.get(), req, &out);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  void SetRole(const std::string& user, const std::string& role) {
    auto db = store::Database::Open(server_->database(), 1);
    ASSERT_TRUE(db.ok()) << db.status();
    absl::Status s = (*db)->WithSession([&](store::Session& session) {
      return store::Execute(session,
                            {"UPDATE users SET role_id = ? WHERE id = ?",
                             {role, user}},
                            "test")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  client::CrmClient& As(const std::string& user) { return *users_.at(user); }

  crm::v1::Account CreateAccount(const std::string& user) {
    auto stub = crm::v1::AccountService::NewStub(As(user).channel());
    crm::v1::CreateAccountRequest req;
    req.mutable_account()->set_display_name("Acme");
    crm::v1::Account out;
    auto ctx = As(user).NewContext();
    grpc::Status s = stub->CreateAccount(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out;
  }

  grpc::Status GetAccount(const std::string& user, const std::string& name,
                          crm::v1::Account* out = nullptr) {
    auto stub = crm::v1::AccountService::NewStub(As(user).channel());
    crm::v1::GetAccountRequest req;
    req.set_name(name);
    crm::v1::Account ignored;
    auto ctx = As(user).NewContext();
    return stub->GetAccount(ctx.get(), req, out ? out : &ignored);
  }

  grpc::Status Share(client::CrmClient& client, const std::string& record,
                     const std::string& grantee_user,
                     crm::v1::AccessLevel access,
                     crm::v1::RecordShare* out = nullptr) {
    auto stub = crm::v1::SharingService::NewStub(client.channel());
    crm::v1::ShareRecordRequest req;
    req.set_record(record);
    req.mutable_grantee()->set_user(grantee_user);
    req.set_access(access);
    crm::v1::RecordShare ignored;
    auto ctx = client.NewContext();
    return stub->ShareRecord(ctx.get(), req, out ? out : &ignored);
  }

  grpc::Status Unshare(client::CrmClient& client, const std::string& name) {
    auto stub = crm::v1::SharingService::NewStub(client.channel());
    crm::v1::UnshareRecordRequest req;
    req.set_name(name);
    google::protobuf::Empty out;
    auto ctx = client.NewContext();
    return stub->UnshareRecord(ctx.get(), req, &out);
  }

  grpc::Status ListShares(client::CrmClient& client, const std::string& record,
                          crm::v1::ListRecordSharesResponse* out) {
    auto stub = crm::v1::SharingService::NewStub(client.channel());
    crm::v1::ListRecordSharesRequest req;
    req.set_record(record);
    auto ctx = client.NewContext();
    return stub->ListRecordShares(ctx.get(), req, out);
  }

  grpc::Status Transfer(client::CrmClient& client, const std::string& record,
                        const std::string& owner, const std::string& etag,
                        crm::v1::TransferRecordResponse* out = nullptr) {
    auto stub = crm::v1::SharingService::NewStub(client.channel());
    crm::v1::TransferRecordRequest req;
    req.set_record(record);
    req.set_new_owner(owner);
    req.set_etag(etag);
    crm::v1::TransferRecordResponse ignored;
    auto ctx = client.NewContext();
    return stub->TransferRecord(ctx.get(), req, out ? out : &ignored);
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<crm::v1::PolicyAdminService::Stub> policy_;
  std::map<std::string, std::unique_ptr<client::CrmClient>> users_;
};

TEST_P(SharingTest, OwnerSharesAndUnsharesAndOthersAreRefused) {
  crm::v1::Account account = CreateAccount("alice");
  const std::string& a = account.name();
  ASSERT_EQ(account.owner(), "users/alice");

  // bob cannot see it; sharing a hidden record is NOT_FOUND like a missing one.
  EXPECT_EQ(GetAccount("bob", a).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status hidden = Share(As("bob"), a, "users/bob", crm::v1::READ);
  grpc::Status missing =
      Share(As("bob"), "accounts/nosuchrecord", "users/bob", crm::v1::READ);
  EXPECT_EQ(hidden.error_code(), grpc::StatusCode::NOT_FOUND) << Text(hidden);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(hidden.error_message(),
            absl::StrReplaceAll(missing.error_message(),
                                {{"accounts/nosuchrecord", a}}));

  crm::v1::RecordShare share;
  grpc::Status s = Share(As("alice"), a, "users/bob", crm::v1::READ, &share);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_THAT(share.name(), ::testing::StartsWith(a + "/shares/"));
  EXPECT_EQ(share.created_by(), "users/alice");

  // Now visible to bob (a hidden record would be NOT_FOUND), but bob has
  // only READ: no share, no list, no transfer.
  s = Share(As("bob"), a, "users/carol", crm::v1::READ);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  crm::v1::ListRecordSharesResponse list;
  EXPECT_EQ(ListShares(As("bob"), a, &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Transfer(As("bob"), a, "users/bob", "").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Sharing again with the same grantee changes the level of the same share.
  crm::v1::RecordShare again;
  ASSERT_TRUE(
      Share(As("alice"), a, "users/bob", crm::v1::READ_WRITE, &again).ok());
  EXPECT_EQ(again.name(), share.name());
  EXPECT_EQ(again.access(), crm::v1::READ_WRITE);

  // The manager above alice may list; the list holds the one share.
  s = ListShares(As("carol"), a, &list);
  ASSERT_TRUE(s.ok()) << Text(s);
  ASSERT_EQ(list.shares_size(), 1);
  EXPECT_EQ(list.shares(0).grantee().user(), "users/bob");

  // Unknown grantees and bad levels are refused.
  EXPECT_EQ(Share(As("alice"), a, "users/nobody", crm::v1::READ).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Share(As("alice"), a, "users/bob", crm::v1::ACCESS_LEVEL_UNSPECIFIED)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(Unshare(As("alice"), share.name()).ok());
  EXPECT_EQ(GetAccount("bob", a).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ListShares(As("bob"), a, &list).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Unshare(As("alice"), share.name()).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(SharingTest, TransferMovesOwnershipKeepsSharesAndChecksTheEtag) {
  crm::v1::Account account = CreateAccount("alice");
  const std::string& a = account.name();
  ASSERT_TRUE(Share(As("alice"), a, "users/carol", crm::v1::READ).ok());

  EXPECT_EQ(Transfer(As("alice"), a, "users/nobody", "").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Transfer(As("alice"), a, "users/bob", "v7").error_code(),
            grpc::StatusCode::ABORTED);
  crm::v1::TransferRecordResponse moved;
  grpc::Status s = Transfer(As("alice"), a, "users/bob", account.etag(), &moved);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(moved.owner(), "users/bob");
  EXPECT_EQ(moved.etag(), "v2");

  crm::v1::Account got;
  ASSERT_TRUE(GetAccount("bob", a, &got).ok());
  EXPECT_EQ(got.owner(), "users/bob");
  EXPECT_EQ(got.etag(), "v2");
  // alice no longer owns it and has no share.
  EXPECT_EQ(GetAccount("alice", a).error_code(), grpc::StatusCode::NOT_FOUND);
  // The share stays on the record.
  crm::v1::ListRecordSharesResponse list;
  ASSERT_TRUE(ListShares(As("bob"), a, &list).ok());
  ASSERT_EQ(list.shares_size(), 1);
  EXPECT_EQ(list.shares(0).grantee().user(), "users/carol");
}

// A record bob may not see answers every call exactly like a record that
// does not exist: code, message and the google.rpc details, byte for byte
// (the names are the same length, so only the name itself differs).
TEST_P(SharingTest, HiddenRecordAnswersLikeAMissingOneDetailsIncluded) {
  crm::v1::Account account = CreateAccount("alice");
  const std::string hidden = account.name();
  const std::string missing =
      "accounts/" + std::string(hidden.size() - strlen("accounts/"), '0');
  ASSERT_NE(hidden, missing);
  auto accounts = crm::v1::AccountService::NewStub(As("bob").channel());
  using Call = std::function<grpc::Status(const std::string&)>;
  const std::map<std::string, Call> calls = {
      {"GetAccount", [&](const std::string& n) { return GetAccount("bob", n); }},
      {"UpdateAccount",
       [&](const std::string& n) {
         crm::v1::UpdateAccountRequest req;
         req.mutable_account()->set_name(n);
         req.mutable_account()->set_display_name("Mine now");
         req.mutable_update_mask()->add_paths("display_name");
         crm::v1::Account out;
         auto ctx = As("bob").NewContext();
         return accounts->UpdateAccount(ctx.get(), req, &out);
       }},
      {"DeleteAccount",
       [&](const std::string& n) {
         crm::v1::DeleteAccountRequest req;
         req.set_name(n);
         google::protobuf::Empty out;
         auto ctx = As("bob").NewContext();
         return accounts->DeleteAccount(ctx.get(), req, &out);
       }},
      {"ShareRecord",
       [&](const std::string& n) {
         return Share(As("bob"), n, "users/bob", crm::v1::READ);
       }},
      {"ListRecordShares",
       [&](const std::string& n) {
         crm::v1::ListRecordSharesResponse out;
         return ListShares(As("bob"), n, &out);
       }},
      {"TransferRecord",
       [&](const std::string& n) {
         return Transfer(As("bob"), n, "users/bob", account.etag());
       }},
  };
  for (const auto& [method, call] : calls) {
    SCOPED_TRACE(method);
    grpc::Status h = call(hidden);
    grpc::Status m = call(missing);
    ASSERT_EQ(m.error_code(), grpc::StatusCode::NOT_FOUND) << Text(m);
    EXPECT_EQ(h.error_code(), m.error_code()) << Text(h);
    EXPECT_EQ(h.error_message(),
              absl::StrReplaceAll(m.error_message(), {{missing, hidden}}));
    EXPECT_FALSE(m.error_details().empty());
    EXPECT_EQ(h.error_details(),
              absl::StrReplaceAll(m.error_details(), {{missing, hidden}}));
  }
  // Nothing changed: alice still sees her record as it was.
  crm::v1::Account after;
  ASSERT_TRUE(GetAccount("alice", hidden, &after).ok());
  EXPECT_EQ(after.etag(), account.etag());
}

TEST_P(SharingTest, ServicesNeedTheObjectPermission) {
  crm::v1::Account account = CreateAccount("alice");
  auto billing = server_->Client("billing");
  // billing has no grant on contacts at all.
  grpc::Status s = Share(*billing, "contacts/c1", "users/bob", crm::v1::READ);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // billing may read accounts but not edit them: no transfer.
  s = Transfer(*billing, account.name(), "users/bob", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // Malformed names.
  EXPECT_EQ(Share(*admin_, "widgets/1", "users/bob", crm::v1::READ).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Unshare(*admin_, account.name()).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A service acting as itself has READ access to the records of an object it
// may only read: it sees the record, so refusing to share, unshare or list
// its shares is PERMISSION_DENIED (not NOT_FOUND); those need FULL (delete
// or modify_all on the object).
TEST_P(SharingTest, ReadOnlyServiceCannotShareOrUnshare) {
  crm::v1::Account account = CreateAccount("alice");
  crm::v1::RecordShare share;
  ASSERT_TRUE(
      Share(As("alice"), account.name(), "users/bob", crm::v1::READ, &share)
          .ok());
  auto billing = server_->Client("billing");
  // billing may read accounts: the record is visible to it ...
  auto accounts = crm::v1::AccountService::NewStub(billing->channel());
  crm::v1::GetAccountRequest get;
  get.set_name(account.name());
  crm::v1::Account seen;
  auto ctx = billing->NewContext();
  ASSERT_TRUE(accounts->GetAccount(ctx.get(), get, &seen).ok());
  // ... but it has only READ access, and sharing (like listing the shares,
  // Operation::kShare) needs FULL.
  crm::v1::ListRecordSharesResponse list;
  grpc::Status s = ListShares(*billing, account.name(), &list);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  s = Share(*billing, account.name(), "users/carol", crm::v1::READ);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("service billing"));
  s = Unshare(*billing, share.name());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  // Nothing changed: bob still has his share, carol none.
  ASSERT_TRUE(ListShares(As("alice"), account.name(), &list).ok());
  ASSERT_EQ(list.shares_size(), 1);
  EXPECT_EQ(list.shares(0).grantee().user(), "users/bob");
  // The admin service (every permission, acting as itself) may share.
  EXPECT_TRUE(
      Share(*admin_, account.name(), "users/carol", crm::v1::READ).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, SharingTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
