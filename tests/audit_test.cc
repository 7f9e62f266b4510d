// The audit trail of a real server over mTLS, on SQLite and PostgreSQL
// (crm/v1/audit_service.proto): every kind of event with its actor, reason
// and diff; no secret in any event; the filter, pages and their errors;
// VIEW_AUDIT required and its refusal recorded; verification online (an
// edited and a deleted row in the database are found) and offline on an
// export; the follow stream sees new events.
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/signing.h"
#include "audit/verifier.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "store/database.h"
#include "store/identity_store.h"
#include "store/statement.h"
#include "tests/harness/test_identities.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class AuditTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(
        {.backend = GetParam(),
         .customize = [](crm::internal::ServerConfig& config) {
           testing::GrantSystemPermissions(
               config, "admin-cli",
               {"view_audit", "manage_policy", "manage_users"});
           auto* audit = config.mutable_audit();
           (*audit->mutable_reads())["accounts"] = "all";
           audit->add_tracked_fields("accounts.industry");
           audit->set_checkpoint_every(4);
         }});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    store::ProfileRow rep;
    rep.id = "rep";
    rep.name = "Rep";
    ASSERT_TRUE(AddProfile(*server_, rep).ok());
    ASSERT_TRUE(AddUser(*server_, "bob", "right-pw-7731", "rep").ok());
  }

  // Every stored event, oldest first, through ListAuditEvents.
  std::vector<crm::v1::AuditEvent> AllEvents(const std::string& filter = "") {
    std::vector<crm::v1::AuditEvent> out;
    crm::v1::ListAuditEventsRequest request;
    request.set_filter(filter);
    request.set_page_size(50);
    for (;;) {
      crm::v1::ListAuditEventsResponse page;
      auto ctx = admin_->NewContext();
      grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), request, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      out.insert(out.end(), page.events().begin(), page.events().end());
      if (page.next_page_token().empty()) break;
      request.set_page_token(page.next_page_token());
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // AllEvents(filter) once it holds an event matching Find(action, outcome,
  // resource). A refusal's event is queued without making the caller wait
  // (store/audit_log.h), so it is committed shortly after the refused call
  // returns: wait for that condition (up to a minute), never for a time.
  std::vector<crm::v1::AuditEvent> EventsOnceRecorded(
      const std::string& filter, absl::string_view action,
      crm::v1::AuditOutcome outcome, absl::string_view resource = "") {
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    std::vector<crm::v1::AuditEvent> events = AllEvents(filter);
    while (Find(events, action, outcome, resource) == nullptr &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      events = AllEvents(filter);
    }
    return events;
  }

  static const crm::v1::AuditEvent* Find(
      const std::vector<crm::v1::AuditEvent>& events, absl::string_view action,
      crm::v1::AuditOutcome outcome, absl::string_view resource = "") {
    for (const auto& e : events) {
      if (e.action() == action && e.outcome() == outcome &&
          (resource.empty() || e.resource() == resource)) {
        return &e;
      }
    }
    return nullptr;
  }

  static const crm::v1::AuditFieldChange* Change(const crm::v1::AuditEvent& e,
                                                 absl::string_view field) {
    for (const auto& c : e.changes()) {
      if (c.field() == field) return &c;
    }
    return nullptr;
  }

  crm::v1::AuditVerification VerifyOnline() {
    crm::v1::AuditVerification result;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->audit().VerifyAuditLog(
        ctx.get(), crm::v1::VerifyAuditLogRequest(), &result);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return result;
  }

  // Runs one SQL statement on the server's database, as an intruder with
  // database access would.
  void Tamper(const std::string& sql) {
    auto db = store::Database::Open(server_->database(), 1);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->WithSession([&](store::Session& session) {
                      return store::Execute(session, {sql, {}}, "tampering")
                          .status();
                    }).ok());
  }

  std::string CreateAccount(const std::string& name,
                            const std::string& industry) {
    crm::v1::CreateAccountRequest create;
    create.mutable_account()->set_display_name(name);
    create.mutable_account()->set_industry(industry);
    crm::v1::Account account;
    auto ctx = admin_->NewContext();
    grpc::Status s =
        admin_->accounts().CreateAccount(ctx.get(), create, &account);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return account.name();
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
};

