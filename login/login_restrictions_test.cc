#include "login/login_restrictions.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "base/error.h"
#include "gtest/gtest.h"

namespace crm::login {
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

// A resolver stub (not a database): maps exact addresses to countries.
class MapResolver : public CountryResolver {
 public:
  explicit MapResolver(std::map<std::string, std::string> m)
      : m_(std::move(m)) {}
  std::optional<std::string> CountryOf(const IpAddress& a) const override {
    auto it = m_.find(a.ToString());
    if (it == m_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string> m_;
};

// The countries of tests/support/test_geoip.cc's database, for the
// addresses used here.
MapResolver TestGeo() {
  return MapResolver({{"127.0.0.1", "DE"},
                      {"127.1.0.1", "US"},
                      {"::1", "US"},
                      {"127.0.0.9", "DE"},
                      {"127.2.0.1", "FR"}});
}

LoginRuleSpec Spec(std::vector<std::string> cidrs,
                   std::vector<std::string> countries, std::string hours = "",
                   std::string zone = "") {
  return {std::move(cidrs), std::move(countries), std::move(hours),
          std::move(zone)};
}

TEST(LoginRestrictions, NoneAllowsEverything) {
  LoginRestrictions none;
  EXPECT_TRUE(none.unrestricted());
  EXPECT_TRUE(none.Check({IpAddress(), absl::InfinitePast()}, nullptr).ok());
  absl::StatusOr<LoginRestrictions> created =
      LoginRestrictions::Create("profile 'Anyone'", LoginRuleSpec());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->unrestricted());
  EXPECT_TRUE(created->Check({Ip("8.8.8.8"), kOfficeHours}, nullptr).ok());
}

TEST(LoginRestrictions, DecisionTable) {
  const MapResolver geo = TestGeo();
  absl::StatusOr<LoginRestrictions> r = LoginRestrictions::Create(
      "profile 'Sales Rep'", Spec({"127.0.0.0/14", "::1"}, {"us", "DE"},
                                  "mon-fri 08:00-18:00", "Europe/Berlin"));
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
    absl::Status s = r->Check(ctx, &geo);
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
      LoginRestrictions::Create("service 'billing'", Spec({}, {"DE"}));
  ASSERT_TRUE(r.ok()) << r.status();
  absl::Status s = r->Check({Ip("127.0.0.1"), kOfficeHours}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(
      s.message(), "login restriction countries of service 'billing': "))
      << s;
  EXPECT_TRUE(
      absl::StrContains(s.message(), "GeoIP database is not configured"))
      << s;
}

TEST(LoginRestrictions, CountriesOnly) {
  MapResolver geo({{"192.0.2.1", "DE"}, {"2001:db8::1", "JP"}});
  absl::StatusOr<LoginRestrictions> r =
      LoginRestrictions::Create("profile 'EU'", Spec({}, {" de ", "FR", "de"}));
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

TEST(LoginRestrictions, CreateErrorsNameOwnerAndField) {
  struct Case {
    LoginRuleSpec spec;
    std::string field;
    std::string message_part;
  } cases[] = {
      {Spec({"10.0.0.0/8", "10.0.0.1/8"}, {}), "allowed_ip_ranges[1]",
       "login restrictions of profile 'P': allowed_ip_ranges[1]: IP range "
       "'10.0.0.1/8'"},
      {Spec({}, {"DEU"}), "allowed_countries[0]",
       "login restrictions of profile 'P': allowed_countries[0]: 'DEU' is "
       "not a two-letter"},
      {Spec({}, {"DE", "D1"}), "allowed_countries[1]",
       "'D1' is not a two-letter"},
      {Spec({}, {""}), "allowed_countries[0]", "'' is not a two-letter"},
      {Spec({}, {}, "mon 9-17", "UTC"), "login_hours",
       "login restrictions of profile 'P': login_hours: login hours 'mon "
       "9-17'"},
      {Spec({}, {}, "mon 9-17"), "login_hours", "login hours 'mon 9-17'"},
      {Spec({}, {}, "mon 09:00-17:00", "Nowhere/City"), "login_time_zone",
       "login restrictions of profile 'P': login_time_zone: unknown time "
       "zone 'Nowhere/City'"},
      {Spec({}, {}, "", "../etc/passwd"), "login_time_zone",
       "unknown time zone"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LoginRestrictions> r =
        LoginRestrictions::Create("profile 'P'", c.spec);
    ASSERT_FALSE(r.ok()) << c.message_part;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message_part))
        << r.status();
    auto bad = base::GetBadRequest(r.status());
    ASSERT_TRUE(bad.has_value()) << r.status();
    ASSERT_EQ(bad->field_violations_size(), 1) << r.status();
    EXPECT_EQ(bad->field_violations(0).field(), c.field);
  }
}

TEST(LoginRestrictions, CreateReportsEveryProblem) {
  absl::StatusOr<LoginRestrictions> r = LoginRestrictions::Create(
      "profile 'P'", Spec({"10.0.0.1/8", "::1", "nonsense"}, {"DE", "XYZ"},
                          "mon 25:00-26:00", "Mars/Base"));
  ASSERT_FALSE(r.ok());
  auto bad = base::GetBadRequest(r.status());
  ASSERT_TRUE(bad.has_value()) << r.status();
  std::vector<std::string> fields;
  for (const auto& v : bad->field_violations()) fields.push_back(v.field());
  EXPECT_EQ(fields,
            (std::vector<std::string>{
                "allowed_ip_ranges[0]", "allowed_ip_ranges[2]",
                "allowed_countries[1]", "login_time_zone", "login_hours"}));
}

TEST(LoginRestrictions, HoursWithoutZoneFollowTheUser) {
  absl::StatusOr<LoginRestrictions> r = LoginRestrictions::Create(
      "profile 'Shift'", Spec({}, {}, "tue 09:00-10:00"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->hours_in_user_zone());
  // Tue 10:00 in Berlin is 09:00 in London and 04:00 in New York.
  const absl::Time t = Berlin(2024, 1, 2, 10, 0);
  EXPECT_FALSE(r->Check({Ip("127.0.0.1"), t, "Europe/Berlin"}, nullptr).ok());
  EXPECT_TRUE(r->Check({Ip("127.0.0.1"), t, "Europe/London"}, nullptr).ok());
  absl::Status ny = r->Check({Ip("127.0.0.1"), t, "America/New_York"}, nullptr);
  EXPECT_EQ(ny.message(),
            "login restriction login_hours of profile 'Shift': Tue 04:00 "
            "America/New_York is outside tue 09:00-10:00");
  // No zone: UTC (09:00).
  EXPECT_TRUE(r->Check({Ip("127.0.0.1"), t}, nullptr).ok());
  // A zone that does not load refuses (fail closed).
  absl::Status bad = r->Check({Ip("127.0.0.1"), t, "Nowhere/City"}, nullptr);
  EXPECT_EQ(bad.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(bad.message(), "cannot be checked")) << bad;
  // A profile zone wins over the user's.
  absl::StatusOr<LoginRestrictions> fixed = LoginRestrictions::Create(
      "profile 'Fixed'", Spec({}, {}, "tue 09:00-10:00", "Europe/London"));
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_FALSE(fixed->hours_in_user_zone());
  EXPECT_TRUE(
      fixed->Check({Ip("127.0.0.1"), t, "America/New_York"}, nullptr).ok());
}

}  // namespace
}  // namespace crm::login
