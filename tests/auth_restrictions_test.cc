// Login restrictions on real connections: IP ranges and countries with
// clients whose TCP connection comes from other 127.x.y.z addresses (through
// a TcpRelay), login hours with a FakeClock, trusted-gateway forwarding,
// and a service's own restrictions.
#include "absl/time/clock.h"
#include "clients/error_details.h"
#include "tests/auth_test_util.h"
#include "tests/harness/tcp_relay.h"
#include "tests/support/test_geoip.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class AuthRestrictionsTest : public AuthFixture,
                             public ::testing::TestWithParam<Backend> {
 protected:
  // Starts the server with the test GeoIP database and long sessions, plus
  // `customize`, and adds profile "office" (`profile`) with user dave
  // ("dave-pw", Europe/London).
  void Start(store::ProfileRow profile,
             std::function<void(crm::internal::ServerConfig&)> customize =
                 nullptr) {
    const std::string geo = SharedTestGeoIpPath();
    ASSERT_FALSE(geo.empty());
    StartServer(GetParam(), [&](crm::internal::ServerConfig& c) {
      c.mutable_auth()->set_geoip_database(geo);
      c.mutable_auth()->set_session_idle_seconds(86400);
      c.mutable_auth()->set_session_absolute_seconds(7 * 86400);
      if (customize) customize(c);
    });
    if (HasFatalFailure()) return;
    profile.id = "office";
    profile.name = "Office";
    ASSERT_TRUE(AddProfile(*server_, profile).ok());
    ASSERT_TRUE(AddUser(*server_, "dave", "dave-pw", "office", "Europe/London")
                    .ok());
  }

  // A client of `service` whose connection comes from `source`.
  std::unique_ptr<client::CrmClient> From(const std::string& source,
                                          const std::string& service =
                                              "web-frontend") {
    auto relay = TcpRelay::Start(server_->server().port(), source);
    EXPECT_TRUE(relay.ok()) << relay.status();
    auto client = ClientTo(*server_, (*relay)->target(), service);
    relays_.push_back(*std::move(relay));
    return client;
  }

  void ExpectDenied(const grpc::Status& s, const std::string& rule,
                    const std::string& what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << what << ": " << StatusText(s);
    EXPECT_THAT(s.error_message(), HasSubstr(rule)) << what;
  }

  std::vector<std::unique_ptr<TcpRelay>> relays_;
};

TEST_P(AuthRestrictionsTest, IpRangesOfTheProfile) {
  store::ProfileRow p;
  p.allowed_ip_ranges = "127.1.0.0/16\n2001:db8::/32";
  Start(p);
  auto inside = From("127.1.0.5");
  crm::v1::LoginResponse login;
  grpc::Status s = Login(*inside, "dave", "dave-pw", &login);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  inside->set_session_token(login.session_token());
  crm::v1::WhoAmIResponse who;
  s = WhoAmI(*inside, &who);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  EXPECT_EQ(who.client_address(), "127.1.0.5");

  auto outside = From("127.9.0.1");
  s = Login(*outside, "dave", "dave-pw");
  ExpectDenied(s, "ip_ranges of profile 'Office'", "login from 127.9.0.1");
  EXPECT_THAT(s.error_message(), HasSubstr("127.9.0.1"));
  // Its details name the rule and the address, for programs.
  client::ErrorDetails d = client::DecodeErrorDetails(s);
  EXPECT_EQ(d.reason, "LOGIN_IP_RESTRICTED");
  EXPECT_EQ(d.metadata["rule"], "ip_ranges");
  EXPECT_EQ(d.metadata["restriction_owner"], "profile 'Office'");
  EXPECT_EQ(d.metadata["client_address"], "127.9.0.1");
  // The restriction is checked on every call, not only at login.
  outside->set_session_token(login.session_token());
  ExpectDenied(WhoAmI(*outside), "ip_ranges", "session used from 127.9.0.1");
  // A wrong password never reaches the restriction.
  outside->set_session_token("");
  s = Login(*outside, "dave", "wrong");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "invalid username or password");
  EXPECT_EQ(client::DecodeErrorDetails(s).reason, "BAD_CREDENTIALS");
}