TEST_P(AuditTest, EveryKindOfEventIsRecordedWithItsActorReasonAndDiff) {
  auto gateway = server_->Client("web-frontend");
  gateway->set_forwarded_for("127.0.0.1");
  ASSERT_FALSE(LoginToken(*gateway, "bob", "wrong-pw-1234").ok());
  auto token = LoginToken(*gateway, "bob", "right-pw-7731");
  ASSERT_TRUE(token.ok()) << token.status();

  const std::string acme = CreateAccount("Acme", "Retail");
  {  // an update of a tracked field and of an untracked one
    crm::v1::UpdateAccountRequest update;
    update.mutable_account()->set_name(acme);
    update.mutable_account()->set_industry("Energy");
    update.mutable_account()->set_website("https://acme.example");
    update.mutable_update_mask()->add_paths("industry");
    update.mutable_update_mask()->add_paths("website");
    crm::v1::Account updated;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->accounts().UpdateAccount(ctx.get(), update, &updated).ok());
  }
  {  // an allowed read (reads of accounts: "all")
    crm::v1::GetAccountRequest get;
    get.set_name(acme);
    crm::v1::Account got;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->accounts().GetAccount(ctx.get(), get, &got).ok());
  }
  {  // a refusal: billing may only read accounts
    auto billing = server_->Client("billing");
    crm::v1::CreateAccountRequest create;
    create.mutable_account()->set_display_name("Nope");
    crm::v1::Account account;
    auto ctx = billing->NewContext();
    EXPECT_EQ(billing->accounts().CreateAccount(ctx.get(), create, &account)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {  // share, transfer, unshare
    crm::v1::ShareRecordRequest share;
    share.set_record(acme);
    share.mutable_grantee()->set_user("users/bob");
    share.set_access(crm::v1::READ);
    crm::v1::RecordShare shared;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->sharing().ShareRecord(ctx.get(), share, &shared).ok());
    crm::v1::TransferRecordRequest transfer;
    transfer.set_record(acme);
    transfer.set_new_owner("users/bob");
    crm::v1::TransferRecordResponse moved;
    ctx = admin_->NewContext();
    ASSERT_TRUE(
        admin_->sharing().TransferRecord(ctx.get(), transfer, &moved).ok());
    crm::v1::UnshareRecordRequest unshare;
    unshare.set_name(shared.name());
    google::protobuf::Empty empty;
    ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->sharing().UnshareRecord(ctx.get(), unshare, &empty).ok());
  }
  {  // the policy: create, update, delete one role
    crm::v1::CreatePolicyObjectRequest create;
    create.set_id("sales");
    create.mutable_object()->mutable_role()->set_display_name("Sales");
    crm::v1::PolicyObject created;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->policy_admin()
                    .CreatePolicyObject(ctx.get(), create, &created)
                    .ok());
    crm::v1::UpdatePolicyObjectRequest update;
    *update.mutable_object() = created;
    update.mutable_object()->mutable_role()->set_display_name("Sales EMEA");
    update.mutable_object()->mutable_role()->clear_etag();
    crm::v1::PolicyObject updated;
    ctx = admin_->NewContext();
    grpc::Status s = admin_->policy_admin().UpdatePolicyObject(ctx.get(), update,
                                                               &updated);
    ASSERT_TRUE(s.ok()) << s.error_message();
    crm::v1::DeletePolicyObjectRequest del;
    del.set_name("roles/sales");
    google::protobuf::Empty empty;
    ctx = admin_->NewContext();
    ASSERT_TRUE(
        admin_->policy_admin().DeletePolicyObject(ctx.get(), del, &empty).ok());
  }
  {  // logout, and the record's delete
    gateway->set_session_token(*token);
    google::protobuf::Empty empty;
    auto ctx = gateway->NewContext();
    ASSERT_TRUE(gateway->auth()
                    .Logout(ctx.get(), crm::v1::LogoutRequest(), &empty)
                    .ok());
    crm::v1::DeleteAccountRequest del;
    del.set_name(acme);
    ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->accounts().DeleteAccount(ctx.get(), del, &empty).ok());
  }

  const std::vector<crm::v1::AuditEvent> events = EventsOnceRecorded(
      "", "crm.v1.AccountService/CreateAccount", crm::v1::DENIED);
  const auto* failed_login = Find(events, "login", crm::v1::DENIED);
  ASSERT_NE(failed_login, nullptr);
  EXPECT_EQ(failed_login->attributes().at("username"), "bob");
  EXPECT_EQ(failed_login->reason(), "login:bad_password")
      << "the caller saw BAD_CREDENTIALS; the auditor sees why";
  EXPECT_EQ(failed_login->actor_service(), "services/web-frontend");
  EXPECT_THAT(failed_login->client_address(), HasSubstr("127.0.0.1"));
  const auto* login = Find(events, "login", crm::v1::ALLOWED);
  ASSERT_NE(login, nullptr);
  EXPECT_EQ(login->actor_user(), "users/bob");
  EXPECT_FALSE(login->request_id().empty());

  const auto* create = Find(events, "records.create", crm::v1::ALLOWED, acme);
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->actor_service(), "services/admin-cli");
  ASSERT_NE(Change(*create, "industry"), nullptr);
  EXPECT_EQ(Change(*create, "industry")->after(), "\"Retail\"");
  ASSERT_NE(Change(*create, "display_name"), nullptr);
  EXPECT_FALSE(Change(*create, "display_name")->values_recorded())
      << "untracked fields are named without values";
  EXPECT_FALSE(Change(*create, "display_name")->has_after());

  const auto* update = Find(events, "records.update", crm::v1::ALLOWED, acme);
  ASSERT_NE(update, nullptr);
  ASSERT_NE(Change(*update, "industry"), nullptr);
  EXPECT_EQ(Change(*update, "industry")->before(), "\"Retail\"");
  EXPECT_EQ(Change(*update, "industry")->after(), "\"Energy\"");
  ASSERT_NE(Change(*update, "website"), nullptr);
  EXPECT_FALSE(Change(*update, "website")->has_after());
  EXPECT_FALSE(update->reason().empty()) << "the grant that allowed it";

  const auto* read = Find(events, "crm.v1.AccountService/GetAccount",
                          crm::v1::ALLOWED, acme);
  ASSERT_NE(read, nullptr);
  EXPECT_FALSE(read->reason().empty()) << "the grant that allowed the read";

  const auto* refused = Find(events, "crm.v1.AccountService/CreateAccount",
                             crm::v1::DENIED);
  ASSERT_NE(refused, nullptr);
  EXPECT_EQ(refused->actor_service(), "services/billing");
  EXPECT_TRUE(absl::StartsWith(refused->reason(), "object:"))
      << refused->reason();

  const auto* share = Find(events, "records.share", crm::v1::ALLOWED, acme);
  ASSERT_NE(share, nullptr);
  ASSERT_EQ(share->changes_size(), 1);
  EXPECT_EQ(share->changes(0).field(), "shares[users/bob]");
  EXPECT_EQ(share->changes(0).after(), "READ");
  EXPECT_FALSE(share->reason().empty()) << "the grant that allowed sharing";
  const auto* transfer = Find(events, "records.transfer", crm::v1::ALLOWED, acme);
  ASSERT_NE(transfer, nullptr);
  ASSERT_NE(Change(*transfer, "owner"), nullptr);
  EXPECT_EQ(Change(*transfer, "owner")->after(), "\"users/bob\"");
  EXPECT_NE(Find(events, "records.unshare", crm::v1::ALLOWED, acme), nullptr);

  const auto* role_created =
      Find(events, "policy.create", crm::v1::ALLOWED, "roles/sales");
  ASSERT_NE(role_created, nullptr);
  ASSERT_NE(Change(*role_created, "display_name"), nullptr);
  const auto* role_updated =
      Find(events, "policy.update", crm::v1::ALLOWED, "roles/sales");
  ASSERT_NE(role_updated, nullptr);
  ASSERT_EQ(role_updated->changes_size(), 1) << role_updated->DebugString();
  EXPECT_EQ(role_updated->changes(0).before(), "\"Sales\"");
  EXPECT_EQ(role_updated->changes(0).after(), "\"Sales EMEA\"");
  EXPECT_NE(Find(events, "policy.delete", crm::v1::ALLOWED, "roles/sales"),
            nullptr);
  const auto* logout = Find(events, "logout", crm::v1::ALLOWED);
  ASSERT_NE(logout, nullptr);
  EXPECT_EQ(logout->actor_user(), "users/bob");
  const auto* deleted = Find(events, "records.delete", crm::v1::ALLOWED, acme);
  ASSERT_NE(deleted, nullptr);
  EXPECT_FALSE(deleted->reason().empty());
  EXPECT_EQ(deleted->changes_size(), 0) << "a delete names the record only";

  // No secret anywhere: passwords, the session token.
  for (const auto& e : events) {
    const std::string text = e.DebugString();
    EXPECT_THAT(text, ::testing::Not(HasSubstr("right-pw-7731")));
    EXPECT_THAT(text, ::testing::Not(HasSubstr("wrong-pw-1234")));
    EXPECT_THAT(text, ::testing::Not(HasSubstr(*token)));
  }
  // And the whole trail verifies, with checkpoints.
  auto verified = VerifyOnline();
  EXPECT_TRUE(verified.ok()) << verified.problem();
  EXPECT_GE(verified.events_verified(), static_cast<int64_t>(events.size()));
  EXPECT_GE(verified.checkpoints_verified(), 1);
}

