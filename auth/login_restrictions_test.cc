#include "auth/login_restrictions.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/support/test_geoip.h"

namespace crm::auth {
namespace {

IpAddress Ip(const std::string& text) {
  std::optional<IpAddress> a = IpAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress());
}

absl::Time Berlin(int y, int mo, int d, int h, int mi) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Berlin", &tz));
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), tz);
}

// Tue 2024-01-02 10:00 in Berlin: inside office hours.
const absl::Time kOfficeHours = Berlin(2024, 1, 2, 10, 0);

std::unique_ptr<MaxMindCountryResolver> TestGeo() {
  const std::string& path = crm::testing::SharedTestGeoIpPath();
  if (path.empty()) return nullptr;
  auto db = MaxMindCountryResolver::Open(path);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

TEST(LoginRestrictions, NoneAllowsEverything) {
  LoginRestrictions none;
  EXPECT_TRUE(none.unrestricted());
  EXPECT_TRUE(none.Check({IpAddress(), absl::InfinitePast()}, nullptr).ok());
  absl::StatusOr<LoginRestrictions> created =
      LoginRestrictions::Create("profile 'Anyone'", {}, {}, "", "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->unrestricted());
  EXPECT_TRUE(created->Check({Ip("8.8.8.8"), kOfficeHours}, nullptr).ok());
}

TEST(LoginRestrictions, DecisionTable) {
  std::unique_ptr<MaxMindCountryResolver> geo = TestGeo();
  ASSERT_NE(geo, nullptr);
  absl::StatusOr<LoginRestrictions> r = LoginRestrictions::Create(
      "profile 'Sales Rep'", {"127.0.0.0/14", "::1"}, {"us", "DE"},
      "mon-fri 08:00-18:00", "Europe/Berlin");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->unrestricted());
  EXPECT_EQ(r->countries(), (std::vector<std::string>{"DE", "US"}));

  struct Case {
    std::string address;  // "" = unknown
    absl::Time now;
    std::string want;  // "" = OK, else the exact PERMISSION_DENIED message
  } cases[] = {
      {"127.0.0.1", kOfficeHours, ""},
      {"127.1.0.1", kOfficeHours, ""},
      {"::1", kOfficeHours, ""},
      {"::ffff:127.0.0.9", kOfficeHours, ""},
      {"127.5.0.1", kOfficeHours,
       "login restriction ip_ranges of profile 'Sales Rep': address 127.5.0.1 "
       "is not in an allowed range (127.0.0.0/14, ::1/128)"},
      {"", kOfficeHours,
       "login restriction ip_ranges of profile 'Sales Rep': address unknown "
       "is not in an allowed range (127.0.0.0/14, ::1/128)"},
      {"127.3.0.1", kOfficeHours,
       "login restriction countries of profile 'Sales Rep': address 127.3.0.1 "
       "has no known country (allowed: DE, US)"},
      {"127.2.0.1", kOfficeHours,
       "login restriction countries of profile 'Sales Rep': address 127.2.0.1 "
       "is in FR, allowed: DE, US"},
      {"127.0.0.1", Berlin(2024, 1, 2, 20, 15),
       "login restriction login_hours of profile 'Sales Rep': Tue 20:15 "
       "Europe/Berlin is outside mon-fri 08:00-18:00"},
      {"127.0.0.1", Berlin(2024, 1, 6, 10, 0),
       "login restriction login_hours of profile 'Sales Rep': Sat 10:00 "
       "Europe/Berlin is outside mon-fri 08:00-18:00"},
      // The first refusing rule decides: the range is checked first.
      {"127.5.0.1", Berlin(2024, 1, 6, 10, 0),
       "login restriction ip_ranges of profile 'Sales Rep': address 127.5.0.1 "
       "is not in an allowed range (127.0.0.0/14, ::1/128)"},
  };
  for (const Case& c : cases) {
    LoginContext ctx{c.address.empty() ? IpAddress() : Ip(c.address), c.now};
    absl::Status s = r->Check(ctx, geo.get());
    if (c.want.empty()) {
      EXPECT_TRUE(s.ok()) << c.address << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.address;
      EXPECT_EQ(s.message(), c.want) << c.address;
    }
  }
}

TEST(LoginRestrictions, CountriesWithoutGeoIpFailClosed) {
  absl::StatusOr<LoginRestrictions> r =
      LoginRestrictions::Create("service 'billing'", {}, {"DE"}, "", "");
  ASSERT_TRUE(r.ok()) << r.status();
  absl::Status s = r->Check({Ip("127.0.0.1"), kOfficeHours}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(
      s.message(), "login restriction countries of service 'billing': "))
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "GeoIP database is not configured"))
      << s;
}

// A resolver stub (not a database): maps exact addresses to countries.
class MapResolver : public CountryResolver {
 public:
  explicit MapResolver(std::map<std::string, std::string> m) : m_(std::move(m)) {}
  std::optional<std::string> CountryOf(const IpAddress& a) const override {
    auto it = m_.find(a.ToString());
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string> m_;
};

TEST(LoginRestrictions, CountriesOnly) {
  MapResolver geo({{"192.0.2.1", "DE"}, {"2001:db8::1", "JP"}});
  absl::StatusOr<LoginRestrictions> r =
      LoginRestrictions::Create("profile 'EU'", {}, {" de ", "FR", "de"}, "", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->countries(), (std::vector<std::string>{"DE", "FR"}));
  EXPECT_TRUE(r->Check({Ip("192.0.2.1"), kOfficeHours}, &geo).ok());
  absl::Status jp = r->Check({Ip("2001:db8::1"), kOfficeHours}, &geo);
  EXPECT_EQ(jp.message(),
            "login restriction countries of profile 'EU': address 2001:db8::1 "
            "is in JP, allowed: DE, FR");
  EXPECT_EQ(r->Check({IpAddress(), kOfficeHours}, &geo).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(LoginRestrictions, CreateErrorsNameRuleAndOwner) {
  struct Case {
    std::vector<std::string> cidrs;
    std::vector<std::string> countries;
    std::string hours;
    std::string zone;
    std::string message_part;
  } cases[] = {
      {{"10.0.0.1/8"}, {}, "", "",
       "login restriction ip_ranges of profile 'P': entry 1 of 1: IP range "
       "'10.0.0.1/8'"},
      {{}, {"DEU"}, "", "",
       "login restriction countries of profile 'P': 'DEU' is not a two-letter"},
      {{}, {"D1"}, "", "", "'D1' is not a two-letter"},
      {{}, {""}, "", "", "'' is not a two-letter"},
      {{}, {}, "mon 9-17", "UTC",
       "login restriction login_hours of profile 'P': login hours 'mon 9-17'"},
      {{}, {}, "mon 09:00-17:00", "Nowhere/City",
       "login restriction login_hours of profile 'P': unknown time zone"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LoginRestrictions> r = LoginRestrictions::Create(
        "profile 'P'", c.cidrs, c.countries, c.hours, c.zone);
    ASSERT_FALSE(r.ok()) << c.message_part;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message_part))
        << r.status();
  }
}

}  // namespace
}  // namespace crm::auth
