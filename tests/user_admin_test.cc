// UserAdminService through the real server over mTLS, on SQLite and
// PostgreSQL: users and profiles created through the API log in; a role
// change and a deactivation apply to the very next request; who may call;
// bad input refused with nothing written; etags; referenced deletes; the
// password never comes back.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/error_details.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/user_admin_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/request_context.h"
#include "server/server_core.h"
#include "store/identity_store.h"
#include "tests/harness/policy_objects.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using crm::v1::PolicyObject;
using crm::v1::Profile;
using crm::v1::User;
using crm::v1::UserAdminService;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery staple";
constexpr char kOtherPassword[] = "another long passphrase";

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}


google::protobuf::FieldMask Mask(std::vector<std::string> paths) {
  google::protobuf::FieldMask mask;
  for (auto& p : paths) mask.add_paths(p);
  return mask;
}

// The UserAdminService calls of one client; every response is kept so that
// a test can check that no password ever came back.
class UserAdmin {
 public:
  explicit UserAdmin(std::unique_ptr<client::CrmClient> client)
      : client_(std::move(client)),
        stub_(UserAdminService::NewStub(client_->channel())) {}

  client::CrmClient& client() { return *client_; }

  grpc::Status CreateProfile(const std::string& id, const Profile& profile,
                             Profile* out = nullptr) {
    crm::v1::CreateProfileRequest req;
    req.set_profile_id(id);
    *req.mutable_profile() = profile;
    return Call(&UserAdminService::Stub::CreateProfile, req, out);
  }
  grpc::Status GetProfile(const std::string& name, Profile* out = nullptr) {
    crm::v1::GetProfileRequest req;
    req.set_name(name);
    return Call(&UserAdminService::Stub::GetProfile, req, out);
  }
  grpc::Status ListProfiles(crm::v1::ListProfilesResponse* out) {
    return Call(&UserAdminService::Stub::ListProfiles,
                crm::v1::ListProfilesRequest(), out);
  }
  grpc::Status UpdateProfile(const Profile& profile,
                             const std::vector<std::string>& paths,
                             Profile* out = nullptr) {
    crm::v1::UpdateProfileRequest req;
    *req.mutable_profile() = profile;
    *req.mutable_update_mask() = Mask(paths);
    return Call(&UserAdminService::Stub::UpdateProfile, req, out);
  }
  grpc::Status DeleteProfile(const std::string& name,
                             const std::string& etag = "") {
    crm::v1::DeleteProfileRequest req;
    req.set_name(name);
    req.set_etag(etag);
    google::protobuf::Empty out;
    return Call(&UserAdminService::Stub::DeleteProfile, req, &out);
  }

  grpc::Status CreateUser(const std::string& id, const User& user,
                          const std::string& password, User* out = nullptr) {
    crm::v1::CreateUserRequest req;
    req.set_user_id(id);
    *req.mutable_user() = user;
    req.set_password(password);
    return Call(&UserAdminService::Stub::CreateUser, req, out);
  }
  grpc::Status GetUser(const std::string& name, User* out = nullptr) {
    crm::v1::GetUserRequest req;
    req.set_name(name);
    return Call(&UserAdminService::Stub::GetUser, req, out);
  }
  grpc::Status ListUsers(crm::v1::ListUsersResponse* out, int page_size = 0,
                         const std::string& token = "") {
    crm::v1::ListUsersRequest req;
    req.set_page_size(page_size);
    req.set_page_token(token);
    return Call(&UserAdminService::Stub::ListUsers, req, out);
  }
  grpc::Status UpdateUser(const User& user,
                          const std::vector<std::string>& paths,
                          User* out = nullptr) {
    crm::v1::UpdateUserRequest req;
    *req.mutable_user() = user;
    *req.mutable_update_mask() = Mask(paths);
    return Call(&UserAdminService::Stub::UpdateUser, req, out);
  }
  grpc::Status SetPassword(const std::string& name, const std::string& password,
                           const std::string& etag = "") {
    crm::v1::SetUserPasswordRequest req;
    req.set_name(name);
    req.set_password(password);
    req.set_etag(etag);
    google::protobuf::Empty out;
    return Call(&UserAdminService::Stub::SetUserPassword, req, &out);
  }
  grpc::Status DeleteUser(const std::string& name,
                          const std::string& etag = "") {
    crm::v1::DeleteUserRequest req;
    req.set_name(name);
    req.set_etag(etag);
    google::protobuf::Empty out;
    return Call(&UserAdminService::Stub::DeleteUser, req, &out);
  }

