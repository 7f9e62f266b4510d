#include "policy/profile_restrictions.h"

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "base/error.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "policy/snapshot.h"

namespace crm::policy {
namespace {

using ::testing::HasSubstr;

crm::internal::PolicyProfile Profile(const std::string& text) {
  crm::internal::PolicyProfile p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p)) << text;
  return p;
}

std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> out;
  auto bad = base::GetBadRequest(status);
  if (!bad.has_value()) return out;
  for (const auto& v : bad->field_violations()) out.push_back(v.field());
  return out;
}

absl::StatusOr<std::shared_ptr<const PolicySnapshot>> BuildProfiles(
    const std::string& text) {
  crm::internal::PolicyState state;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &state))
      << text;
  return PolicySnapshot::Build(state, PolicySnapshot::Services(),
                               model::SchemaRegistry::Default());
}

login::IpAddress Ip(const std::string& text) {
  return login::IpAddress::Parse(text).value_or(login::IpAddress());
}

const absl::Time kMondayTenUtc = absl::FromCivil(
    absl::CivilSecond(2026, 11, 23, 10, 0, 0), absl::UTCTimeZone());

TEST(CompileProfileRestrictions, Valid) {
  auto r = CompileProfileRestrictions(Profile(R"pb(
    name: "profiles/office"
    display_name: "Office"
    allowed_ip_ranges: "10.0.0.0/8"
    allowed_ip_ranges: "2001:db8::/32"
    allowed_countries: "de"
    login_hours: "mon-fri 08:00-18:00"
    login_time_zone: "Europe/Berlin"
  )pb"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->owner_label(), "profile 'Office'");
  EXPECT_EQ(r->ip_ranges().ToString(), "10.0.0.0/8, 2001:db8::/32");
  EXPECT_EQ(r->countries(), std::vector<std::string>{"DE"});
  EXPECT_EQ(r->login_hours().time_zone_name(), "Europe/Berlin");
  EXPECT_FALSE(r->hours_in_user_zone());
  absl::Status denied = r->Check({Ip("192.0.2.1"), kMondayTenUtc}, nullptr);
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("ip_ranges of profile 'Office'"));
}

TEST(CompileProfileRestrictions, EmptyIsUnrestricted) {
  auto r = CompileProfileRestrictions(Profile(R"pb(name: "profiles/p"
                                                   display_name: "Plain")pb"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->unrestricted());
}

TEST(CompileProfileRestrictions, HoursWithoutZoneFollowTheUser) {
  auto r = CompileProfileRestrictions(Profile(R"pb(
    name: "profiles/shift"
    display_name: "Shift"
    login_hours: "mon 10:30-11:30"
  )pb"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->hours_in_user_zone());
  // Monday 10:00 UTC is 11:00 in Berlin and 10:00 in London.
  EXPECT_TRUE(
      r->Check({Ip("127.0.0.1"), kMondayTenUtc, "Europe/Berlin"}, nullptr)
          .ok());
  EXPECT_FALSE(
      r->Check({Ip("127.0.0.1"), kMondayTenUtc, "Europe/London"}, nullptr)
          .ok());
}

// Each invalid field is named, with the profile; every problem is listed.
TEST(CompileProfileRestrictions, EveryInvalidFieldIsNamed) {
  struct Case {
    std::string text;
    std::vector<std::string> fields;
    std::string message_part;
  } cases[] = {
      {R"pb(allowed_ip_ranges: "10.0.0.1/8")pb",
       {"allowed_ip_ranges[0]"},
       "profiles/x: login restrictions of profile 'X': allowed_ip_ranges[0]: "
       "IP range '10.0.0.1/8'"},
      {R"pb(allowed_ip_ranges: "::1" allowed_ip_ranges: "300.0.0.0/8")pb",
       {"allowed_ip_ranges[1]"},
       "allowed_ip_ranges[1]"},
      {R"pb(allowed_countries: "Germany")pb",
       {"allowed_countries[0]"},
       "profiles/x: login restrictions of profile 'X': allowed_countries[0]: "
       "'Germany' is not a two-letter ISO 3166-1 country code"},
      {R"pb(login_hours: "weekdays 9-5")pb",
       {"login_hours"},
       "login_hours: login hours 'weekdays 9-5'"},
      {R"pb(login_hours: "mon 09:00-17:00" login_time_zone: "Mars/Base")pb",
       {"login_time_zone"},
       "login_time_zone: unknown time zone 'Mars/Base'"},
      {R"pb(allowed_ip_ranges: "10.0.0.1/8"
            allowed_countries: "XYZ"
            login_hours: "mon 18:00-09:00")pb",
       {"allowed_ip_ranges[0]", "allowed_countries[0]", "login_hours"},
       "(and 2 more: "},
  };
  for (const Case& c : cases) {
    auto r = CompileProfileRestrictions(
        Profile(R"pb(name: "profiles/x" display_name: "X")pb" + c.text));
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(c.message_part)) << c.text;
    EXPECT_EQ(Fields(r.status()), c.fields) << r.status();
  }
}

TEST(PolicySnapshot, CompilesProfilesOncePerVersion) {
  auto snapshot = BuildProfiles(R"pb(
    version: 3
    profiles {
      name: "profiles/office"
      display_name: "Office"
      allowed_countries: "US"
    }
    profiles { name: "profiles/plain" display_name: "Plain" }
  )pb");
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const login::LoginRestrictions* office =
      (*snapshot)->ProfileRestrictions("office");
  ASSERT_NE(office, nullptr);
  EXPECT_EQ(office->countries(), std::vector<std::string>{"US"});
  EXPECT_EQ(office, (*snapshot)->ProfileRestrictions("office"))
      << "the same compiled object on every lookup";
  ASSERT_NE((*snapshot)->ProfileRestrictions("plain"), nullptr);
  EXPECT_TRUE((*snapshot)->ProfileRestrictions("plain")->unrestricted());
  EXPECT_EQ((*snapshot)->ProfileRestrictions("missing"), nullptr);
  EXPECT_EQ((*snapshot)->ProfileRestrictions("profiles/office"), nullptr)
      << "keyed by id";
}

TEST(PolicySnapshot, InvalidProfileFailsTheBuild) {
  auto snapshot = BuildProfiles(R"pb(
    profiles { name: "profiles/ok" display_name: "Fine" }
    profiles {
      name: "profiles/bad"
      display_name: "Bad"
      allowed_ip_ranges: "10.0.0.1/8"
      allowed_countries: "D"
    }
  )pb");
  ASSERT_FALSE(snapshot.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(snapshot.status())) << snapshot.status();
  EXPECT_THAT(snapshot.status().message(),
              HasSubstr("policy: profiles/bad: login restrictions of profile "
                        "'Bad': allowed_ip_ranges[0]:"));
  EXPECT_EQ(Fields(snapshot.status()),
            (std::vector<std::string>{"allowed_ip_ranges[0]",
                                      "allowed_countries[0]"}));
}

TEST(PolicySnapshot, ProfileNamesAreChecked) {
  for (const char* text :
       {R"pb(profiles { name: "office" display_name: "Office" })pb",
        R"pb(profiles { name: "profiles/a" display_name: "A" }
             profiles { name: "profiles/a" display_name: "B" })pb"}) {
    auto snapshot = BuildProfiles(text);
    EXPECT_TRUE(absl::IsInvalidArgument(snapshot.status()))
        << text << ": " << snapshot.status();
  }
}

}  // namespace
}  // namespace crm::policy
