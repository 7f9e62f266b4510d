#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Info lines are batched by a background thread; a warning is written before
// Log returns together with everything logged before it; after FlushLogs
// every line is there once, whole and in each thread's order.
TEST(Log, BatchedInfoLinesKeepOrderAndAreNeverLost) {
  SetLogSinkForTesting(nullptr);
  char path[] = "/tmp/log_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  SetLogFdForTesting(fd);

  constexpr int kThreads = 4;
  constexpr int kLines = 2000;  // 4 x 2000 lines > the 256 KiB threshold
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) {
        LogInfo("log_test.line", {{"thread", absl::StrCat(t)},
                                  {"i", absl::StrCat(i)},
                                  {"pad", std::string(40, 'x')}});
      }
    });
  }
  for (auto& th : threads) th.join();
  // Written at once, after every line logged before it.
  LogWarning("log_test.warning");
  std::string text = ReadFile(path);
  EXPECT_NE(text.find("log_test.warning"), std::string::npos);
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines + 1));
  EXPECT_NE(lines.back().find("log_test.warning"), std::string::npos);
  std::vector<int> next(kThreads, 0);
  for (size_t n = 0; n + 1 < lines.size(); ++n) {
    const std::string& line = lines[n];
    ASSERT_EQ(line.front(), '{') << line;
    ASSERT_EQ(line.back(), '}') << line;
    const size_t t_at = line.find("\"thread\":\"");
    const size_t i_at = line.find("\"i\":\"");
    ASSERT_NE(t_at, std::string::npos) << line;
    ASSERT_NE(i_at, std::string::npos) << line;
    const int t = std::stoi(line.substr(t_at + 10));
    const int i = std::stoi(line.substr(i_at + 5));
    ASSERT_EQ(i, next[t]) << "thread " << t << " out of order: " << line;
    ++next[t];
  }

  // An info line on its own is written by the background thread without a
  // flush (waits for the condition, not a time).
  LogInfo("log_test.alone");
  for (int tries = 0; tries < 30000; ++tries) {
    if (ReadFile(path).find("log_test.alone") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(ReadFile(path).find("log_test.alone"), std::string::npos);

  LogInfo("log_test.flushed");
  FlushLogs();
  EXPECT_NE(ReadFile(path).find("log_test.flushed"), std::string::npos);
  SetLogFdForTesting(2);
  close(fd);
  unlink(path);
}

}  // namespace
}  // namespace crm::base