// A user's own fields (username, display name, time zone) are not part of
// the policy state, yet their changes are audited with before and after, in
// the same event as the policy's diff of the user.
TEST_P(AuditTest, UserFieldChangesAreDiffed) {
  crm::v1::CreateUserRequest create;
  create.set_user_id("zoe");
  create.mutable_user()->set_username("zoe");
  create.mutable_user()->set_display_name("Zoe Old");
  create.mutable_user()->set_profile("profiles/rep");
  create.mutable_user()->set_active(true);
  create.set_password("Initial-pw-5512-x");
  crm::v1::User zoe;
  {
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->user_admin().CreateUser(ctx.get(), create, &zoe);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  crm::v1::UpdateUserRequest update;
  update.mutable_user()->set_name("users/zoe");
  update.mutable_user()->set_display_name("Zoe New");
  update.mutable_user()->set_time_zone("Europe/Paris");
  update.mutable_update_mask()->add_paths("display_name");
  update.mutable_update_mask()->add_paths("time_zone");
  {
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->user_admin().UpdateUser(ctx.get(), update, &zoe);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  crm::v1::DeleteUserRequest del;
  del.set_name("users/zoe");
  {
    google::protobuf::Empty empty;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->user_admin().DeleteUser(ctx.get(), del, &empty);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const auto events = AllEvents("resource = \"users/zoe\"");
  const auto* created =
      Find(events, "policy.create", crm::v1::ALLOWED, "users/zoe");
  ASSERT_NE(created, nullptr);
  ASSERT_NE(Change(*created, "username"), nullptr) << created->DebugString();
  EXPECT_EQ(Change(*created, "username")->after(), "\"zoe\"");
  ASSERT_NE(Change(*created, "display_name"), nullptr);
  const auto* updated =
      Find(events, "policy.update", crm::v1::ALLOWED, "users/zoe");
  ASSERT_NE(updated, nullptr) << "a change the policy does not see is audited";
  ASSERT_NE(Change(*updated, "display_name"), nullptr) << updated->DebugString();
  EXPECT_EQ(Change(*updated, "display_name")->before(), "\"Zoe Old\"");
  EXPECT_EQ(Change(*updated, "display_name")->after(), "\"Zoe New\"");
  ASSERT_NE(Change(*updated, "time_zone"), nullptr);
  EXPECT_EQ(Change(*updated, "time_zone")->after(), "\"Europe/Paris\"");
  EXPECT_EQ(Change(*updated, "username"), nullptr) << "unchanged";
  const auto* deleted =
      Find(events, "policy.delete", crm::v1::ALLOWED, "users/zoe");
  ASSERT_NE(deleted, nullptr);
  ASSERT_NE(Change(*deleted, "username"), nullptr);
  for (const auto& e : events) {
    EXPECT_THAT(e.DebugString(),
                ::testing::Not(HasSubstr("Initial-pw-5512-x")));
  }
}

TEST_P(AuditTest, HiddenRecordReadIsRecordedAsDeniedWithItsRule) {
  store::ProfileRow reader;
  reader.id = "reader";
  reader.name = "Reader";
  ASSERT_TRUE(AddProfile(*server_, reader).ok());
  // Private accounts, bob may read accounts but owns none.
  crm::v1::CreatePolicyObjectRequest owd;
  owd.mutable_object()->mutable_org_wide_default()->set_object("accounts");
  owd.mutable_object()->mutable_org_wide_default()->set_internal_access(
      crm::v1::OrgWideDefault::PRIVATE);
  crm::v1::PolicyObject created;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->policy_admin().CreatePolicyObject(ctx.get(), owd, &created).ok());
  crm::v1::CreatePolicyObjectRequest set;
  set.set_id("read-accounts");
  auto* ps = set.mutable_object()->mutable_permission_set();
  ps->set_display_name("read accounts");
  auto* p = ps->add_object_permissions();
  p->set_object("accounts");
  p->set_read(true);
  ps->add_assignees("profiles/rep");
  ctx = admin_->NewContext();
  grpc::Status s =
      admin_->policy_admin().CreatePolicyObject(ctx.get(), set, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string secret = CreateAccount("Secret", "Defence");

  auto gateway = server_->Client("web-frontend");
  auto token = LoginToken(*gateway, "bob", "right-pw-7731");
  ASSERT_TRUE(token.ok());
  gateway->set_session_token(*token);
  crm::v1::GetAccountRequest get;
  get.set_name(secret);
  crm::v1::Account got;
  ctx = gateway->NewContext();
  EXPECT_EQ(gateway->accounts().GetAccount(ctx.get(), get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto events =
      EventsOnceRecorded("outcome = DENIED AND actor_user = \"users/bob\"",
                         "crm.v1.AccountService/GetAccount", crm::v1::DENIED,
                         secret);
  const auto* hidden =
      Find(events, "crm.v1.AccountService/GetAccount", crm::v1::DENIED, secret);
  ASSERT_NE(hidden, nullptr);
  EXPECT_TRUE(absl::StartsWith(hidden->reason(), "record:")) << hidden->reason();
}

TEST_P(AuditTest, LockoutAndUnlockAreRecorded) {
  auto gateway = server_->Client("web-frontend");
  ASSERT_FALSE(LoginToken(*gateway, "nobody", "x-pw-1234").ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_FALSE(LoginToken(*gateway, "bob", "bad-pw-x").ok());
  }
  ASSERT_FALSE(LoginToken(*gateway, "bob", "right-pw-7731").ok()) << "locked";
  crm::v1::UnlockUserRequest unlock;
  unlock.set_username("bob");
  google::protobuf::Empty empty;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->auth().UnlockUser(ctx.get(), unlock, &empty).ok());
  ASSERT_TRUE(LoginToken(*gateway, "bob", "right-pw-7731").ok());

  std::vector<std::string> reasons;
  for (const auto& e : AllEvents("action = \"login\"")) {
    reasons.push_back(e.outcome() == crm::v1::ALLOWED ? "ALLOWED" : e.reason());
  }
  EXPECT_THAT(reasons,
              ::testing::ElementsAre(
                  "login:unknown_user", "login:bad_password",
                  "login:bad_password", "login:bad_password",
                  "login:bad_password", "login:bad_password:lockout_started",
                  "login:locked_out", "ALLOWED"));
  auto unlocked = AllEvents("action = \"users.unlock\"");
  ASSERT_EQ(unlocked.size(), 1u);
  EXPECT_EQ(unlocked[0].actor_service(), "services/admin-cli");
  EXPECT_THAT(unlocked[0].resource(), ::testing::StartsWith("users/"));
}

TEST_P(AuditTest, FilterPagesAndTheirErrors) {
  auto gateway = server_->Client("web-frontend");
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(LoginToken(*gateway, "bob", "bad-pw-x").ok());
  }
  ASSERT_TRUE(LoginToken(*gateway, "bob", "right-pw-7731").ok());
  crm::v1::ListAuditEventsRequest request;
  request.set_filter("action = \"login\" AND outcome = DENIED");
  request.set_page_size(2);
  crm::v1::ListAuditEventsResponse page;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->audit().ListAuditEvents(ctx.get(), request, &page).ok());
  ASSERT_EQ(page.events_size(), 2);
  EXPECT_GT(page.events(0).sequence(), page.events(1).sequence())
      << "newest first";
  ASSERT_FALSE(page.next_page_token().empty());
  request.set_page_token(page.next_page_token());
  crm::v1::ListAuditEventsResponse second;
  ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->audit().ListAuditEvents(ctx.get(), request, &second).ok());
  ASSERT_EQ(second.events_size(), 1);
  EXPECT_TRUE(second.next_page_token().empty());
  EXPECT_LT(second.events(0).sequence(), page.events(1).sequence());

  // The token belongs to its filter.
  request.set_filter("action = \"login\"");
  ctx = admin_->NewContext();
  grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), request, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Unknown fields and bad sizes are reported together.
  crm::v1::ListAuditEventsRequest bad;
  bad.set_filter("password = \"x\"");
  bad.set_page_size(5000);
  ctx = admin_->NewContext();
  s = admin_->audit().ListAuditEvents(ctx.get(), bad, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
  EXPECT_THAT(s.error_message(), HasSubstr("password"));
  // Time ranges work on the stored microseconds.
  crm::v1::ListAuditEventsRequest recent;
  recent.set_filter(absl::StrCat(
      "time >= \"", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                     absl::Now() - absl::Hours(1),
                                     absl::UTCTimeZone()),
      "\" AND action = \"login\""));
  ctx = admin_->NewContext();
  s = admin_->audit().ListAuditEvents(ctx.get(), recent, &second);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(second.events_size(), 4);
}

