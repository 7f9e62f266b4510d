#include "tests/support/test_geoip.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace crm::testing {
namespace {

constexpr char kGenerator[] = "tests/testdata/make-test-geoip.pl";

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::StatusOr<std::string> FindGenerator() {
  if (const char* src = std::getenv("CRM_SOURCE_DIR"); src && *src) {
    std::string path = absl::StrCat(src, "/", kGenerator);
    if (IsFile(path)) return path;
    return absl::NotFoundError(absl::StrCat(
        "CRM_SOURCE_DIR is '", src, "' but ", path, " does not exist"));
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return absl::InternalError("getcwd failed");
  }
  std::string dir = cwd;
  while (true) {
    std::string path = absl::StrCat(dir, "/", kGenerator);
    if (IsFile(path)) return path;
    if (dir.empty() || dir == "/") break;
    size_t slash = dir.rfind('/');
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return absl::NotFoundError(absl::StrCat(
      "cannot find ", kGenerator, " above ", cwd,
      "; set CRM_SOURCE_DIR to the repository root"));
}

// Single-quotes `s` for /bin/sh.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

absl::Status MakeTestGeoIpDatabase(const std::string& out_path) {
  absl::StatusOr<std::string> generator = FindGenerator();
  if (!generator.ok()) return generator.status();
  const std::string command =
      absl::StrCat("perl ", ShellQuote(*generator), " ", ShellQuote(out_path),
                   " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return absl::InternalError(absl::StrCat("cannot run: ", command));
  }
  std::string output;
  std::array<char, 512> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    output.append(buf.data(), n);
  }
  const int status = pclose(pipe);
  if (status != 0 || !IsFile(out_path)) {
    return absl::InternalError(absl::StrCat(
        "'", command, "' failed (status ", status, "): ", output,
        " (is libmaxmind-db-writer-perl installed?)"));
  }
  return absl::OkStatus();
}

const std::string& SharedTestGeoIpPath() {
  static const std::string* const path = [] {
    char dir_template[] = "/tmp/crm-test-geoip-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (dir == nullptr) {
      ADD_FAILURE() << "mkdtemp for the test GeoIP database failed";
      return new std::string();
    }
    static std::string dir_path = dir;
    static std::string file_path = dir_path + "/test-geoip.mmdb";
    absl::Status s = MakeTestGeoIpDatabase(file_path);
    std::atexit([] {
      unlink(file_path.c_str());
      rmdir(dir_path.c_str());
    });
    if (!s.ok()) {
      ADD_FAILURE() << "test GeoIP database: " << s;
      return new std::string();
    }
    return new std::string(file_path);
  }();
  return *path;
}

}  // namespace crm::testing
