// Login throttling that an attacker cannot aim (auth/lockout.h), through the
// real server over mTLS on both backends, with clients whose connections
// come from chosen 127.x.y.z addresses (TcpRelay): an attacker's failures
// lock the user out of the attacker's address only; attempts from an
// address the profile forbids do not count; a source that fails too often
// is refused with RESOURCE_EXHAUSTED and a retry time; a spread-out guess
// holds back unfamiliar addresses only; a lockout ends no session, an
// admin's revocation does. Time moves with the server's FakeClock only.
#include "tests/auth_test_util.h"
#include "tests/harness/tcp_relay.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class AuthLockoutTest : public AuthFixture,
                        public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    StartServer(GetParam(), [](crm::internal::ServerConfig& c) {
      auto* auth = c.mutable_auth();
      auth->set_lockout_threshold(3);
      auth->set_lockout_seconds(600);
      auth->set_source_failure_limit(8);
      auth->set_source_failure_window_seconds(240);  // one per 30 s
      auth->set_user_failure_limit(6);
      auth->set_user_failure_window_seconds(3600);  // one per 10 min
      auth->set_session_idle_seconds(86400);
      auth->set_session_absolute_seconds(86400);
    });
    if (HasFatalFailure()) return;
    store::ProfileRow office;
    office.id = "office";
    office.name = "Office";
    office.allowed_ip_ranges = "127.1.0.0/16";
    ASSERT_TRUE(AddProfile(*server_, office).ok());
    ASSERT_TRUE(AddUser(*server_, "olga", "olga-pw", "office").ok());
  }

  // A client of web-frontend (an ordinary service: it may call Login and
  // nothing else) whose connection comes from `source`.
  std::unique_ptr<client::CrmClient> From(const std::string& source) {
    auto relay = TcpRelay::Start(server_->server().port(), source);
    EXPECT_TRUE(relay.ok()) << relay.status();
    if (!relay.ok()) return nullptr;
    auto client = ClientTo(*server_, (*relay)->target(), "web-frontend");
    relays_.push_back(*std::move(relay));
    return client;
  }

  void ExpectBadLogin(const grpc::Status& s, const std::string& what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << what << ": " << StatusText(s);
    EXPECT_EQ(s.error_message(), "invalid username or password") << what;
  }

  std::vector<std::unique_ptr<TcpRelay>> relays_;
};

TEST_P(AuthLockoutTest, AnAttackerLocksTheUserOutOfItsOwnAddressOnly) {
  auto attacker = From("127.66.0.1");
  auto real = From("127.1.0.5");
  ASSERT_TRUE(attacker && real);
  for (int i = 0; i < 3; ++i) {
    ExpectBadLogin(Login(*attacker, "bob", "guess"),
                   "guess " + std::to_string(i));
  }
  ExpectBadLogin(Login(*attacker, "bob", "bob-pw"),
                 "the right password from the locked-out address");
  grpc::Status s = Login(*real, "bob", "bob-pw");
  EXPECT_TRUE(s.ok()) << "bob's own address is not locked: " << StatusText(s);
  // The lock is on the attacker's address until it runs out.
  clock_.Advance(absl::Seconds(601));
  s = Login(*attacker, "bob", "bob-pw");
  EXPECT_TRUE(s.ok()) << "the lock ran out: " << StatusText(s);
}

TEST_P(AuthLockoutTest, AttemptsFromAForbiddenAddressDoNotCount) {
  auto outside = From("127.9.0.1");
  auto inside = From("127.1.0.7");
  ASSERT_TRUE(outside && inside);
  for (int i = 0; i < 5; ++i) {  // more than the lock's 3, fewer than 8
    ExpectBadLogin(Login(*outside, "olga", "guess"), "forbidden address");
  }
  grpc::Status s = Login(*outside, "olga", "olga-pw");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << "with the password, the rule is named: " << StatusText(s);
  EXPECT_THAT(s.error_message(), HasSubstr("ip_ranges of profile 'Office'"));
  s = Login(*inside, "olga", "olga-pw");
  EXPECT_TRUE(s.ok()) << "nothing counted against olga: " << StatusText(s);
  // Nor against her all-sources budget: six forbidden guesses from a
  // second address and she still logs in from a new allowed one.
  auto outside2 = From("127.9.0.2");
  ASSERT_TRUE(outside2);
  for (int i = 0; i < 6; ++i) (void)Login(*outside2, "olga", "guess");
  s = Login(*From("127.1.0.8"), "olga", "olga-pw");
  EXPECT_TRUE(s.ok()) << StatusText(s);
}

