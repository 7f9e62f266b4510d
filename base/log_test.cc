#include "base/log.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace crm::base {
namespace {

std::vector<std::string>* g_lines = nullptr;

void Capture(absl::string_view line) { g_lines->emplace_back(line); }

// The "ts" value of a captured line.
std::string TimestampOf(const std::string& line) {
  const std::string key = "{\"ts\":\"";
  EXPECT_EQ(line.rfind(key, 0), 0u) << line;
  const size_t end = line.find('"', key.size());
  return line.substr(key.size(), end - key.size());
}

// The timestamp is formatted from a per-thread cache of the second: it must
// read like absl's "%Y-%m-%dT%H:%M:%E3SZ" and lie between the times taken
// around the call, across several seconds.
TEST(Log, TimestampIsUtcWithMilliseconds) {
  std::vector<std::string> lines;
  g_lines = &lines;
  SetLogSinkForTesting(&Capture);
  for (int i = 0; i < 12; ++i) {
    const absl::Time before = absl::Now();
    LogWarning("log_test.tick", {{"i", std::to_string(i)}});
    const absl::Time after = absl::Now();
    ASSERT_EQ(lines.size(), static_cast<size_t>(i + 1));
    const std::string ts = TimestampOf(lines.back());
    ASSERT_EQ(ts.size(), 24u) << ts;
    absl::Time parsed;
    std::string error;
    ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E3SZ", ts, absl::UTCTimeZone(),
                                &parsed, &error))
        << ts << ": " << error;
    EXPECT_GE(parsed, absl::FromUnixMillis(absl::ToUnixMillis(before))) << ts;
    EXPECT_LE(parsed, after) << ts;
    absl::SleepFor(absl::Milliseconds(i % 3 == 0 ? 450 : 7));
  }
  SetLogSinkForTesting(nullptr);
  g_lines = nullptr;
}

}  // namespace
}  // namespace crm::base
