// Policy as code end to end (issue 12) on the real server, both backends,
// with the demo organisation: crmctl policy plan / apply / history / diff /
// rollback, the access impact against the live data, idempotence, version
// checks, pruning, invalid bundles that change nothing, concurrent applies,
// the export -> apply -> export round trip on an empty database, and
// partial updates that change nothing keeping their etag.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "clients/cli.h"
#include "clients/policy_bundle_commands.h"
#include "crm/v1/admin_service.grpc.pb.h"
#include "crm/v1/user_admin_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/demo_data.h"
#include "store/audit_store.h"
#include "tests/harness/cli_runner.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

namespace fs = std::filesystem;
using crm::v1::PolicyAdminService;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kRetailRule[] =
    "display_name: \"Retail accounts for the reps\"\n"
    "object: \"accounts\"\n"
    "criteria: \"industry = \\\"Retail\\\"\"\n"
    "shared_with { role: \"roles/sales-rep\" }\n"
    "access: READ\n";

class PolicyApplyTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server = TestServer::Start({.backend = GetParam()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    absl::Status demo = server::LoadDemoOrganisation(server_->server().core());
    ASSERT_TRUE(demo.ok()) << demo;
    ASSERT_TRUE(server_->server().ReloadPolicy().ok());
    env_ = EnvFor(*server_);
    dir_ = MakeTempDir("policy-apply");
    client_ = server_->Client("admin-cli");
    stub_ = PolicyAdminService::NewStub(client_->channel());
  }

  static std::map<std::string, std::string> EnvFor(const TestServer& s) {
    return {{"CRM_TARGET", s.target()},
            {"CRM_CA", s.certs().ca},
            {"CRM_CERT", s.certs().ClientCert("admin-cli")},
            {"CRM_KEY", s.certs().ClientKey("admin-cli")}};
  }

  CliResult Run(const std::vector<std::string>& args) const {
    return RunCrmctl(args, env_);
  }

  // `user`'s accounts as they list them (logged in through admin-cli).
  std::string AccountsOf(const std::string& user) const {
    CliResult login = RunCrmctl({"login", user, "--password-stdin"}, env_,
                                absl::StrCat(user, "-demo-pw\n"));
    EXPECT_EQ(login.code, 0) << login.Describe();
    std::string token;
    for (absl::string_view line : absl::StrSplit(login.out, '\n')) {
      if (absl::ConsumePrefix(&line, "export CRM_TOKEN=")) {
        token = std::string(line);
      }
    }
    auto env = env_;
    env["CRM_TOKEN"] = token;
    CliResult list = RunCrmctl({"accounts", "list"}, env);
    EXPECT_EQ(list.code, 0) << list.Describe();
    return list.out;
  }

  static void Write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }

  policy::BundleFiles Read(const std::string& dir) const {
    auto files = client::ReadBundleDirectory(dir);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? *files : policy::BundleFiles();
  }

  crm::v1::PolicyBundleFiles Bundle(const std::string& dir) const {
    crm::v1::PolicyBundleFiles out;
    for (auto& [path, text] : Read(dir)) (*out.mutable_files())[path] = text;
    return out;
  }

  grpc::Status Plan(const crm::v1::PlanPolicyRequest& req,
                    crm::v1::PolicyPlan* out) {
    auto ctx = client_->NewContext();
    return stub_->PlanPolicy(ctx.get(), req, out);
  }

  grpc::Status Apply(const crm::v1::ApplyPolicyRequest& req,
                     crm::v1::ApplyPolicyResponse* out,
                     client::CrmClient* client = nullptr) {
    client::CrmClient& c = client != nullptr ? *client : *client_;
    auto stub = PolicyAdminService::NewStub(c.channel());
    auto ctx = c.NewContext();
    return stub->ApplyPolicy(ctx.get(), req, out);
  }

  int64_t LiveVersion() { return server_->server().core().policy->Current()->version(); }

  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::string> env_;
  std::string dir_;
  std::unique_ptr<client::CrmClient> client_;
  std::unique_ptr<PolicyAdminService::Stub> stub_;
};

