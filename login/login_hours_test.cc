#include "login/login_hours.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace crm::login {
namespace {

// An instant given as UTC wall time.
absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi),
                         absl::UTCTimeZone());
}

// An instant given as wall time in `zone`.
absl::Time Local(const char* zone, int y, int mo, int d, int h, int mi) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(zone, &tz)) << zone;
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), tz);
}

TEST(LoginHours, EmptySpecAllowsEverything) {
  for (const char* zone : {"", "UTC", "Europe/Berlin"}) {
    absl::StatusOr<LoginHours> h = LoginHours::Parse("  ", zone);
    ASSERT_TRUE(h.ok()) << zone << ": " << h.status();
    EXPECT_TRUE(h->unrestricted());
    EXPECT_TRUE(h->Allows(Utc(2024, 1, 1, 3, 0)));
    EXPECT_EQ(h->Describe(), "");
  }
  EXPECT_TRUE(LoginHours().Allows(absl::InfinitePast()));
}

// 2024-01-01 is a Monday.
TEST(LoginHours, WeekdaysAndWindows) {
  absl::StatusOr<LoginHours> h = LoginHours::Parse(
      "mon-fri 08:00-12:00,13:00-18:00; sat 09:00-12:00", "UTC");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->unrestricted());
  EXPECT_EQ(h->Describe(), "mon-fri 08:00-12:00,13:00-18:00; sat 09:00-12:00");
  struct Case {
    absl::Time t;
    bool want;
    const char* what;
  } cases[] = {
      {Utc(2024, 1, 1, 8, 0), true, "Mon 08:00 start is inclusive"},
      {Utc(2024, 1, 1, 7, 59), false, "Mon 07:59"},
      {Utc(2024, 1, 1, 11, 59), true, "Mon 11:59"},
      {Utc(2024, 1, 1, 12, 0), false, "Mon 12:00 end is exclusive"},
      {Utc(2024, 1, 1, 12, 30), false, "Mon lunch"},
      {Utc(2024, 1, 1, 13, 0), true, "Mon 13:00"},
      {Utc(2024, 1, 1, 17, 59), true, "Mon 17:59"},
      {Utc(2024, 1, 1, 18, 0), false, "Mon 18:00"},
      {Utc(2024, 1, 3, 10, 0), true, "Wed"},
      {Utc(2024, 1, 5, 17, 0), true, "Fri"},
      {Utc(2024, 1, 6, 9, 0), true, "Sat 09:00"},
      {Utc(2024, 1, 6, 12, 0), false, "Sat 12:00"},
      {Utc(2024, 1, 6, 14, 0), false, "Sat afternoon"},
      {Utc(2024, 1, 7, 10, 0), false, "Sun"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(h->Allows(c.t), c.want) << c.what;
  }
}

TEST(LoginHours, UntilMidnightAndWrappingDayRange) {
  absl::StatusOr<LoginHours> h =
      LoginHours::Parse("FRI-Mon 22:00-24:00; tue,thu 00:00-06:00", "UTC");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->Describe(), "fri-mon 22:00-24:00; tue,thu 00:00-06:00");
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 5, 23, 59)));   // Fri
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 6, 22, 0)));    // Sat
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 7, 22, 30)));   // Sun
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 1, 22, 30)));   // Mon
  EXPECT_FALSE(h->Allows(Utc(2024, 1, 2, 22, 30)));  // Tue evening
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 2, 0, 0)));     // Tue 00:00
  EXPECT_FALSE(h->Allows(Utc(2024, 1, 3, 0, 0)));    // Wed 00:00
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 4, 5, 59)));    // Thu
}

TEST(LoginHours, TimeZones) {
  absl::StatusOr<LoginHours> berlin =
      LoginHours::Parse("mon-fri 08:00-18:00", "Europe/Berlin");
  ASSERT_TRUE(berlin.ok()) << berlin.status();
  // Winter (CET, UTC+1): 08:00 local is 07:00 UTC.
  EXPECT_TRUE(berlin->Allows(Utc(2024, 1, 2, 7, 0)));
  EXPECT_FALSE(berlin->Allows(Utc(2024, 1, 2, 6, 59)));
  EXPECT_FALSE(berlin->Allows(Utc(2024, 1, 2, 17, 0)));
  // Summer (CEST, UTC+2): 08:00 local is 06:00 UTC.
  EXPECT_TRUE(berlin->Allows(Utc(2024, 7, 2, 6, 0)));
  EXPECT_FALSE(berlin->Allows(Utc(2024, 7, 2, 5, 59)));
  EXPECT_FALSE(berlin->Allows(Utc(2024, 7, 2, 16, 0)));

  // Monday 23:30 in New York is Tuesday 04:30 UTC: the local weekday counts.
  absl::StatusOr<LoginHours> ny =
      LoginHours::Parse("mon 22:00-24:00", "America/New_York");
  ASSERT_TRUE(ny.ok()) << ny.status();
  EXPECT_TRUE(ny->Allows(Utc(2024, 1, 2, 4, 30)));
  EXPECT_FALSE(ny->Allows(Utc(2024, 1, 1, 23, 30)));  // Mon 18:30 in NY

  // Tokyo is ahead: Sunday 20:00 UTC is Monday 05:00 there.
  absl::StatusOr<LoginHours> tokyo =
      LoginHours::Parse("mon 05:00-06:00", "Asia/Tokyo");
  ASSERT_TRUE(tokyo.ok());
  EXPECT_TRUE(tokyo->Allows(Utc(2023, 12, 31, 20, 0)));
}