TEST_P(AuthRestrictionsTest, CountriesOfTheProfile) {
  store::ProfileRow p;
  p.allowed_countries = "US,de";
  Start(p);
  struct Case {
    const char* source;
    bool allowed;
    const char* what;
  } cases[] = {
      {"127.1.0.7", true, "US"},
      {"127.0.0.7", true, "DE"},
      {"127.2.0.7", false, "FR"},
      {"127.3.0.7", false, "no country"},
  };
  for (const Case& c : cases) {
    grpc::Status s = Login(*From(c.source), "dave", "dave-pw");
    if (c.allowed) {
      EXPECT_TRUE(s.ok()) << c.what << ": " << StatusText(s);
    } else {
      ExpectDenied(s, "countries of profile 'Office'", c.what);
    }
  }
}

TEST_P(AuthRestrictionsTest, LoginHoursFollowTheClock) {
  store::ProfileRow p;
  p.login_hours = "mon-fri 09:00-17:00";
  p.login_time_zone = "Europe/Berlin";
  Start(p);
  // Monday 10:00 UTC = 11:00 in Berlin.
  auto web = server_->Client("web-frontend");
  std::string token = MustLogin(*web, "dave", "dave-pw");
  auto as_dave = UserClient("web-frontend", token);
  ASSERT_TRUE(WhoAmI(*as_dave).ok());
  clock_.Advance(absl::Hours(6) + absl::Minutes(30));  // 17:30 in Berlin
  ExpectDenied(WhoAmI(*as_dave), "login_hours of profile 'Office'",
               "a call after hours");
  ExpectDenied(Login(*web, "dave", "dave-pw"), "login_hours",
               "a login after hours");
  clock_.Advance(absl::Hours(16));  // Tuesday 09:30 in Berlin
  EXPECT_TRUE(WhoAmI(*as_dave).ok());
}

TEST_P(AuthRestrictionsTest, LoginHoursInTheUsersZoneWhenTheProfileHasNone) {
  store::ProfileRow p;
  p.login_hours = "mon 10:30-11:00";  // dave is in Europe/London (UTC+0)
  Start(p);
  auto web = server_->Client("web-frontend");
  ExpectDenied(Login(*web, "dave", "dave-pw"), "login_hours", "10:00 London");
  clock_.Advance(absl::Minutes(45));
  EXPECT_TRUE(Login(*web, "dave", "dave-pw").ok());
}