TEST_P(AuditTest, NeedsViewAuditAndTheRefusalIsRecorded) {
  auto billing = server_->Client("billing");
  crm::v1::ListAuditEventsResponse page;
  auto ctx = billing->NewContext();
  grpc::Status s = billing->audit().ListAuditEvents(
      ctx.get(), crm::v1::ListAuditEventsRequest(), &page);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("view_audit"));
  auto events = EventsOnceRecorded("actor_service = \"services/billing\"",
                                   "audit.list", crm::v1::DENIED);
  const auto* refused = Find(events, "audit.list", crm::v1::DENIED);
  ASSERT_NE(refused, nullptr);
  EXPECT_TRUE(absl::StartsWith(refused->reason(), "system:"))
      << refused->reason();
  // The auditor's own successful queries are recorded too.
  EXPECT_NE(Find(AllEvents("actor_service = \"services/admin-cli\""),
                 "audit.list", crm::v1::ALLOWED),
            nullptr);
}

TEST_P(AuditTest, VerificationFindsAnEditedAndADeletedRow) {
  for (int i = 0; i < 6; ++i) CreateAccount(absl::StrCat("A", i), "Retail");
  ASSERT_TRUE(server_->server().core().audit->Checkpoint().ok());
  auto ok = VerifyOnline();
  ASSERT_TRUE(ok.ok()) << ok.problem();
  EXPECT_GE(ok.checkpoints_verified(), 1);

  Tamper("UPDATE audit_events SET actor_service = 'services/someone-else' "
         "WHERE sequence = 3");
  auto edited = VerifyOnline();
  EXPECT_FALSE(edited.ok());
  EXPECT_EQ(edited.first_bad_sequence(), 3);
  EXPECT_THAT(edited.problem(), HasSubstr("edited"));

  Tamper("DELETE FROM audit_events WHERE sequence = 3");
  auto deleted = VerifyOnline();
  EXPECT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.first_bad_sequence(), 3);
  EXPECT_THAT(deleted.problem(), HasSubstr("missing"));
}