TEST(LoginHours, DaylightSavingTransitions) {
  // Europe/Berlin springs forward on Sun 2024-03-31 at 02:00 -> 03:00 and
  // falls back on Sun 2024-10-27 at 03:00 -> 02:00.
  absl::StatusOr<LoginHours> h =
      LoginHours::Parse("sun 03:00-04:00", "Europe/Berlin");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->Allows(Utc(2024, 3, 31, 0, 59)));  // 01:59 CET
  EXPECT_TRUE(h->Allows(Utc(2024, 3, 31, 1, 0)));    // 03:00 CEST
  EXPECT_TRUE(h->Allows(Utc(2024, 3, 31, 1, 59)));   // 03:59 CEST
  EXPECT_FALSE(h->Allows(Utc(2024, 3, 31, 2, 0)));   // 04:00 CEST
  EXPECT_EQ(h->DescribeInstant(Utc(2024, 3, 31, 1, 0)),
            "Sun 03:00 Europe/Berlin");

  absl::StatusOr<LoginHours> fall =
      LoginHours::Parse("sun 02:00-03:00", "Europe/Berlin");
  ASSERT_TRUE(fall.ok());
  // 02:00-03:00 local happens twice on 2024-10-27: 00:00-01:00 UTC (CEST)
  // and 01:00-02:00 UTC (CET); both are allowed.
  EXPECT_FALSE(fall->Allows(Utc(2024, 10, 26, 23, 59)));
  EXPECT_TRUE(fall->Allows(Utc(2024, 10, 27, 0, 30)));
  EXPECT_TRUE(fall->Allows(Utc(2024, 10, 27, 1, 30)));
  EXPECT_FALSE(fall->Allows(Utc(2024, 10, 27, 2, 0)));
}

TEST(LoginHours, DescribeInstant) {
  absl::StatusOr<LoginHours> h =
      LoginHours::Parse("mon-fri 08:00-18:00", "Europe/Berlin");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->DescribeInstant(Local("Europe/Berlin", 2024, 1, 2, 20, 15)),
            "Tue 20:15 Europe/Berlin");
  EXPECT_EQ(h->time_zone_name(), "Europe/Berlin");
}

TEST(LoginHours, ParseErrors) {
  struct Case {
    std::string spec;
    std::string zone;
    std::string message_part;
  } cases[] = {
      {"mon-fri 08:00-18:00", "", "time zone is required"},
      {"mon-fri 08:00-18:00", "Mars/Olympus",
       "unknown time zone 'Mars/Olympus'"},
      {"", "Not/AZone", "unknown time zone"},
      {"mon 08:00-18:00", "/etc/localtime", "unknown time zone"},
      {"mon 08:00-18:00", "../../etc/passwd", "unknown time zone"},
      {"monday 08:00-18:00", "UTC", "'monday' is not a day"},
      {"mon-fri-sat 08:00-18:00", "UTC", "is not a day"},
      {"mon-", "UTC", "needs days and a time window"},
      {"mon- 08:00-09:00", "UTC", "'mon-' is not a day"},
      {"mon", "UTC", "needs days and a time window"},
      {"mon 8-18", "UTC", "'8-18' is not a time window"},
      {"mon 08:00", "UTC", "is not a time window"},
      {"mon 08:60-09:00", "UTC", "is not a time window"},
      {"mon 08:00-25:00", "UTC", "is not a time window"},
      {"mon 08:00-24:01", "UTC", "is not a time window"},
      {"mon 18:00-08:00", "UTC", "do not wrap midnight"},
      {"mon 08:00-08:00", "UTC", "must end after it starts"},
      {"mon 24:00-24:00", "UTC", "must end after it starts"},
      {"mon 08:00-09:00,", "UTC", "is not a time window"},
      {"mon 008:00-09:00", "UTC", "is not a time window"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LoginHours> h = LoginHours::Parse(c.spec, c.zone);
    ASSERT_FALSE(h.ok()) << "'" << c.spec << "' in '" << c.zone << "'";
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(h.status().message(), c.message_part))
        << "'" << c.spec << "': " << h.status();
  }
}

TEST(LoginHours, ToleratesSpacingAndCase) {
  absl::StatusOr<LoginHours> h =
      LoginHours::Parse("  MON,Wed   8:00 - 9:30 ;; ", " UTC ");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->Describe(), "mon,wed 08:00-09:30");
  EXPECT_TRUE(h->Allows(Utc(2024, 1, 3, 9, 29)));
  EXPECT_FALSE(h->Allows(Utc(2024, 1, 2, 9, 0)));
}

}  // namespace
}  // namespace crm::login