  // Every response and error message seen so far.
  const std::string& transcript() const { return transcript_; }

 private:
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (UserAdminService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* out) {
    Resp ignored;
    Resp* resp = out != nullptr ? out : &ignored;
    auto ctx = client_->NewContext();
    grpc::Status s = (stub_.get()->*method)(ctx.get(), req, resp);
    transcript_ += resp->DebugString() + s.error_message() + "\n";
    return s;
  }

  std::unique_ptr<client::CrmClient> client_;
  std::unique_ptr<UserAdminService::Stub> stub_;
  std::string transcript_;
};

Profile SimpleProfile(const std::string& display_name,
                      std::vector<crm::v1::SystemPermission> perms = {}) {
  Profile p;
  p.set_display_name(display_name);
  for (auto perm : perms) p.add_system_permissions(perm);
  return p;
}

User NewUser(const std::string& username, const std::string& profile,
             const std::string& role = "") {
  User u;
  u.set_username(username);
  u.set_display_name(username + " Example");
  u.set_profile(profile);
  u.set_role(role);
  u.set_active(true);
  return u;
}

class UserAdminTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(), .customize = GrantManagePolicy});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = std::make_unique<UserAdmin>(server_->Client("admin-cli"));
    policy_client_ = server_->Client("admin-cli");
    policy_ = crm::v1::PolicyAdminService::NewStub(policy_client_->channel());
    grpc::Status s = admin_->CreateProfile("rep", SimpleProfile("Sales Rep"));
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  void TearDown() override {
    if (admin_ != nullptr) {
      for (const char* pw : {kPassword, kOtherPassword}) {
        EXPECT_THAT(admin_->transcript(), Not(HasSubstr(pw)));
      }
    }
  }

  void CreatePolicy(const std::string& id, const PolicyObject& object) {
    crm::v1::CreatePolicyObjectRequest req;
    *req.mutable_object() = object;
    req.set_id(id);
    PolicyObject out;
    auto ctx = policy_client_->NewContext();
    grpc::Status s = policy_->CreatePolicyObject(ctx.get(), req, &out);
    ASSERT_TRUE(s.ok()) << Text(s);
  }

  void CreateUserOrFail(const std::string& id, const User& user,
                        const std::string& password = kPassword) {
    grpc::Status s = admin_->CreateUser(id, user, password);
    ASSERT_TRUE(s.ok()) << id << ": " << Text(s);
  }

  // A client of `service` logged in as `username`.
  std::unique_ptr<client::CrmClient> LoggedIn(
      const std::string& username, const std::string& service = "web-frontend",
      const std::string& password = kPassword) {
    auto client = server_->Client(service);
    auto token = LoginToken(*client, username, password);
    EXPECT_TRUE(token.ok()) << username << ": " << token.status();
    if (token.ok()) client->set_session_token(*token);
    return client;
  }

  grpc::Status WhoAmI(client::CrmClient& client) {
    crm::v1::WhoAmIResponse out;
    auto ctx = client.NewContext();
    return client.auth().WhoAmI(ctx.get(), crm::v1::WhoAmIRequest(), &out);
  }

  int UserCount() {
    crm::v1::ListUsersResponse list;
    grpc::Status s = admin_->ListUsers(&list);
    EXPECT_TRUE(s.ok()) << Text(s);
    return list.users_size();
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<UserAdmin> admin_;
  std::unique_ptr<client::CrmClient> policy_client_;
  std::unique_ptr<crm::v1::PolicyAdminService::Stub> policy_;
};