TEST_P(AuthRestrictionsTest, ForwardedAddressOnlyFromTrustedGateways) {
  store::ProfileRow p;
  p.allowed_ip_ranges = "127.1.0.0/16";
  Start(p);
  // web-frontend is a trusted gateway: the end user's address counts, the
  // rightmost one, which the gateway appended (tests/forwarded_for_test.cc).
  auto web = server_->Client("web-frontend");
  web->set_forwarded_for("10.0.0.1, 127.1.2.3");
  crm::v1::LoginResponse login;
  grpc::Status s = Login(*web, "dave", "dave-pw", &login);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  web->set_session_token(login.session_token());
  crm::v1::WhoAmIResponse who;
  ASSERT_TRUE(WhoAmI(*web, &who).ok());
  EXPECT_EQ(who.client_address(), "127.1.2.3");

  // billing is not: its header is ignored and its own address (127.0.0.1)
  // is checked.
  auto billing = server_->Client("billing");
  billing->set_forwarded_for("127.1.2.3");
  ASSERT_TRUE(WhoAmI(*billing, &who).ok());
  EXPECT_EQ(who.client_address(), "127.0.0.1");
  ExpectDenied(Login(*billing, "dave", "dave-pw"), "ip_ranges",
               "forwarded address from a non-gateway");

  auto bad = server_->Client("web-frontend");
  bad->set_forwarded_for("not-an-address");
  EXPECT_EQ(WhoAmI(*bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(AuthRestrictionsTest, ServiceRestrictionsApplyToEveryCall) {
  Start(store::ProfileRow(), [](crm::internal::ServerConfig& c) {
    for (auto& service : *c.mutable_services()) {
      if (service.name() == "billing") {
        service.add_allowed_ip_ranges("127.5.0.0/16");
      }
      if (service.name() == "gateway") service.add_allowed_countries("US");
    }
  });
  ExpectDenied(WhoAmI(*server_->Client("billing")),
               "ip_ranges of service 'billing'", "billing from 127.0.0.1");
  EXPECT_TRUE(WhoAmI(*From("127.5.0.9", "billing")).ok());
  ExpectDenied(WhoAmI(*server_->Client("gateway")),
               "countries of service 'gateway'", "gateway from DE");
  EXPECT_TRUE(WhoAmI(*From("127.1.0.9", "gateway")).ok());
  // A trusted gateway's forwarded address is what its restriction checks.
  auto forwarded = server_->Client("gateway");
  forwarded->set_forwarded_for("127.1.9.9");
  EXPECT_TRUE(WhoAmI(*forwarded).ok());
  // Other services are unrestricted.
  EXPECT_TRUE(WhoAmI(*server_->Client("admin-cli")).ok());
}

// Restrictions are compiled with the policy version: a change applies to an
// open session from its first call on the new version. Through
// UserAdminService (installed on this server at once) and through a write
// another server made (this one picks the new version up by polling).
TEST_P(AuthRestrictionsTest, RestrictionChangeAppliesToOpenSessions) {
  Start(store::ProfileRow(), [](crm::internal::ServerConfig& c) {
    testing::GrantSystemPermissions(c, "admin-cli", {"manage_policy"});
  });
  auto dave = From("127.1.0.5");
  crm::v1::LoginResponse login;
  grpc::Status s = Login(*dave, "dave", "dave-pw", &login);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  dave->set_session_token(login.session_token());
  ASSERT_TRUE(WhoAmI(*dave).ok());

  auto admin = server_->Client("admin-cli");
  crm::v1::UpdateProfileRequest update;
  update.mutable_profile()->set_name("profiles/office");
  update.mutable_profile()->add_allowed_ip_ranges("127.2.0.0/16");
  update.mutable_update_mask()->add_paths("allowed_ip_ranges");
  crm::v1::Profile updated;
  auto context = admin->NewContext();
  s = admin->user_admin().UpdateProfile(context.get(), update, &updated);
  ASSERT_TRUE(s.ok()) << StatusText(s);
  ExpectDenied(WhoAmI(*dave), "ip_ranges of profile 'Office'",
               "the next call after the update");
  EXPECT_TRUE(WhoAmI(*From("127.2.0.9")).ok()) << "a service call, no user";

  // Another server's write: the row changes and the policy version is
  // bumped (IdentityStore::UpdateProfile), not installed here; the poll
  // (1 s) installs it, and the open session follows.
  auto row =
      server_->server().core().authn->identities().FindProfileById("office");
  ASSERT_TRUE(row.ok() && row->has_value());
  store::ProfileRow changed = **row;
  changed.allowed_ip_ranges = "127.1.0.0/16";
  auto done = server_->server().core().authn->identities().UpdateProfile(
      changed, changed.version);
  ASSERT_TRUE(done.ok() && *done);
  grpc::Status after;
  for (int i = 0; i < 100; ++i) {
    after = WhoAmI(*dave);
    if (after.ok()) break;
    ExpectDenied(after, "ip_ranges", "before the poll installs it");
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(after.ok()) << StatusText(after);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthRestrictionsTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) { return BackendName(info.param); });

// Without a GeoIP database, a country rule refuses every call (fail closed).
TEST(AuthRestrictionsNoGeoIp, CountryRuleWithoutDatabaseFailsClosed) {
  TestServerOptions options;
  options.customize = [](crm::internal::ServerConfig& c) {
    for (auto& service : *c.mutable_services()) {
      if (service.name() == "billing") service.add_allowed_countries("DE");
    }
  };
  auto server = TestServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto billing = (*server)->Client("billing");
  crm::v1::WhoAmIResponse who;
  auto ctx = billing->NewContext();
  grpc::Status s =
      billing->auth().WhoAmI(ctx.get(), crm::v1::WhoAmIRequest(), &who);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("GeoIP"));
}

}  // namespace
}  // namespace crm::testing
