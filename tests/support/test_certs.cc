#include "tests/support/test_certs.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace crm::testing {
namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ShellQuote(std::string_view s) {
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

void RemoveTempDir(const std::string& dir) {
  if (dir.size() < 6) return;  // never "/" or similar
  const std::string command = absl::StrCat("rm -rf ", ShellQuote(dir));
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "cannot remove %s\n", dir.c_str());
  }
}

namespace {

// Runs a script from certs/ with arguments; on failure returns its output.
absl::Status RunCertScript(std::string_view script,
                           const std::vector<std::string>& args) {
  const std::string source = SourceDir();
  if (source.empty()) {
    return absl::FailedPreconditionError(
        "cannot find the repository: set CRM_SOURCE_DIR or run from inside it");
  }
  const std::string log_dir = MakeTempDir("certlog");
  const std::string log = log_dir + "/out.txt";
  std::string command = absl::StrCat(
      ShellQuote(absl::StrCat(source, "/certs/", std::string(script))));
  for (const std::string& arg : args) {
    absl::StrAppend(&command, " ", ShellQuote(arg));
  }
  absl::StrAppend(&command, " >", ShellQuote(log), " 2>&1");
  const int rc = std::system(command.c_str());
  std::stringstream output;
  output << std::ifstream(log).rdbuf();
  RemoveTempDir(log_dir);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat(command, " failed (status ", rc, "): ", output.str()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TestCerts::ClientCert(std::string_view name) const {
  return absl::StrCat(dir, "/", std::string(name), ".pem");
}

std::string TestCerts::ClientKey(std::string_view name) const {
  return absl::StrCat(dir, "/", std::string(name), ".key");
}

std::string TestCerts::Identity(std::string_view name) {
  return absl::StrCat("spiffe://crm.local/svc/", std::string(name));
}

std::string SourceDir() {
  if (const char* env = std::getenv("CRM_SOURCE_DIR"); env && *env) {
    return env;
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return "";
  std::string dir = cwd;
  while (!dir.empty()) {
    if (IsFile(dir + "/certs/make-test-certs.sh")) return dir;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos || dir == "/") break;
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return "";
}

std::string MakeTempDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/crm-",
                                     std::string(prefix), "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", pattern.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  return pattern;
}

absl::StatusOr<TestCerts> MakeTestCerts(const std::string& dir) {
  if (absl::Status s = RunCertScript("make-test-certs.sh", {dir}); !s.ok()) {
    return s;
  }
  TestCerts certs;
  certs.dir = dir;
  certs.ca = dir + "/ca.pem";
  certs.server_cert = dir + "/server.pem";
  certs.server_key = dir + "/server.key";
  certs.crl_dir = dir + "/crl";
  certs.other_ca = dir + "/other-ca.pem";
  for (const std::string* path :
       {&certs.ca, &certs.server_cert, &certs.server_key, &certs.other_ca}) {
    if (!IsFile(*path)) {
      return absl::InternalError(
          absl::StrCat("make-test-certs.sh did not create ", *path));
    }
  }
  return certs;
}

const TestCerts& SharedTestCerts() {
  static const TestCerts* const kCerts = [] {
    absl::StatusOr<TestCerts> certs = MakeTestCerts(MakeTempDir("certs"));
    if (!certs.ok()) {
      std::fprintf(stderr, "SharedTestCerts: %s\n",
                   certs.status().ToString().c_str());
      std::abort();
    }
    auto* shared = new TestCerts(*std::move(certs));
    // Leave nothing behind in the temp directory.
    std::atexit([] { RemoveTempDir(SharedTestCerts().dir); });
    return shared;
  }();
  return *kCerts;
}

absl::Status RevokeTestCert(const TestCerts& certs, std::string_view name) {
  return RunCertScript("revoke.sh", {certs.dir, std::string(name)});
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ReadFileOrDie: cannot open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace crm::testing