TEST_P(AuditTest, ExportVerifiesOfflineAndFollowSeesNewEvents) {
  for (int i = 0; i < 5; ++i) CreateAccount(absl::StrCat("E", i), "Retail");
  ASSERT_TRUE(server_->server().core().audit->Checkpoint().ok());
  crm::v1::AuditPublicKey key;
  auto ctx = admin_->NewContext();
  ASSERT_TRUE(admin_->audit()
                  .GetAuditPublicKey(ctx.get(), crm::v1::GetAuditPublicKeyRequest(),
                                     &key)
                  .ok());
  auto pinned = audit::PublicKey::FromPem(key.public_key_pem());
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->key_id(), key.key_id());

  audit::ChainVerifier verifier({*pinned});
  int events = 0, checkpoints = 0;
  {
    ctx = admin_->NewContext();
    auto reader = admin_->audit().ExportAuditEvents(
        ctx.get(), crm::v1::ExportAuditEventsRequest());
    crm::v1::AuditExportLine line;
    while (reader->Read(&line)) {
      if (line.has_anchor()) verifier.StartFrom(line.anchor());
      if (line.has_event()) {
        verifier.AddEvent(line.event());
        ++events;
      }
      if (line.has_checkpoint()) {
        verifier.AddCheckpoint(line.checkpoint());
        ++checkpoints;
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  auto result = verifier.Finish();
  EXPECT_TRUE(result.ok()) << result.problem();
  EXPECT_EQ(result.events_verified(), events);
  EXPECT_GE(checkpoints, 1);

  // Follow: a stream opened now receives an event committed later.
  crm::v1::ExportAuditEventsRequest follow;
  follow.set_follow(true);
  follow.set_after_sequence(events);
  follow.set_filter("action = \"records.create\"");
  auto follow_ctx = admin_->NewContext();
  follow_ctx->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(60));
  auto reader = admin_->audit().ExportAuditEvents(follow_ctx.get(), follow);
  absl::Mutex mu;
  std::vector<std::string> seen;
  std::thread tail([&] {
    crm::v1::AuditExportLine line;
    while (reader->Read(&line)) {
      absl::MutexLock lock(&mu);
      seen.push_back(line.event().resource());
    }
  });
  auto wait_for = [&](const std::string& resource) {
    absl::MutexLock lock(&mu);
    auto has = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return std::find(seen.begin(), seen.end(), resource) != seen.end();
    };
    return mu.AwaitWithTimeout(absl::Condition(&has), absl::Seconds(30));
  };
  // The first is read from storage, the second arrives while following.
  EXPECT_TRUE(wait_for(CreateAccount("Followed 1", "Retail")));
  EXPECT_TRUE(wait_for(CreateAccount("Followed 2", "Retail")));
  follow_ctx->TryCancel();
  tail.join();
  reader->Finish();
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditTest, ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
