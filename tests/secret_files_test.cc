// The server refuses to start when its TLS private key or page token secret
// is accessible to group or others (server/secret_files.h), unless
// allow_insecure_key_permissions says so; it starts with mode 0600.
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "crm/v1/diagnostics.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/test_server.h"

namespace crm::testing {
namespace {

using ::testing::HasSubstr;

class SecretFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("secret-files");
    key_ = dir_ + "/server.key";
    secret_ = dir_ + "/page-token.secret";
    std::ofstream(key_) << ReadFileOrDie(SharedTestCerts().server_key);
    std::ofstream(secret_) << std::string(48, 's');
    SetMode(key_, 0600);
    SetMode(secret_, 0600);
  }
  void TearDown() override { RemoveTempDir(dir_); }

  static void SetMode(const std::string& path, mode_t mode) {
    ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
  }

  absl::StatusOr<std::unique_ptr<TestServer>> Start(bool allow = false) {
    TestServerOptions options;
    options.customize = [this, allow](crm::internal::ServerConfig& c) {
      c.mutable_tls()->set_key_file(key_);
      c.set_page_token_secret_file(secret_);
      c.set_allow_insecure_key_permissions(allow);
    };
    return TestServer::Start(options);
  }

  // The server answers a call.
  static void ExpectServes(TestServer& server) {
    auto client = server.Client("admin-cli");
    auto context = client->NewContext();
    crm::v1::EchoResponse response;
    grpc::Status s = client->diagnostics().Echo(
        context.get(), crm::v1::EchoRequest(), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  std::string dir_, key_, secret_;
};

TEST_F(SecretFilesTest, PrivateFilesStart) {
  auto server = Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ExpectServes(**server);
}

TEST_F(SecretFilesTest, FilesOthersMayReadAreRefused) {
  struct Case {
    const char* field;
    std::string* path;
    mode_t mode;
    const char* shown;
  };
  const Case cases[] = {
      {"tls.key_file", &key_, 0644, "0644"},
      {"tls.key_file", &key_, 0640, "0640"},
      {"tls.key_file", &key_, 0604, "0604"},
      {"tls.key_file", &key_, 0620, "0620"},  // group may replace it
      {"page_token_secret_file", &secret_, 0644, "0644"},
      {"page_token_secret_file", &secret_, 0440, "0440"},
  };
  for (const Case& c : cases) {
    SetMode(key_, 0600);
    SetMode(secret_, 0600);
    SetMode(*c.path, c.mode);
    auto server = Start();
    ASSERT_FALSE(server.ok()) << c.field << " " << c.shown << " started";
    EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition)
        << server.status();
    for (const std::string& part :
         {std::string(c.field), *c.path, std::string(c.shown),
          "chmod 600 " + *c.path}) {
      EXPECT_THAT(server.status().message(), HasSubstr(part))
          << c.field << " " << c.shown;
    }
  }
}

TEST_F(SecretFilesTest, OwnerOnlyModesStart) {
  for (mode_t mode : {0400, 0600, 0700}) {
    SetMode(key_, mode);
    SetMode(secret_, mode);
    auto server = Start();
    ASSERT_TRUE(server.ok()) << std::oct << mode << ": " << server.status();
  }
}

TEST_F(SecretFilesTest, TheExplicitFlagStartsAnyway) {
  SetMode(key_, 0644);
  SetMode(secret_, 0644);
  auto server = Start(/*allow=*/true);
  ASSERT_TRUE(server.ok()) << server.status();
  ExpectServes(**server);
}

}  // namespace
}  // namespace crm::testing