TEST_P(UserAdminTest, CreatedUserLogsInAndReadsBack) {
  User created;
  grpc::Status s = admin_->CreateUser("erin", NewUser("Erin", "profiles/rep"),
                                      kPassword, &created);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(created.name(), "users/erin");
  EXPECT_EQ(created.username(), "erin") << "stored in lower case";
  EXPECT_EQ(created.profile(), "profiles/rep");
  EXPECT_EQ(created.profile_display_name(), "Sales Rep");
  EXPECT_TRUE(created.active());
  EXPECT_FALSE(created.locked());
  EXPECT_EQ(created.etag(), "v1");
  EXPECT_GT(created.create_time().seconds(), 0);

  User got;
  ASSERT_TRUE(admin_->GetUser("users/erin", &got).ok());
  EXPECT_EQ(got.DebugString(), created.DebugString());
  crm::v1::ListUsersResponse list;
  ASSERT_TRUE(admin_->ListUsers(&list).ok());
  ASSERT_EQ(list.users_size(), 1);
  EXPECT_EQ(list.users(0).DebugString(), created.DebugString());

  auto erin = LoggedIn("erin");
  EXPECT_TRUE(WhoAmI(*erin).ok());

  // Taken id, taken username (in any case).
  s = admin_->CreateUser("erin", NewUser("erin2", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Text(s);
  s = admin_->CreateUser("erin2", NewUser("ERIN", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("username 'erin' is taken"));
  EXPECT_EQ(admin_->GetUser("users/nobody").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(UserAdminTest, ListUsersPagesInUsernameOrder) {
  for (const char* name : {"dave", "bea", "carl", "al", "eve"}) {
    CreateUserOrFail(name, NewUser(name, "profiles/rep"));
  }
  std::vector<std::string> seen;
  std::string token;
  do {
    crm::v1::ListUsersResponse page;
    grpc::Status s = admin_->ListUsers(&page, 2, token);
    ASSERT_TRUE(s.ok()) << Text(s);
    EXPECT_LE(page.users_size(), 2);
    for (const auto& u : page.users()) seen.push_back(u.username());
    token = page.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(seen,
            (std::vector<std::string>{"al", "bea", "carl", "dave", "eve"}));
  crm::v1::ListUsersResponse page;
  EXPECT_EQ(admin_->ListUsers(&page, 2, "garbage").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(admin_->ListUsers(&page, 5000).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(UserAdminTest, RoleChangeAppliesToTheVeryNextRequest) {
  PolicyObject manager;
  manager.mutable_role()->set_display_name("Manager");
  CreatePolicy("manager", manager);
  PolicyObject rep;
  rep.mutable_role()->set_parent("roles/manager");
  CreatePolicy("rep", rep);
  CreatePolicy("", PrivateWithHierarchy("accounts"));
  PolicyObject set;
  auto* p = set.mutable_permission_set()->add_object_permissions();
  p->set_object("accounts");
  p->set_read(true);
  p->set_create(true);
  set.mutable_permission_set()->add_assignees("profiles/rep");
  CreatePolicy("reps", set);

  CreateUserOrFail("alice", NewUser("alice", "profiles/rep", "roles/rep"));
  CreateUserOrFail("carol", NewUser("carol", "profiles/rep"));
  auto alice = LoggedIn("alice");
  auto carol = LoggedIn("carol");

  auto accounts = crm::v1::AccountService::NewStub(alice->channel());
  crm::v1::CreateAccountRequest create;
  create.mutable_account()->set_display_name("Alice's private account");
  crm::v1::Account account;
  auto ctx = alice->NewContext();
  grpc::Status s = accounts->CreateAccount(ctx.get(), create, &account);
  ASSERT_TRUE(s.ok()) << Text(s);

  auto carol_accounts = crm::v1::AccountService::NewStub(carol->channel());
  auto get = [&]() {
    crm::v1::GetAccountRequest req;
    req.set_name(account.name());
    crm::v1::Account out;
    auto c = carol->NewContext();
    return carol_accounts->GetAccount(c.get(), req, &out);
  };
  EXPECT_EQ(get().error_code(), grpc::StatusCode::NOT_FOUND);

  User change;
  change.set_name("users/carol");
  change.set_role("roles/manager");
  User updated;
  s = admin_->UpdateUser(change, {"role"}, &updated);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(updated.role(), "roles/manager");
  EXPECT_EQ(updated.display_name(), "carol Example") << "not in the mask";
  EXPECT_TRUE(updated.active()) << "not in the mask";
  s = get();
  EXPECT_TRUE(s.ok()) << "the manager sees the subordinate's account: "
                      << Text(s);

  change.set_role("");
  ASSERT_TRUE(admin_->UpdateUser(change, {"role"}).ok());
  EXPECT_EQ(get().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_P(UserAdminTest, DeactivationRefusesLoginAndEndsSessions) {
  CreateUserOrFail("erin", NewUser("erin", "profiles/rep"));
  auto erin = LoggedIn("erin");
  ASSERT_TRUE(WhoAmI(*erin).ok());

  User off;
  off.set_name("users/erin");
  off.set_active(false);
  User updated;
  grpc::Status s = admin_->UpdateUser(off, {"active"}, &updated);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_FALSE(updated.active());
  EXPECT_EQ(WhoAmI(*erin).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto again = server_->Client("web-frontend");
  EXPECT_EQ(LoginToken(*again, "erin", kPassword).status().code(),
            absl::StatusCode::kUnauthenticated);

  off.set_active(true);
  ASSERT_TRUE(admin_->UpdateUser(off, {"active"}).ok());
  EXPECT_TRUE(LoginToken(*again, "erin", kPassword).ok());
}

TEST_P(UserAdminTest, SetPasswordReplacesItAndEndsSessions) {
  CreateUserOrFail("erin", NewUser("erin", "profiles/rep"));
  auto erin = LoggedIn("erin");
  grpc::Status s = admin_->SetPassword("users/erin", "short");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  EXPECT_EQ(admin_->SetPassword("users/erin", kOtherPassword, "v9")
                .error_code(),
            grpc::StatusCode::ABORTED);
  ASSERT_TRUE(WhoAmI(*erin).ok()) << "refused changes end nothing";

  s = admin_->SetPassword("users/erin", kOtherPassword);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(WhoAmI(*erin).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto client = server_->Client("web-frontend");
  EXPECT_FALSE(LoginToken(*client, "erin", kPassword).ok());
  EXPECT_TRUE(LoginToken(*client, "erin", kOtherPassword).ok());
  EXPECT_EQ(admin_->SetPassword("users/nobody", kOtherPassword).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_P(UserAdminTest, OnlyHoldersOfManageUsersMayManageUsers) {
  // billing holds no system permission.
  UserAdmin billing(server_->Client("billing"));
  grpc::Status s =
      billing.CreateUser("x", NewUser("x", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("manage_users is required"));
  crm::v1::ListUsersResponse list;
  EXPECT_EQ(billing.ListUsers(&list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(billing.GetProfile("profiles/rep").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A user whose profile holds manage_users, through a service that does
  // (admin-cli) and through one that does not (web-frontend).
  ASSERT_TRUE(admin_
                  ->CreateProfile("useradmins",
                                  SimpleProfile("User admins",
                                                {crm::v1::MANAGE_USERS}))
                  .ok());
  CreateUserOrFail("uma", NewUser("uma", "profiles/useradmins"));
  CreateUserOrFail("rex", NewUser("rex", "profiles/rep"));
  UserAdmin uma_admin(LoggedIn("uma", "admin-cli"));
  s = uma_admin.CreateUser("x", NewUser("x", "profiles/rep"), kPassword);
  EXPECT_TRUE(s.ok()) << Text(s);
  // Profiles are policy: manage_users is not enough.
  s = uma_admin.CreateProfile("p2", SimpleProfile("P2"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("manage_policy is required"));
  // Nobody deactivates or deletes themselves.
  User self;
  self.set_name("users/uma");
  self.set_active(false);
  s = uma_admin.UpdateUser(self, {"active"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_EQ(uma_admin.DeleteUser("users/uma").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  UserAdmin uma_web(LoggedIn("uma", "web-frontend"));
  s = uma_web.CreateUser("y", NewUser("y", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  UserAdmin rex_admin(LoggedIn("rex", "admin-cli"));
  s = rex_admin.CreateUser("y", NewUser("y", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_EQ(admin_->GetUser("users/y").error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Taking manage_users away from the profile applies to the next call.
  Profile change;
  change.set_name("profiles/useradmins");
  ASSERT_TRUE(admin_->UpdateProfile(change, {"system_permissions"}).ok());
  s = uma_admin.CreateUser("z", NewUser("z", "profiles/rep"), kPassword);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
}

TEST_P(UserAdminTest, BadUserInputIsRefusedAndWritesNothing) {
  PolicyObject role;
  role.mutable_role()->set_display_name("Rep");
  CreatePolicy("rep", role);
  CreateUserOrFail("erin", NewUser("erin", "profiles/rep"));
  const int users = UserCount();

  struct CreateCase {
    const char* what;
    std::string id;
    User user;
    std::string password;
    const char* message;
  };
  auto with = [](std::function<void(User&)> edit) {
    User u = NewUser("newbie", "profiles/rep");
    edit(u);
    return u;
  };
  const CreateCase creates[] = {
      {"bad id", "bad id!", NewUser("newbie", "profiles/rep"), kPassword,
       "user_id"},
      {"bad username", "n1", NewUser("-newbie", "profiles/rep"), kPassword,
       "username"},
      {"short password", "n1", NewUser("newbie", "profiles/rep"), "short",
       "password"},
      {"password holds username", "n1", NewUser("newbie", "profiles/rep"),
       "newbie-and-more-words", "username"},
      {"no profile", "n1", NewUser("newbie", ""), kPassword, "user.profile"},
      {"unknown profile", "n1", NewUser("newbie", "profiles/nope"), kPassword,
       "profiles/nope does not exist"},
      {"bad role name", "n1", NewUser("newbie", "profiles/rep", "role/x"),
       kPassword, "user.role"},
      {"unknown role", "n1", NewUser("newbie", "profiles/rep", "roles/nope"),
       kPassword, "roles/nope does not exist"},
      {"bad time zone", "n1",
       with([](User& u) { u.set_time_zone("Mars/Olympus"); }), kPassword,
       "time_zone"},
  };
  for (const CreateCase& c : creates) {
    SCOPED_TRACE(c.what);
    grpc::Status s = admin_->CreateUser(c.id, c.user, c.password);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
    EXPECT_EQ(UserCount(), users) << "nothing written";
  }

  struct UpdateCase {
    const char* what;
    User user;
    std::vector<std::string> paths;
    grpc::StatusCode code;
  };
  User erin;
  erin.set_name("users/erin");
  auto edited = [&](std::function<void(User&)> edit) {
    User u = erin;
    edit(u);
    return u;
  };
  const UpdateCase updates[] = {
      {"empty mask", erin, {}, grpc::StatusCode::INVALID_ARGUMENT},
      {"username is not updatable", erin, {"username"},
       grpc::StatusCode::INVALID_ARGUMENT},
      {"unknown role", edited([](User& u) { u.set_role("roles/nope"); }),
       {"role"}, grpc::StatusCode::INVALID_ARGUMENT},
      {"unknown profile",
       edited([](User& u) { u.set_profile("profiles/nope"); }), {"profile"},
       grpc::StatusCode::INVALID_ARGUMENT},
      {"bad time zone", edited([](User& u) { u.set_time_zone("Nowhere"); }),
       {"time_zone"}, grpc::StatusCode::INVALID_ARGUMENT},
      {"bad name", edited([](User& u) { u.set_name("erin"); }), {"role"},
       grpc::StatusCode::INVALID_ARGUMENT},
      {"bad etag", edited([](User& u) { u.set_etag("7"); }), {"role"},
       grpc::StatusCode::INVALID_ARGUMENT},
      {"missing user", edited([](User& u) { u.set_name("users/nobody"); }),
       {"role"}, grpc::StatusCode::NOT_FOUND},
  };
  for (const UpdateCase& c : updates) {
    SCOPED_TRACE(c.what);
    grpc::Status s = admin_->UpdateUser(c.user, c.paths);
    EXPECT_EQ(s.error_code(), c.code) << Text(s);
    EXPECT_FALSE(s.error_message().empty());
    User got;
    ASSERT_TRUE(admin_->GetUser("users/erin", &got).ok());
    EXPECT_EQ(got.etag(), "v1") << "nothing written";
    EXPECT_EQ(got.profile(), "profiles/rep");
    EXPECT_EQ(got.role(), "");
  }
}

TEST_P(UserAdminTest, BadProfileInputIsRefusedAndWritesNothing) {
  struct Case {
    const char* what;
    std::string id;
    std::function<void(Profile&)> edit;
    const char* message;
  };
  const Case cases[] = {
      {"bad id", "no/slash", [](Profile&) {}, "profile_id"},
      {"no display name", "p1", [](Profile& p) { p.set_display_name(""); },
       "display_name"},
      {"bad CIDR", "p1",
       [](Profile& p) { p.add_allowed_ip_ranges("10.0.0.0/33"); },
       "10.0.0.0/33"},
      {"two ranges in one entry", "p1",
       [](Profile& p) { p.add_allowed_ip_ranges("10.0.0.0/8,::1/128"); },
       "allowed_ip_ranges[0]"},
      {"bad country", "p1",
       [](Profile& p) { p.add_allowed_countries("Germany"); }, "Germany"},
      {"bad login hours", "p1",
       [](Profile& p) { p.set_login_hours("someday 25:00"); }, "someday"},
      {"bad login time zone", "p1",
       [](Profile& p) { p.set_login_time_zone("Mars/Olympus"); },
       "login_time_zone"},
      {"unknown system permission", "p1",
       [](Profile& p) {
         p.add_system_permissions(static_cast<crm::v1::SystemPermission>(99));
       },
       "system_permissions[0]"},
      {"unspecified system permission", "p1",
       [](Profile& p) {
         p.add_system_permissions(crm::v1::SYSTEM_PERMISSION_UNSPECIFIED);
       },
       "system_permissions[0]"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Profile p = SimpleProfile("P1");
    c.edit(p);
    grpc::Status s = admin_->CreateProfile(c.id, p);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
    EXPECT_THAT(s.error_message(), HasSubstr(c.message));
    crm::v1::ListProfilesResponse list;
    ASSERT_TRUE(admin_->ListProfiles(&list).ok());
    EXPECT_EQ(list.profiles_size(), 1) << "nothing written";

    // The same change as an update of "rep".
    if (c.id == "p1" && std::string(c.what) != "no display name") {
      p.set_name("profiles/rep");
      s = admin_->UpdateProfile(p, {"*"});
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
      Profile got;
      ASSERT_TRUE(admin_->GetProfile("profiles/rep", &got).ok());
      EXPECT_EQ(got.etag(), "v1") << "nothing written";
    }
  }
  EXPECT_EQ(admin_->CreateProfile("rep", SimpleProfile("Other")).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  grpc::Status s = admin_->CreateProfile("rep2", SimpleProfile("Sales Rep"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("display_name"));
}

// Every problem of a profile write is reported at once, as BadRequest field
// violations, and nothing is written: the profile, its etag and the policy
// that decides logins stay as they were.
TEST_P(UserAdminTest, BadProfileUpdateReportsEveryViolation) {
  CreateUserOrFail("rita", NewUser("rita", "profiles/rep"));
  Profile change;
  change.set_name("profiles/rep");
  change.set_etag("v1");
  change.add_allowed_ip_ranges("127.0.0.0/8");
  change.add_allowed_ip_ranges("10.0.0.1/8");
  change.add_allowed_countries("Germany");
  change.set_login_time_zone("Mars/Olympus");
  grpc::Status s = admin_->UpdateProfile(
      change, {"allowed_ip_ranges", "allowed_countries", "login_time_zone"});
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("profile.allowed_ip_ranges[1]"));
  EXPECT_THAT(s.error_message(), HasSubstr("and 2 more"));
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "INVALID_REQUEST");
  std::vector<std::string> fields;
  for (const auto& v : d.field_violations) fields.push_back(v.field);
  EXPECT_THAT(fields, ::testing::ElementsAre("profile.allowed_ip_ranges[1]",
                                             "profile.allowed_countries[0]",
                                             "profile.login_time_zone"));
  ASSERT_EQ(d.field_violations.size(), 3u);
  EXPECT_THAT(d.field_violations[0].description, HasSubstr("10.0.0.1/8"));
  EXPECT_THAT(d.field_violations[1].description, HasSubstr("Germany"));
  Profile got;
  ASSERT_TRUE(admin_->GetProfile("profiles/rep", &got).ok());
  EXPECT_EQ(got.etag(), "v1") << "nothing written";
  EXPECT_EQ(got.allowed_ip_ranges_size(), 0);
  EXPECT_EQ(got.allowed_countries_size(), 0);
  EXPECT_EQ(got.login_time_zone(), "");
  // The installed policy did not change either: rita logs in from anywhere.
  EXPECT_TRUE(WhoAmI(*LoggedIn("rita")).ok());

  // The same two problems at creation.
  Profile bad = SimpleProfile("Bad");
  bad.add_allowed_ip_ranges("10.0.0.0/33");
  bad.add_allowed_countries("D1");
  s = admin_->CreateProfile("bad", bad);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  d = client::DecodeErrorDetails(s);
  fields.clear();
  for (const auto& v : d.field_violations) fields.push_back(v.field);
  EXPECT_THAT(fields, ::testing::ElementsAre("profile.allowed_ip_ranges[0]",
                                             "profile.allowed_countries[0]"));
  EXPECT_EQ(admin_->GetProfile("profiles/bad").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// Behind the request validation, the policy compile refuses an invalid
// profile too: a stored policy holding one (written around the API) does
// not load, and every policy write, which compiles the whole state in its
// transaction, is refused with nothing written.
TEST_P(UserAdminTest, InvalidStoredProfileNeverCompiles) {
  store::ProfileRow bad;
  bad.id = "bad";
  bad.name = "Bad";
  bad.allowed_countries = "Germany";
  ASSERT_TRUE(
      server_->server().core().authn->identities().CreateProfile(bad).ok());
  absl::Status reload = server_->server().ReloadPolicy();
  EXPECT_TRUE(absl::IsInvalidArgument(reload)) << reload;
  EXPECT_THAT(std::string(reload.message()),
              HasSubstr("profiles/bad: login restrictions of profile 'Bad': "
                        "allowed_countries[0]"));
  grpc::Status s = admin_->CreateProfile("p2", SimpleProfile("P2"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("profiles/bad"));
  EXPECT_EQ(admin_->GetProfile("profiles/p2").error_code(),
            grpc::StatusCode::NOT_FOUND)
      << "nothing written";
}

TEST_P(UserAdminTest, ProfileRoundTripAndPartialUpdate) {
  Profile in = SimpleProfile("Field Sales", {crm::v1::EXPORT,
                                             crm::v1::VIEW_AUDIT});
  in.add_allowed_ip_ranges("10.0.0.0/8");
  in.add_allowed_ip_ranges("::1/128");
  in.add_allowed_countries("de");
  in.set_login_hours("mon-fri 08:00-18:00");
  in.set_login_time_zone("Europe/Berlin");
  Profile created;
  grpc::Status s = admin_->CreateProfile("field", in, &created);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(created.name(), "profiles/field");
  EXPECT_EQ(created.etag(), "v1");
  EXPECT_THAT(created.allowed_ip_ranges(),
              ::testing::ElementsAre("10.0.0.0/8", "::1/128"));
  EXPECT_THAT(created.allowed_countries(), ::testing::ElementsAre("DE"));
  EXPECT_THAT(created.system_permissions(),
              ::testing::UnorderedElementsAre(crm::v1::EXPORT,
                                              crm::v1::VIEW_AUDIT));
  Profile got;
  ASSERT_TRUE(admin_->GetProfile("profiles/field", &got).ok());
  EXPECT_EQ(got.DebugString(), created.DebugString());

  Profile change;
  change.set_name("profiles/field");
  change.set_etag("v1");
  change.set_login_hours("");
  Profile updated;
  s = admin_->UpdateProfile(change, {"login_hours"}, &updated);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(updated.etag(), "v2");
  EXPECT_EQ(updated.login_hours(), "");
  EXPECT_EQ(updated.login_time_zone(), "Europe/Berlin") << "not in the mask";
  EXPECT_EQ(updated.allowed_ip_ranges_size(), 2);
  ASSERT_TRUE(admin_->GetProfile("profiles/field", &got).ok());
  EXPECT_EQ(got.DebugString(), updated.DebugString());
  crm::v1::ListProfilesResponse list;
  ASSERT_TRUE(admin_->ListProfiles(&list).ok());
  ASSERT_EQ(list.profiles_size(), 2);
  EXPECT_EQ(list.profiles(0).name(), "profiles/field");
  EXPECT_EQ(list.profiles(1).name(), "profiles/rep");
}

TEST_P(UserAdminTest, StaleEtagsAreAborted) {
  CreateUserOrFail("erin", NewUser("erin", "profiles/rep"));
  User u;
  ASSERT_TRUE(admin_->GetUser("users/erin", &u).ok());
  u.set_display_name("Erin One");
  User updated;
  ASSERT_TRUE(admin_->UpdateUser(u, {"display_name"}, &updated).ok());
  EXPECT_EQ(updated.etag(), "v2");
  u.set_display_name("Erin Stale");
  grpc::Status s = admin_->UpdateUser(u, {"display_name"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << Text(s);
  EXPECT_EQ(admin_->DeleteUser("users/erin", "v1").error_code(),
            grpc::StatusCode::ABORTED);
  User got;
  ASSERT_TRUE(admin_->GetUser("users/erin", &got).ok());
  EXPECT_EQ(got.display_name(), "Erin One");

  Profile p;
  ASSERT_TRUE(admin_->GetProfile("profiles/rep", &p).ok());
  p.set_display_name("Reps");
  ASSERT_TRUE(admin_->UpdateProfile(p, {"display_name"}).ok());
  EXPECT_EQ(admin_->UpdateProfile(p, {"display_name"}).error_code(),
            grpc::StatusCode::ABORTED);
  EXPECT_EQ(admin_->DeleteProfile("profiles/rep", "v1").error_code(),
            grpc::StatusCode::ABORTED);
}

TEST_P(UserAdminTest, ReferencedDeletesNameTheReferrers) {
  CreateUserOrFail("erin", NewUser("erin", "profiles/rep"));
  grpc::Status s = admin_->DeleteProfile("profiles/rep");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("users/erin (profile)"));

  PolicyObject group;
  group.mutable_group()->set_display_name("Erin's group");
  group.mutable_group()->add_members()->set_user("users/erin");
  CreatePolicy("erins", group);
  s = admin_->DeleteUser("users/erin");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("groups/erins (member)"));
  ASSERT_TRUE(admin_->GetUser("users/erin").ok()) << "nothing deleted";

  crm::v1::DeletePolicyObjectRequest del;
  del.set_name("groups/erins");
  google::protobuf::Empty empty;
  auto ctx = policy_client_->NewContext();
  ASSERT_TRUE(policy_->DeletePolicyObject(ctx.get(), del, &empty).ok());
  auto erin = LoggedIn("erin");
  s = admin_->DeleteUser("users/erin");
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(admin_->GetUser("users/erin").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(WhoAmI(*erin).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = admin_->DeleteProfile("profiles/rep");
  EXPECT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(admin_->GetProfile("profiles/rep").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(Backends, UserAdminTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