INSTANTIATE_TEST_SUITE_P(Backends, PolicyApplyTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

// The README's admin loop: export, add the Retail rule, validate, plan
// (Soylent Foods and Duff Stores become visible to bob and frank), apply,
// the next request changes, history, diff, rollback.
TEST_P(PolicyApplyTest, ExportEditPlanApplyHistoryRollback) {
  const std::string dir = dir_ + "/policy";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "sharingRules/retail.textproto", kRetailRule);
  CliResult v = Run({"policy", "validate", dir});
  ASSERT_EQ(v.code, 0) << v.Describe();
  EXPECT_THAT(AccountsOf("bob"), Not(HasSubstr("Soylent")));

  CliResult plan = Run({"policy", "plan", dir, "--user", "users/bob"});
  ASSERT_EQ(plan.code, 0) << plan.Describe();
  EXPECT_THAT(plan.out, HasSubstr("+ sharingRules/retail"));
  EXPECT_THAT(plan.out, HasSubstr("users/bob"));
  EXPECT_THAT(plan.out, HasSubstr("users/frank"));
  EXPECT_THAT(plan.out, HasSubstr("accounts/soylent"));
  EXPECT_THAT(plan.out, HasSubstr("accounts/duff"));
  EXPECT_THAT(plan.out, HasSubstr("--expect-version"));

  // The same plan through the API: bob gains exactly those two.
  crm::v1::PlanPolicyRequest req;
  *req.mutable_bundle() = Bundle(dir);
  req.set_user("users/bob");
  crm::v1::PolicyPlan p;
  grpc::Status s = Plan(req, &p);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const int64_t base = p.base_version();
  EXPECT_EQ(base, LiveVersion());
  ASSERT_EQ(p.changes_size(), 1);
  EXPECT_EQ(p.changes(0).name(), "sharingRules/retail");
  EXPECT_EQ(p.changes(0).kind(), crm::v1::PolicyObjectChange::ADDED);
  const crm::v1::ObjectAccessDelta* bob_accounts = nullptr;
  std::vector<std::string> users;
  for (const auto& u : p.users()) {
    users.push_back(u.user());
    for (const auto& o : u.objects()) {
      if (u.user() == "users/bob" && o.object() == "accounts") {
        bob_accounts = &o;
      }
    }
  }
  EXPECT_THAT(users, Contains("users/frank"));
  ASSERT_NE(bob_accounts, nullptr);
  EXPECT_TRUE(bob_accounts->records_counted());
  EXPECT_EQ(bob_accounts->records_gained(), 2);
  EXPECT_EQ(bob_accounts->records_lost(), 0);
  EXPECT_EQ(bob_accounts->readable_after() - bob_accounts->readable_before(), 2);
  EXPECT_THAT(bob_accounts->examples_gained(),
              ElementsAre("accounts/duff", "accounts/soylent"));
  ASSERT_EQ(p.grants_size(), 1);
  EXPECT_EQ(p.grants(0).object(), "sharingRules/retail");
  EXPECT_EQ(p.grants(0).rule_records_before(), 0);
  EXPECT_EQ(p.grants(0).rule_records_after(), 2);
  EXPECT_THAT(p.grants(0).users_gaining(), Contains("users/bob"));

  CliResult apply = Run({"policy", "apply", dir, "--expect-version",
                         absl::StrCat(base), "--message", "retail for reps"});
  ASSERT_EQ(apply.code, 0) << apply.Describe();
  EXPECT_THAT(apply.out, HasSubstr(absl::StrCat("policy version ", base + 1)));
  EXPECT_THAT(AccountsOf("bob"), AllOf(HasSubstr("Soylent Foods"),
                                       HasSubstr("Duff Stores")));

  // Applying the same folder again changes nothing, not even the version.
  CliResult again = Run({"policy", "apply", dir});
  ASSERT_EQ(again.code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("no change"));
  EXPECT_EQ(LiveVersion(), base + 1);
  // A plan made before is refused now.
  CliResult stale = Run({"policy", "apply", dir, "--expect-version",
                         absl::StrCat(base)});
  EXPECT_NE(stale.code, 0);
  EXPECT_THAT(stale.err, HasSubstr("POLICY_VERSION_MISMATCH"));

  CliResult history = Run({"policy", "history"});
  ASSERT_EQ(history.code, 0) << history.Describe();
  EXPECT_THAT(history.out, HasSubstr("retail for reps"));
  EXPECT_THAT(history.out, HasSubstr("PolicyAdminService/ApplyPolicy"));
  EXPECT_THAT(history.out, HasSubstr("sharingRules/retail"));
  // The version the history began with (the demo, loaded directly).
  EXPECT_THAT(history.out, HasSubstr("when its history began"));

  CliResult diff = Run({"policy", "diff", absl::StrCat(base),
                        absl::StrCat(base + 1)});
  ASSERT_EQ(diff.code, 0) << diff.Describe();
  EXPECT_THAT(diff.out, HasSubstr("+ sharingRules/retail"));
  EXPECT_THAT(diff.out, HasSubstr("criteria"));

  CliResult rollback = Run({"policy", "rollback", absl::StrCat(base)});
  ASSERT_EQ(rollback.code, 0) << rollback.Describe();
  EXPECT_THAT(rollback.out, HasSubstr("- sharingRules/retail"));
  EXPECT_THAT(rollback.out, HasSubstr(absl::StrCat("policy version ", base + 2)));
  EXPECT_THAT(AccountsOf("bob"), Not(HasSubstr("Soylent")));
  CliResult same = Run({"policy", "diff", absl::StrCat(base),
                        absl::StrCat(base + 2)});
  ASSERT_EQ(same.code, 0) << same.Describe();
  EXPECT_THAT(same.out, HasSubstr("hold the same policy"));
}