TEST_P(AuthLockoutTest, ASourceThatFailsTooOftenIsThrottled) {
  auto sprayer = From("127.77.0.1");
  ASSERT_TRUE(sprayer);
  // Eight failures against any usernames spend the source's budget.
  const char* users[] = {"bob",  "alice", "nobody", "carol",
                         "olga", "zed",   "bob",    "alice"};
  for (const char* user : users) {
    grpc::Status s = Login(*sprayer, user, "guess");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << user << ": " << StatusText(s);
  }
  grpc::Status s = Login(*sprayer, "bob", "bob-pw");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << StatusText(s);
  EXPECT_THAT(s.error_message(),
              HasSubstr("too many failed logins from 127.77.0.1"));
  EXPECT_THAT(s.error_message(), HasSubstr("try again in 30 s"));
  // Other sources are not slowed down, and time refills the budget.
  EXPECT_TRUE(Login(*From("127.1.0.5"), "bob", "bob-pw").ok());
  clock_.Advance(absl::Seconds(30));
  s = Login(*sprayer, "alice", "alice-pw");
  EXPECT_TRUE(s.ok()) << "one attempt per 30 s: " << StatusText(s);
}

TEST_P(AuthLockoutTest, ASpreadOutGuessHoldsBackOnlyUnfamiliarAddresses) {
  auto home = From("127.1.0.5");
  ASSERT_TRUE(home);
  ASSERT_TRUE(Login(*home, "bob", "bob-pw").ok());
  // Six guesses from three addresses, two each: no address is locked, but
  // bob's all-sources budget (6 per hour) is spent.
  for (const char* source : {"127.50.0.1", "127.50.0.2", "127.50.0.3"}) {
    auto guesser = From(source);
    ASSERT_TRUE(guesser);
    for (int i = 0; i < 2; ++i)
      ExpectBadLogin(Login(*guesser, "bob", "x"), source);
  }
  auto traveller = From("127.50.0.9");
  ASSERT_TRUE(traveller);
  ExpectBadLogin(Login(*traveller, "bob", "bob-pw"),
                 "a new address while the budget is spent");
  grpc::Status s = Login(*home, "bob", "bob-pw");
  EXPECT_TRUE(s.ok()) << "bob's usual address still works: " << StatusText(s);
  // An admin's unlock clears the budget.
  ASSERT_TRUE(Unlock(*server_->Client("admin-cli"), "bob").ok());
  s = Login(*traveller, "bob", "bob-pw");
  EXPECT_TRUE(s.ok()) << StatusText(s);
}

TEST_P(AuthLockoutTest, LockoutEndsNoSessionAdminRevocationDoes) {
  auto home = From("127.1.0.5");
  ASSERT_TRUE(home);
  std::string token = MustLogin(*home, "bob", "bob-pw");
  for (int i = 0; i < 3; ++i) (void)Login(*home, "bob", "wrong");
  ExpectBadLogin(Login(*home, "bob", "bob-pw"), "locked from home");
  home->set_session_token(token);
  grpc::Status s = WhoAmI(*home);
  EXPECT_TRUE(s.ok()) << "the open session goes on: " << StatusText(s);

  auto admin = server_->Client("admin-cli");
  {
    crm::v1::RevokeUserSessionsRequest request;
    request.set_username("bob");
    crm::v1::RevokeUserSessionsResponse response;
    auto ctx = admin->NewContext();
    s = admin->auth().RevokeUserSessions(ctx.get(), request, &response);
    ASSERT_TRUE(s.ok()) << StatusText(s);
    EXPECT_EQ(response.revoked_count(), 1);
  }
  s = WhoAmI(*home);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << StatusText(s);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthLockoutTest,
                         ::testing::ValuesIn(AllBackends()),
                         [](const auto& info) {
                           return BackendName(info.param);
                         });

}  // namespace
}  // namespace crm::testing
