#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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

// Writes the log's lines to a file descriptor (2 unless a test changes it).
//
// Info lines (one per call: the "rpc" line) are appended to a buffer that a background thread writes with one write(2) at most
// kFlushDelay after the first line of a batch: a write per line, under a
// lock every call thread takes, cost more than the metrics and the policy
// together (bench/README.md). Warning and error lines, and any line that
// finds kMaxBuffered bytes waiting, are written by the caller before Log
// returns, together with everything buffered before them, so the order of
// lines is kept and a line about trouble is never held back. Memory is
// bounded; no line is dropped. FlushLogs (also run at exit) writes what is
// buffered; a crash (abort, SIGKILL) can lose the info lines of the last
// kFlushDelay.
//
// Never destroyed (a detached thread may still run at exit).
class Writer {
 public:
  static constexpr std::chrono::milliseconds kFlushDelay{5};
  static constexpr size_t kMaxBuffered = 256 * 1024;

  static Writer& Get() {
    static Writer* writer = [] {
      auto* w = new Writer();
      std::atexit([] { Writer::Get().Flush(); });
      return w;
    }();
    return *writer;
  }

  void SetFd(int fd) {
    Flush();
    fd_.store(fd);
  }

  void Append(std::string_view line, bool now) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const bool was_empty = buffer_.empty();
      buffer_.append(line.data(), line.size());
      if (!now && buffer_.size() < kMaxBuffered) {
        if (!thread_started_) {
          thread_started_ = true;
          std::thread([this] { Run(); }).detach();
        }
        if (was_empty) wake_.notify_one();
        return;
      }
    }
    Flush();
  }

  // Writes everything appended so far before returning.
  void Flush() {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    std::string batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(buffer_);
    }
    WriteAll(batch);
  }

 private:
  Writer() = default;

  void Run() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [this] { return !buffer_.empty(); });
      }
      std::this_thread::sleep_for(kFlushDelay);  // let a batch gather
      Flush();
    }
  }

  void WriteAll(std::string_view data) {
    const int fd = fd_.load();
    while (!data.empty()) {
      ssize_t n = write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // nowhere to report it: the log is the report
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  std::atomic<int> fd_{2};
  std::mutex write_mu_;  // held while a batch is taken and written: order
  std::mutex mu_;        // guards buffer_ and thread_started_
  std::condition_variable wake_;
  std::string buffer_;
  bool thread_started_ = false;
};

}  // namespace

void FlushLogs() { Writer::Get().Flush(); }

void SetLogFdForTesting(int fd) { Writer::Get().SetFd(fd); }

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
  Writer::Get().Append(line, /*now=*/level != LogLevel::kInfo);
  if (auto* sink = g_sink.load()) {
    static std::mutex sink_mu;
    std::lock_guard<std::mutex> lock(sink_mu);
    sink(line);
  }
}

}  // namespace crm::base