TEST_P(PolicyApplyTest, InvalidBundleChangesNothingAndListsEveryError) {
  const std::string dir = dir_ + "/bad";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "sharingRules/retail.textproto",
        "object: \"accounts\"\ncriteria: \"nope = 1\"\n"
        "shared_with { role: \"roles/sales-rep\" }\naccess: READ\n");
  Write(fs::path(dir) / "roles/x.textproto", "parent: \"roles/missing\"\n");
  const int64_t before = LiveVersion();
  crm::v1::ApplyPolicyRequest req;
  *req.mutable_bundle() = Bundle(dir);
  crm::v1::ApplyPolicyResponse out;
  grpc::Status s = Apply(req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("and 1 more"));
  EXPECT_THAT(s.error_message(), HasSubstr("roles/x.textproto"));
  EXPECT_THAT(s.error_message(), HasSubstr("sharingRules/retail.textproto"));
  EXPECT_EQ(LiveVersion(), before);
  CliResult history = Run({"policy", "history"});
  EXPECT_THAT(history.out, Not(HasSubstr("ApplyPolicy")));
}

TEST_P(PolicyApplyTest, PruneRemovesOnlyWhenAskedAndRefusesWhatIsInUse) {
  // A group nothing names, added by one apply...
  const std::string dir = dir_ + "/p";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "groups/temp.textproto",
        "display_name: \"Temporary\"\nmembers { user: \"users/bob\" }\n");
  crm::v1::ApplyPolicyRequest add;
  *add.mutable_bundle() = Bundle(dir);
  crm::v1::ApplyPolicyResponse out;
  ASSERT_TRUE(Apply(add, &out).ok());
  ASSERT_TRUE(out.changed());
  // ...is left alone by a bundle without it, unless pruned.
  fs::remove(fs::path(dir) / "groups/temp.textproto");
  crm::v1::PlanPolicyRequest plan_req;
  *plan_req.mutable_bundle() = Bundle(dir);
  crm::v1::PolicyPlan plan;
  ASSERT_TRUE(Plan(plan_req, &plan).ok());
  EXPECT_TRUE(plan.no_change());
  plan_req.set_prune(true);
  grpc::Status s = Plan(plan_req, &plan);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(plan.changes_size(), 1);
  EXPECT_EQ(plan.changes(0).name(), "groups/temp");
  EXPECT_EQ(plan.changes(0).kind(), crm::v1::PolicyObjectChange::REMOVED);
  crm::v1::ApplyPolicyRequest prune;
  *prune.mutable_bundle() = Bundle(dir);
  prune.set_prune(true);
  s = Apply(prune, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(out.changes_size(), 1);
  EXPECT_EQ(out.changes(0).name(), "groups/temp");

  // A profile users still have cannot be pruned.
  const std::string dir2 = dir_ + "/p2";
  ASSERT_EQ(Run({"policy", "export", dir2}).code, 0);
  fs::remove(fs::path(dir2) / "profiles/eu-partner.textproto");  // dave's
  crm::v1::ApplyPolicyRequest req2;
  *req2.mutable_bundle() = Bundle(dir2);
  req2.set_prune(true);
  const int64_t before = LiveVersion();
  grpc::Status refused = Apply(req2, &out);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("profiles/eu-partner"));
  EXPECT_THAT(refused.error_message(), HasSubstr("users/dave"));
  EXPECT_EQ(LiveVersion(), before);
}

