// FUZZ_CHECK: the property assertions of the fuzz targets.
//
//   FUZZ_CHECK(reparsed.ok()) << "canonical text " << text << " refused";
//
// On failure prints the condition, the location and the streamed context to
// stderr and calls abort(), which libFuzzer reports as a crash and saves the
// input as a reproducer (crash-<sha1>). Used only in fuzz/; unlike assert()
// it is never compiled out.
#ifndef CRM_FUZZ_FUZZ_CHECK_H_
#define CRM_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"

namespace crm::fuzz {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition) {
    out_ << file << ":" << line << ": FUZZ_CHECK(" << condition << ") failed: ";
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() {
    std::fprintf(stderr, "%s\n", out_.str().c_str());
    std::fflush(stderr);
    std::abort();
  }
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    out_ << value;
    return *this;
  }

 private:
  std::ostringstream out_;
};

// Printable form of arbitrary bytes for failure messages.
inline std::string Escaped(absl::string_view bytes) {
  return "\"" + absl::CHexEscape(bytes) + "\"";
}
// Debian's Abseil has its own string_view type (docs/architecture.md).
inline std::string Escaped(std::string_view bytes) {
  return Escaped(absl::string_view(bytes.data(), bytes.size()));
}
inline std::string Escaped(const std::string& bytes) {
  return Escaped(absl::string_view(bytes));
}

}  // namespace crm::fuzz

#define FUZZ_CHECK(condition) \
  if (condition) {            \
  } else                      \
    ::crm::fuzz::CheckFailure(__FILE__, __LINE__, #condition)

#endif  // CRM_FUZZ_FUZZ_CHECK_H_
