#include "base/log.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crm::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<void (*)(absl::string_view)> g_sink{nullptr};
thread_local const std::string* t_request_id = nullptr;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// "2026-11-23T14:00:00.123Z" for `now`. absl::FormatTime is a noticeable
// share of a log line (the server writes one per call), so each thread keeps
// the text of the last second it formatted and adds only the milliseconds.
void AppendTimestamp(absl::Time now, std::string* out) {
  thread_local int64_t cached_second = INT64_MIN;
  thread_local std::string cached_text;  // "2026-11-23T14:00:00"
  const int64_t micros = absl::ToUnixMicros(now);
  // Floor division: a time before 1970 still formats correctly.
  int64_t second = micros / 1000000;
  int64_t micros_in_second = micros % 1000000;
  if (micros_in_second < 0) {
    --second;
    micros_in_second += 1000000;
  }
  if (second != cached_second) {
    cached_text = absl::FormatTime("%Y-%m-%dT%H:%M:%S",
                                   absl::FromUnixSeconds(second),
                                   absl::UTCTimeZone());
    cached_second = second;
  }
  const int millis = static_cast<int>(micros_in_second / 1000);
  const char digits[] = {'.', static_cast<char>('0' + millis / 100),
                         static_cast<char>('0' + millis / 10 % 10),
                         static_cast<char>('0' + millis % 10), 'Z'};
  out->append(cached_text);
  out->append(digits, sizeof(digits));
}

}  // namespace

ScopedRequestId::ScopedRequestId(absl::string_view id)
    : previous_(t_request_id), id_(id) {
  t_request_id = &id_;
}

ScopedRequestId::~ScopedRequestId() { t_request_id = previous_; }

absl::string_view CurrentRequestId() {
  return t_request_id == nullptr ? absl::string_view() : *t_request_id;
}

void SetLogSinkForTesting(void (*sink)(absl::string_view line)) {
  g_sink.store(sink);
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level; }

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line = "{\"ts\":\"";
  AppendTimestamp(absl::Now(), &line);
  absl::StrAppend(&line, "\",\"level\":\"", LevelName(level),
                  "\",\"event\":\"", JsonEscape(event), "\"");
  if (t_request_id != nullptr && !t_request_id->empty()) {
    absl::StrAppend(&line, ",\"request_id\":\"", JsonEscape(*t_request_id),
                    "\"");
  }
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&line, ",\"", JsonEscape(key), "\":\"", JsonEscape(value),
                    "\"");
  }
  line += "}\n";
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  fwrite(line.data(), 1, line.size(), stderr);
  fflush(stderr);
  if (auto* sink = g_sink.load()) sink(line);
}

}  // namespace crm::base