// Two applies planned against the same version: exactly one wins; the live
// policy is one bundle or the other, never a mix.
TEST_P(PolicyApplyTest, ConcurrentAppliesOneWinsTheOtherIsRefused) {
  const std::string a = dir_ + "/a", b = dir_ + "/b";
  ASSERT_EQ(Run({"policy", "export", a}).code, 0);
  ASSERT_EQ(Run({"policy", "export", b}).code, 0);
  Write(fs::path(a) / "sharingRules/from-a.textproto", kRetailRule);
  Write(fs::path(b) / "sharingRules/from-b.textproto", kRetailRule);
  const int64_t base = LiveVersion();
  std::vector<grpc::Status> results(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      crm::v1::ApplyPolicyRequest req;
      *req.mutable_bundle() = Bundle(i == 0 ? a : b);
      req.set_prune(true);
      req.set_expect_version(base);
      crm::v1::ApplyPolicyResponse out;
      auto client = server_->Client("admin-cli");
      results[i] = Apply(req, &out, client.get());
    });
  }
  for (auto& t : threads) t.join();
  int won = 0;
  for (const grpc::Status& r : results) {
    if (r.ok()) {
      ++won;
    } else {
      EXPECT_EQ(r.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << r.error_message();
    }
  }
  EXPECT_EQ(won, 1);
  EXPECT_EQ(LiveVersion(), base + 1);
  const std::string live = dir_ + "/live";
  ASSERT_EQ(Run({"policy", "export", live}).code, 0);
  policy::BundleFiles files = Read(live);
  EXPECT_NE(files.count("sharingRules/from-a.textproto") +
                files.count("sharingRules/from-b.textproto"),
            2u);
  // Exactly the winner's objects (its rule written by hand, so compared by
  // name).
  std::vector<std::string> live_names, winner_names;
  for (const auto& [path, text] : files) live_names.push_back(path);
  for (const auto& [path, text] : Read(results[0].ok() ? a : b)) {
    winner_names.push_back(path);
  }
  EXPECT_EQ(live_names, winner_names);
}

// Export, apply to an empty database, export again: identical bytes.
TEST_P(PolicyApplyTest, RoundTripThroughAnEmptyDatabaseIsByteIdentical) {
  const std::string a = dir_ + "/a", b = dir_ + "/b";
  ASSERT_EQ(Run({"policy", "export", a}).code, 0);
  // The empty server's admin-cli needs manage_policy from its configuration.
  auto other = TestServer::Start(
      {.backend = GetParam(), .customize = GrantManagePolicy});
  // So the services' own scopes (read-only, from each server's
  // configuration) differ, and the other server refuses them; a bundle
  // moved between servers leaves them out.
  ASSERT_TRUE(std::filesystem::exists(a + "/services/admin-cli.textproto"));
  CliResult refused =
      RunCrmctl({"policy", "apply", a, "--prune"}, EnvFor(**other));
  EXPECT_EQ(refused.code, 2 + 3) << refused.Describe();
  EXPECT_THAT(refused.err,
              HasSubstr("services/admin-cli.textproto:9:1 system_permissions: "
                        "differs from this server's configuration"));
  std::filesystem::remove_all(a + "/services");
  ASSERT_TRUE(other.ok()) << other.status();
  const auto env = EnvFor(**other);
  CliResult apply = RunCrmctl({"policy", "apply", a, "--prune"}, env);
  ASSERT_EQ(apply.code, 0) << apply.Describe();
  CliResult exported = RunCrmctl({"policy", "export", b}, env);
  ASSERT_EQ(exported.code, 0) << exported.Describe();
  std::filesystem::remove_all(b + "/services");
  EXPECT_EQ(Read(a), Read(b));
  CliResult again = RunCrmctl({"policy", "apply", b, "--prune"}, env);
  ASSERT_EQ(again.code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("no change"));
}

