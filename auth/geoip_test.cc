#include "auth/geoip.h"

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/support/test_geoip.h"

namespace crm::auth {
namespace {

std::unique_ptr<MaxMindCountryResolver> OpenTestDb() {
  const std::string& path = crm::testing::SharedTestGeoIpPath();
  if (path.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<MaxMindCountryResolver>> db =
      MaxMindCountryResolver::Open(path);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

TEST(MaxMindCountryResolver, TestDatabaseCountries) {
  std::unique_ptr<MaxMindCountryResolver> db = OpenTestDb();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->database_type(), "GeoIP2-Country");
  struct Case {
    std::string address;
    std::string want;  // "" = no country
  } cases[] = {
      {"127.0.0.1", "DE"},       {"127.0.255.255", "DE"},
      {"127.1.0.1", "US"},       {"127.1.200.3", "US"},
      {"127.2.0.1", "FR"},       {"127.3.0.1", ""},
      {"127.4.0.1", ""},         {"::1", "DE"},
      {"::ffff:127.1.0.1", "US"}, {"2001:db8::1", ""},
      {"8.8.8.8", ""},           {"10.0.0.1", ""},
  };
  for (const Case& c : cases) {
    std::optional<login::IpAddress> a = login::IpAddress::Parse(c.address);
    ASSERT_TRUE(a.has_value()) << c.address;
    std::optional<std::string> country = db->CountryOf(*a);
    EXPECT_EQ(country.value_or(""), c.want) << c.address;
  }
  EXPECT_FALSE(db->CountryOf(login::IpAddress()).has_value());
}

TEST(MaxMindCountryResolver, ConcurrentLookups) {
  std::unique_ptr<MaxMindCountryResolver> db = OpenTestDb();
  ASSERT_NE(db, nullptr);
  const login::IpAddress us = *login::IpAddress::Parse("127.1.0.9");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (db->CountryOf(us) != std::optional<std::string>("US")) {
          ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(MaxMindCountryResolver, OpenErrors) {
  absl::StatusOr<std::unique_ptr<MaxMindCountryResolver>> missing =
      MaxMindCountryResolver::Open("/nonexistent/geo.mmdb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(),
                                "/nonexistent/geo.mmdb"));

  const std::string junk =
      ::testing::TempDir() + "/crm-geoip-test-not-an-mmdb.txt";
  std::ofstream(junk) << "this is not a MaxMind database\n";
  absl::StatusOr<std::unique_ptr<MaxMindCountryResolver>> bad =
      MaxMindCountryResolver::Open(junk);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), junk)) << bad.status();
  std::remove(junk.c_str());
}

}  // namespace
}  // namespace crm::auth
