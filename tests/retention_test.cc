// Retention (issue 13; crm/v1/privacy_service.proto "Retention") through the
// real server over mTLS, on SQLite and PostgreSQL:
//   - a dry run reports per rule how many records and which, writing
//     nothing;
//   - a run anonymizes stale leads and deletes old activities, batch by
//     batch, each batch audited; fresh records are untouched; the audit
//     trail verifies; the run is listed; a second run finds nothing;
//   - a service without privacy_operations is refused;
//   - PostgreSQL: while another server holds the retention lock a run is
//     refused; two servers on one database started together never run at
//     the same time and process each record once.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "clients/channel.h"
#include "clients/crm_client.h"
#include "crm/v1/audit_service.grpc.pb.h"
#include "crm/v1/crm_service.grpc.pb.h"
#include "crm/v1/privacy_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "store/database.h"
#include "store/privacy_store.h"
#include "store/statement.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

std::string Text(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), ": ", s.error_message());
}

void Configure(crm::internal::ServerConfig& config) {
  testing::GrantSystemPermissions(
      config, "admin-cli", {"privacy_operations", "view_audit"});
  auto* privacy = config.mutable_privacy();
  privacy->set_retention_batch_size(50);
  auto* leads = privacy->add_retention_rules();
  leads->set_name("stale-leads");
  leads->set_object("leads");
  leads->set_max_age_days(730);
  leads->set_action(crm::v1::ErasureRule::ANONYMIZE);
  for (const char* f : {"first_name", "last_name", "email", "phone",
                        "company", "description"}) {
    leads->add_fields(f);
  }
  auto* calls = privacy->add_retention_rules();
  calls->set_name("old-activities");
  calls->set_object("activities");
  calls->set_max_age_days(365);
  calls->set_action(crm::v1::ErasureRule::DELETE);
}

class RetentionTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto server =
        TestServer::Start({.backend = GetParam(), .customize = Configure});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    admin_ = server_->Client("admin-cli");
    auto db = store::Database::Open(server_->database(), 2);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  std::string CreateLead(const std::string& last_name) {
    crm::v1::CreateLeadRequest req;
    req.mutable_lead()->set_last_name(last_name);
    req.mutable_lead()->set_email(absl::StrCat(last_name, "@old.example"));
    crm::v1::Lead out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->leads().CreateLead(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out.name();
  }

  std::string CreateActivity(const std::string& subject) {
    crm::v1::CreateActivityRequest req;
    req.mutable_activity()->set_kind(crm::v1::Activity::CALL);
    req.mutable_activity()->set_subject(subject);
    crm::v1::Activity out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->activities().CreateActivity(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return out.name();
  }

  // Moves a record's update_time `days` into the past, as time would.
  void Age(const std::string& name, int days) {
    const std::string collection = name.substr(0, name.find('/'));
    const std::string id = name.substr(name.find('/') + 1);
    const int64_t t =
        absl::ToUnixMicros(absl::Now() - absl::Hours(24) * days);
    absl::Status s = db_->WithSession([&](store::Session& session) {
      return store::Execute(session,
                            {absl::StrCat("UPDATE ", collection,
                                          " SET update_time = ? WHERE id = ?"),
                             {t, id}},
                            "test")
          .status();
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  grpc::Status Preview(client::CrmClient& c, crm::v1::RetentionReport* out) {
    auto stub = crm::v1::PrivacyService::NewStub(c.channel());
    auto ctx = c.NewContext();
    return stub->PreviewRetention(ctx.get(), crm::v1::PreviewRetentionRequest(),
                                  out);
  }

  grpc::Status RunNow(client::CrmClient& c, crm::v1::RetentionRun* out) {
    auto stub = crm::v1::PrivacyService::NewStub(c.channel());
    auto ctx = c.NewContext();
    return stub->RunRetention(ctx.get(), crm::v1::RunRetentionRequest(), out);
  }

  static int64_t Records(const crm::v1::RetentionRun& run,
                         const std::string& rule) {
    for (const auto& r : run.rules()) {
      if (r.rule() == rule) return r.records();
    }
    return -1;
  }

  std::vector<crm::v1::AuditEvent> RetentionEvents() {
    crm::v1::ListAuditEventsRequest req;
    req.set_filter("action = \"privacy.retention\"");
    req.set_page_size(1000);
    crm::v1::ListAuditEventsResponse out;
    auto ctx = admin_->NewContext();
    grpc::Status s = admin_->audit().ListAuditEvents(ctx.get(), req, &out);
    EXPECT_TRUE(s.ok()) << Text(s);
    return {out.events().begin(), out.events().end()};
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<client::CrmClient> admin_;
  std::unique_ptr<store::Database> db_;
};

TEST_P(RetentionTest, ADryRunReportsAndARunAppliesTheRules) {
  std::vector<std::string> stale;
  for (int i = 0; i < 120; ++i) {
    stale.push_back(CreateLead(absl::StrCat("Stale", i)));
    Age(stale.back(), 800);
  }
  const std::string fresh = CreateLead("Fresh");
  const std::string young = CreateLead("Young");
  Age(young, 400);  // under 730 days
  const std::string old_call = CreateActivity("Old call");
  Age(old_call, 400);
  const std::string new_call = CreateActivity("New call");

  crm::v1::RetentionReport report;
  grpc::Status s = Preview(*admin_, &report);
  ASSERT_TRUE(s.ok()) << Text(s);
  ASSERT_EQ(report.rules_size(), 2);
  EXPECT_EQ(report.rules(0).rule(), "stale-leads");
  EXPECT_EQ(report.rules(0).records(), 120);
  EXPECT_EQ(report.rules(0).sample_size(), 10);
  EXPECT_EQ(report.rules(1).records(), 1);
  ASSERT_EQ(report.rules(1).sample_size(), 1);
  EXPECT_EQ(report.rules(1).sample(0), old_call);
  // A dry run writes nothing.
  crm::v1::RetentionReport again;
  ASSERT_TRUE(Preview(*admin_, &again).ok());
  EXPECT_EQ(again.rules(0).records(), 120);

  crm::v1::RetentionRun run;
  s = RunNow(*admin_, &run);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(run.outcome(), "OK");
  EXPECT_EQ(run.trigger(), "manual");
  EXPECT_EQ(Records(run, "stale-leads"), 120);
  EXPECT_EQ(Records(run, "old-activities"), 1);
  EXPECT_EQ(run.batches(), 4);  // 50 + 50 + 20 leads, 1 activity

  auto get_lead = [&](const std::string& name) {
    crm::v1::GetLeadRequest g;
    g.set_name(name);
    crm::v1::Lead l;
    auto ctx = admin_->NewContext();
    EXPECT_TRUE(admin_->leads().GetLead(ctx.get(), g, &l).ok());
    return l;
  };
  crm::v1::Lead l = get_lead(stale[7]);
  EXPECT_EQ(l.last_name(), "[erased]");
  EXPECT_EQ(l.email(), "");
  EXPECT_EQ(get_lead(fresh).last_name(), "Fresh");
  EXPECT_EQ(get_lead(young).last_name(), "Young");
  {
    crm::v1::GetActivityRequest g;
    g.set_name(old_call);
    crm::v1::Activity a;
    auto ctx = admin_->NewContext();
    EXPECT_EQ(admin_->activities().GetActivity(ctx.get(), g, &a).error_code(),
              grpc::StatusCode::NOT_FOUND);
    g.set_name(new_call);
    auto ctx2 = admin_->NewContext();
    EXPECT_TRUE(admin_->activities().GetActivity(ctx2.get(), g, &a).ok());
  }
  // The history of the anonymized leads keeps no value.
  int64_t kept = -1;
  ASSERT_TRUE(db_->WithSession([&](store::Session& session) {
                   auto n = store::QueryInt(
                       session,
                       {"SELECT COUNT(*) FROM field_history WHERE collection "
                        "= 'leads' AND value LIKE 'Stale%'",
                        {}},
                       "test");
                   if (!n.ok()) return n.status();
                   kept = *n;
                   return absl::OkStatus();
                 }).ok());
  EXPECT_EQ(kept, 0);

  // Each batch audited; the trail verifies.
  auto events = RetentionEvents();
  ASSERT_EQ(events.size(), 4u);
  int64_t audited = 0;
  for (const auto& e : events) {
    EXPECT_EQ(e.resource(), run.name());
    audited += std::stoll(e.attributes().at("records"));
  }
  EXPECT_EQ(audited, 121);
  {
    crm::v1::AuditVerification v;
    auto ctx = admin_->NewContext();
    ASSERT_TRUE(admin_->audit()
                    .VerifyAuditLog(ctx.get(), crm::v1::VerifyAuditLogRequest(),
                                    &v)
                    .ok());
    EXPECT_TRUE(v.ok()) << v.problem();
  }

  // A second run finds nothing; both are listed, newest first.
  crm::v1::RetentionRun second;
  ASSERT_TRUE(RunNow(*admin_, &second).ok());
  EXPECT_EQ(Records(second, "stale-leads"), 0);
  EXPECT_EQ(Records(second, "old-activities"), 0);
  auto stub = crm::v1::PrivacyService::NewStub(admin_->channel());
  crm::v1::ListRetentionRunsResponse runs;
  auto ctx = admin_->NewContext();
  s = stub->ListRetentionRuns(ctx.get(), crm::v1::ListRetentionRunsRequest(),
                              &runs);
  ASSERT_TRUE(s.ok()) << Text(s);
  ASSERT_EQ(runs.runs_size(), 2);
  EXPECT_EQ(runs.runs(0).name(), second.name());
  EXPECT_EQ(runs.runs(1).name(), run.name());
  EXPECT_EQ(runs.runs(1).outcome(), "OK");
  EXPECT_EQ(Records(runs.runs(1), "stale-leads"), 120);
}

TEST_P(RetentionTest, AServiceWithoutPrivacyOperationsIsRefused) {
  const std::string lead = CreateLead("Stale");
  Age(lead, 800);
  auto billing = server_->Client("billing");
  crm::v1::RetentionReport report;
  EXPECT_EQ(Preview(*billing, &report).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  crm::v1::RetentionRun run;
  grpc::Status s = RunNow(*billing, &run);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("privacy_operations"));
  crm::v1::RetentionReport still;
  ASSERT_TRUE(Preview(*admin_, &still).ok());
  EXPECT_EQ(still.rules(0).records(), 1);
}

TEST_P(RetentionTest, ARunIsRefusedWhileAnotherServerHoldsTheLock) {
  if (GetParam() != Backend::kPostgres) {
    GTEST_SKIP() << "SQLite: one process per database file (documented)";
  }
  const std::string lead = CreateLead("Stale");
  Age(lead, 800);
  // Another server's run, as the database sees it: a session holding the
  // advisory lock.
  absl::Notification locked, release, done;
  std::thread holder([&] {
    absl::Status s = db_->WithSession([&](store::Session& session) {
      auto got = store::PrivacyStore::TryRetentionLock(session);
      if (!got.ok()) return got.status();
      EXPECT_TRUE(*got);
      locked.Notify();
      release.WaitForNotification();
      return store::PrivacyStore::ReleaseRetentionLock(session);
    });
    EXPECT_TRUE(s.ok()) << s;
    done.Notify();
  });
  locked.WaitForNotification();
  crm::v1::RetentionRun run;
  grpc::Status s = RunNow(*admin_, &run);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Text(s);
  EXPECT_THAT(s.error_message(), HasSubstr("another server"));
  release.Notify();
  holder.join();
  s = RunNow(*admin_, &run);
  ASSERT_TRUE(s.ok()) << Text(s);
  EXPECT_EQ(Records(run, "stale-leads"), 1);
}

TEST_P(RetentionTest, TwoServersOnOneDatabaseNeverRunTogether) {
  if (GetParam() != Backend::kPostgres) {
    GTEST_SKIP() << "SQLite: one process per database file (documented)";
  }
  // The second server: same database, same master key, same rules.
  crm::internal::ServerConfig config =
      BaseTestConfig(server_->certs(), server_->database());
  config.mutable_encryption()->set_master_key_file(server_->master_key_file());
  Configure(config);
  ASSERT_TRUE(server::FinalizeConfig(&config).ok());
  auto second = server::CrmServer::Start(config, nullptr);
  ASSERT_TRUE(second.ok()) << second.status();
  auto other = server_->Client("admin-cli");  // replaced below
  {
    client::ChannelOptions options;
    options.target = absl::StrCat("localhost:", (*second)->port());
    options.ca_file = server_->certs().ca;
    options.cert_file = server_->certs().ClientCert("admin-cli");
    options.key_file = server_->certs().ClientKey("admin-cli");
    options.default_deadline = absl::Seconds(60);
    auto c = client::CrmClient::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    other = *std::move(c);
  }
  constexpr int kLeads = 600;
  for (int i = 0; i < kLeads; ++i) {
    Age(CreateLead(absl::StrCat("Stale", i)), 800);
  }
  // Both servers, started together, a few times each.
  std::vector<crm::v1::RetentionRun> runs;
  absl::Mutex mu;
  int refused = 0;
  auto go = [&](client::CrmClient* c) {
    for (int i = 0; i < 3; ++i) {
      crm::v1::RetentionRun run;
      grpc::Status s = RunNow(*c, &run);
      absl::MutexLock lock(&mu);
      if (s.ok()) {
        runs.push_back(run);
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
            << Text(s);
        ++refused;
      }
    }
  };
  std::thread a(go, admin_.get()), b(go, other.get());
  a.join();
  b.join();
  (*second)->Shutdown(absl::Seconds(1));
  (*second)->Wait();
  // Every stale lead was processed exactly once, by one run or another.
  int64_t total = 0;
  for (const auto& r : runs) total += Records(r, "stale-leads");
  EXPECT_EQ(total, kLeads);
  // No two runs overlapped in time.
  for (size_t i = 0; i < runs.size(); ++i) {
    for (size_t j = i + 1; j < runs.size(); ++j) {
      const auto& x = runs[i];
      const auto& y = runs[j];
      auto micros = [](const google::protobuf::Timestamp& t) {
        return t.seconds() * 1000000 + t.nanos() / 1000;
      };
      const bool disjoint = micros(x.end_time()) <= micros(y.start_time()) ||
                            micros(y.end_time()) <= micros(x.start_time());
      EXPECT_TRUE(disjoint) << x.name() << " and " << y.name() << " overlap";
    }
  }
  EXPECT_EQ(static_cast<int>(runs.size()) + refused, 6);
  int64_t audited = 0;
  for (const auto& e : RetentionEvents()) {
    audited += std::stoll(e.attributes().at("records"));
  }
  EXPECT_EQ(audited, kLeads);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

}  // namespace
}  // namespace crm::testing