TEST_P(PolicyApplyTest, UpdatesThatChangeNothingKeepTheirEtag) {
  crm::v1::GetPolicyObjectRequest get;
  get.set_name("roles/sales-rep");
  crm::v1::PolicyObject role;
  {
    auto ctx = client_->NewContext();
    ASSERT_TRUE(stub_->GetPolicyObject(ctx.get(), get, &role).ok());
  }
  const int64_t version = LiveVersion();
  crm::v1::UpdatePolicyObjectRequest same;
  *same.mutable_object() = role;
  crm::v1::PolicyObject out;
  {
    auto ctx = client_->NewContext();
    grpc::Status s = stub_->UpdatePolicyObject(ctx.get(), same, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(out.role().etag(), role.role().etag());
  EXPECT_EQ(LiveVersion(), version);

  // A partial update: only display_name, the parent stays.
  crm::v1::UpdatePolicyObjectRequest partial;
  partial.mutable_object()->mutable_role()->set_name("roles/sales-rep");
  partial.mutable_object()->mutable_role()->set_display_name("Sellers");
  partial.mutable_update_mask()->add_paths("display_name");
  {
    auto ctx = client_->NewContext();
    grpc::Status s = stub_->UpdatePolicyObject(ctx.get(), partial, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(out.role().display_name(), "Sellers");
  EXPECT_EQ(out.role().parent(), role.role().parent());
  EXPECT_NE(out.role().etag(), role.role().etag());
  EXPECT_EQ(LiveVersion(), version + 1);
  partial.mutable_update_mask()->set_paths(0, "nope");
  {
    auto ctx = client_->NewContext();
    grpc::Status s = stub_->UpdatePolicyObject(ctx.get(), partial, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("'nope'"));
  }
  // crmctl: --fields.
  CliResult r = Run({"policy", "update", "roles/sales-rep",
                     "{\"display_name\": \"Sales Rep\"}", "--fields",
                     "display_name"});
  ASSERT_EQ(r.code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("roles/sales-manager"));  // parent kept

  // A profile updated to what it is keeps its etag too.
  auto users = crm::v1::UserAdminService::NewStub(client_->channel());
  crm::v1::GetProfileRequest gp;
  gp.set_name("profiles/sales-rep");
  crm::v1::Profile profile;
  {
    auto ctx = client_->NewContext();
    ASSERT_TRUE(users->GetProfile(ctx.get(), gp, &profile).ok());
  }
  crm::v1::UpdateProfileRequest up;
  *up.mutable_profile() = profile;
  up.mutable_update_mask()->add_paths("*");
  crm::v1::Profile updated;
  {
    auto ctx = client_->NewContext();
    grpc::Status s = users->UpdateProfile(ctx.get(), up, &updated);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(updated.etag(), profile.etag());
}

TEST_P(PolicyApplyTest, PlanRefusesBadArgumentsAndNeedsManagePolicy) {
  const std::string dir = dir_ + "/x";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  crm::v1::PlanPolicyRequest req;
  *req.mutable_bundle() = Bundle(dir);
  req.set_user("users/nobody");
  req.set_max_examples(1000);
  crm::v1::PolicyPlan p;
  grpc::Status s = Plan(req, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("users/nobody"));
  EXPECT_THAT(s.error_message(), HasSubstr("max_examples"));
  // No change: no user is examined at all.
  req.clear_user();
  req.clear_max_examples();
  ASSERT_TRUE(Plan(req, &p).ok());
  EXPECT_TRUE(p.no_change());
  EXPECT_THAT(p.users(), IsEmpty());

  auto billing = server_->Client("billing");
  auto stub = PolicyAdminService::NewStub(billing->channel());
  crm::v1::ListPolicyVersionsRequest list;
  crm::v1::ListPolicyVersionsResponse versions;
  auto ctx = billing->NewContext();
  EXPECT_EQ(stub->ListPolicyVersions(ctx.get(), list, &versions).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}


// only_user: the named user's counts and nothing else (no other user, no
// per-change impact); the same counts as the whole plan gives for them.
TEST_P(PolicyApplyTest, PlanForOnlyOneUser) {
  const std::string dir = dir_ + "/only";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "sharingRules/retail.textproto", kRetailRule);
  crm::v1::PlanPolicyRequest req;
  *req.mutable_bundle() = Bundle(dir);
  req.set_user("users/bob");
  crm::v1::PolicyPlan whole;
  ASSERT_TRUE(Plan(req, &whole).ok());
  req.set_only_user(true);
  crm::v1::PolicyPlan only;
  grpc::Status s = Plan(req, &only);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(only.users_size(), 1);
  EXPECT_EQ(only.users(0).user(), "users/bob");
  EXPECT_TRUE(only.grants().empty());
  EXPECT_GT(whole.users_size(), 1);
  EXPECT_FALSE(whole.grants().empty());
  const crm::v1::UserAccessDelta* bob = nullptr;
  for (const auto& u : whole.users()) {
    if (u.user() == "users/bob") bob = &u;
  }
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(only.users(0).SerializeAsString(), bob->SerializeAsString());
  EXPECT_EQ(only.changes_size(), whole.changes_size());

  CliResult cli = Run({"policy", "plan", dir, "--user", "users/bob",
                       "--only-user"});
  ASSERT_EQ(cli.code, 0) << cli.Describe();
  EXPECT_THAT(cli.out, HasSubstr("accounts/soylent"));
  EXPECT_THAT(cli.out, Not(HasSubstr("users/frank")));

  req.clear_user();
  s = Plan(req, &only);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("only_user"));
}

// The audit trail's shadow disagreements, once at least `n` are written
// (they are queued without making the call wait).
std::vector<crm::v1::AuditEvent> Disagreements(TestServer& server, size_t n) {
  std::vector<crm::v1::AuditEvent> found;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    found.clear();
    absl::Status s = server.server().core().database->WithSession(
        [&](store::Session& session) -> absl::Status {
          auto all = store::ReadAuditEvents(session, 0, 100000);
          if (!all.ok()) return all.status();
          for (auto& e : *all) {
            if (e.action() == "policy.shadow_disagreement") {
              found.push_back(std::move(e));
            }
          }
          return absl::OkStatus();
        });
    EXPECT_TRUE(s.ok()) << s;
    if (found.size() >= n) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return found;
}

// Shadow policy: the Retail rule evaluated beside the live policy on bob's
// real calls, never enforced; each disagreement counted and recorded with
// both decisions; the candidate follows live changes; clearing stops it.
TEST_P(PolicyApplyTest, ShadowRuleIsComparedOnLiveTrafficAndNeverEnforced) {
  const std::string dir = dir_ + "/shadow";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "sharingRules/retail.textproto", kRetailRule);
  const int64_t version = LiveVersion();

  CliResult none = Run({"policy", "shadow", "status"});
  ASSERT_EQ(none.code, 0) << none.Describe();
  EXPECT_THAT(none.out, HasSubstr("no shadow policy"));

  CliResult set = Run({"policy", "shadow", "set", dir, "--message",
                       "retail for reps, watching first"});
  ASSERT_EQ(set.code, 0) << set.Describe();
  EXPECT_THAT(set.out, HasSubstr("shadow policy revision 1"));
  EXPECT_THAT(set.out, HasSubstr("+ sharingRules/retail"));
  // Not a policy change.
  EXPECT_EQ(LiveVersion(), version);

  // bob's list is the live one: no Soylent, no Duff.
  EXPECT_THAT(AccountsOf("bob"), AllOf(Not(HasSubstr("Soylent")),
                                       Not(HasSubstr("Duff"))));
  // The candidate would have shown both: two record disagreements, with
  // the live refusal and the rule that would have granted each.
  std::vector<crm::v1::AuditEvent> found = Disagreements(*server_, 2);
  std::map<std::string, crm::v1::AuditEvent> by_record;
  for (const auto& e : found) by_record[e.resource()] = e;
  ASSERT_TRUE(by_record.count("accounts/soylent")) << found.size();
  ASSERT_TRUE(by_record.count("accounts/duff"));
  const crm::v1::AuditEvent& soylent = by_record["accounts/soylent"];
  EXPECT_EQ(soylent.actor_user(), "users/bob");
  EXPECT_EQ(soylent.outcome(), crm::v1::DENIED);
  EXPECT_EQ(soylent.attributes().at("question"), "record:read");
  EXPECT_THAT(soylent.attributes().at("live"), HasSubstr("deny "));
  EXPECT_EQ(soylent.attributes().at("shadow"),
            "allow sharing-rule:sharingRules/retail");
  EXPECT_EQ(soylent.attributes().at("shadow_revision"), "1");
  EXPECT_EQ(soylent.attributes().at("live_version"), absl::StrCat(version));

  CliResult status = Run({"policy", "shadow", "status", "--json"});
  ASSERT_EQ(status.code, 0) << status.Describe();
  crm::v1::GetShadowPolicyRequest get;
  crm::v1::ShadowPolicyStatus st;
  {
    auto ctx = client_->NewContext();
    grpc::Status g = stub_->GetShadowPolicy(ctx.get(), get, &st);
    ASSERT_TRUE(g.ok()) << g.error_message();
  }
  EXPECT_TRUE(st.active());
  EXPECT_EQ(st.revision(), 1);
  EXPECT_EQ(st.message(), "retail for reps, watching first");
  EXPECT_EQ(st.set_by_service(), "services/admin-cli");
  EXPECT_GE(st.disagreements(), 2);
  EXPECT_GE(st.calls_with_disagreements(), 1);
  EXPECT_GT(st.decisions_compared(), st.disagreements());
  ASSERT_EQ(st.changes_size(), 1);
  EXPECT_EQ(st.changes(0).name(), "sharingRules/retail");

  // A live change (a new group): the candidate is recompiled against it and
  // still compared.
  CliResult group = Run({"policy", "create", "groups", "watchers",
                         R"({"display_name":"Watchers"})"});
  ASSERT_EQ(group.code, 0) << group.Describe();
  EXPECT_THAT(AccountsOf("bob"), Not(HasSubstr("Soylent")));
  const size_t before_clear = Disagreements(*server_, 4).size();
  EXPECT_GE(before_clear, 4u);
  {
    auto ctx = client_->NewContext();
    grpc::Status g = stub_->GetShadowPolicy(ctx.get(), get, &st);
    ASSERT_TRUE(g.ok()) << g.error_message();
  }
  EXPECT_EQ(st.live_version(), LiveVersion());
  EXPECT_EQ(st.calls_not_compared(), 0);

  // Clearing with a stale revision is refused; with the right one it stops.
  CliResult stale = Run({"policy", "shadow", "clear", "--expect-revision", "7"});
  EXPECT_NE(stale.code, 0);
  EXPECT_THAT(stale.err, HasSubstr("revision 1"));
  CliResult clear = Run({"policy", "shadow", "clear", "--expect-revision", "1"});
  ASSERT_EQ(clear.code, 0) << clear.Describe();
  EXPECT_THAT(clear.out, HasSubstr("no shadow policy (revision 2"));
  EXPECT_THAT(AccountsOf("bob"), Not(HasSubstr("Soylent")));
  CliResult again = Run({"policy", "shadow", "clear"});
  ASSERT_EQ(again.code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("revision 2"));
  // Setting and clearing are audited; bob's last list added nothing.
  EXPECT_EQ(Disagreements(*server_, 0).size(), before_clear);
  size_t sets = 0, clears = 0;
  ASSERT_TRUE(server_->server().core().database->WithSession(
      [&](store::Session& session) -> absl::Status {
        auto all = store::ReadAuditEvents(session, 0, 100000);
        if (!all.ok()) return all.status();
        for (const auto& e : *all) {
          sets += e.action() == "policy.shadow_set";
          clears += e.action() == "policy.shadow_clear";
        }
        return absl::OkStatus();
      }).ok());
  EXPECT_EQ(sets, 1u);
  EXPECT_EQ(clears, 1u);
}

// A candidate that does not compile is refused with every problem, and
// nothing is stored; so is one the caller may not set.
TEST_P(PolicyApplyTest, ShadowRefusesBadBundlesAndNeedsManagePolicy) {
  const std::string dir = dir_ + "/bad-shadow";
  ASSERT_EQ(Run({"policy", "export", dir}).code, 0);
  Write(fs::path(dir) / "sharingRules/retail.textproto",
        "object: \"accounts\"\ncriteria: \"nope = 1\"\n"
        "shared_with { role: \"roles/sales-rep\" }\naccess: READ\n");
  Write(fs::path(dir) / "roles/x.textproto", "parent: \"roles/missing\"\n");
  crm::v1::SetShadowPolicyRequest req;
  *req.mutable_bundle() = Bundle(dir);
  crm::v1::ShadowPolicyStatus out;
  {
    auto ctx = client_->NewContext();
    grpc::Status s = stub_->SetShadowPolicy(ctx.get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("roles/x.textproto"));
    EXPECT_THAT(s.error_message(), HasSubstr("and 1 more"));
  }
  {
    auto ctx = client_->NewContext();
    grpc::Status s = stub_->GetShadowPolicy(
        ctx.get(), crm::v1::GetShadowPolicyRequest(), &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(out.active());
    EXPECT_EQ(out.revision(), 0);
  }
  auto web = server_->Client("web-frontend");
  auto web_stub = PolicyAdminService::NewStub(web->channel());
  auto ctx = web->NewContext();
  EXPECT_EQ(web_stub->SetShadowPolicy(ctx.get(), req, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace crm::testing
