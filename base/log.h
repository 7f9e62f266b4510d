// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-23T14:00:00.123Z","level":"info","event":"server.started",
//    "address":"127.0.0.1:8443"}
// Thread-safe. Values are escaped; callers pass key/value pairs. Every line
// the server writes (store/ included) has this one schema: ts, level, event,
// then string fields. Never pass secrets (passwords, tokens, keys).
//
// Writing: debug, warning and error lines reach stderr before Log returns;
// info lines are written in batches by a background thread within about
// 5 ms (one write(2) per batch instead of per line), in the order they were
// logged. FlushLogs() writes whatever is pending (it also runs at exit); a
// crash can lose the last few milliseconds of info lines.
#ifndef CRM_BASE_LOG_H_
#define CRM_BASE_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace crm::base {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<absl::string_view, std::string>;

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view event,
                    std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarning(absl::string_view event,
                       std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarning, event, fields);
}
inline void LogError(absl::string_view event,
                     std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}

// Writes every line logged so far before returning.
void FlushLogs();

// The request id of the call this thread is serving, added to every line
// the thread writes while it is set ("request_id"), so that a store error
// or a warning deep in a call can be joined with the call's own line.
// server/pipeline sets it around each handler (a sync handler runs on one
// thread). Nests: the previous id is restored on destruction.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(absl::string_view id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  const std::string* previous_;
  std::string id_;
};

// The current thread's request id ("" outside a call).
absl::string_view CurrentRequestId();

// For tests: every line also goes to `sink` (nullptr: none). Not for
// production use; the sink runs under a lock of its own, in Log's caller.
void SetLogSinkForTesting(void (*sink)(absl::string_view line));

// For tests: lines go to `fd` instead of stderr (pending ones are flushed
// to the old one first).
void SetLogFdForTesting(int fd);

// JSON string escaping (without the surrounding quotes).
std::string JsonEscape(absl::string_view s);

}  // namespace crm::base

#endif  // CRM_BASE_LOG_H_
