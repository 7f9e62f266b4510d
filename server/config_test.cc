#include "server/config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_certs.h"

namespace crm::server {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& text) {
  std::string dir = crm::testing::MakeTempDir("config-test");
  std::string path = dir + "/server.textproto";
  std::ofstream(path) << text;
  return path;
}

TEST(Config, ParsesTheDevConfig) {
  auto config = LoadConfigFile(crm::testing::SourceDir() + "/server/dev.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->database(), "sqlite:var/dev/crm.db");
  EXPECT_GE(config->services_size(), 5);
  EXPECT_TRUE(FinalizeConfig(&*config).ok());
}

TEST(Config, SyntaxErrorsNameFileLineAndColumn) {
  std::string path = WriteTemp("listen_address: \"x\"\nno_such_field: 1\n");
  auto config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr(path + ":2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("no_such_field"));
}

TEST(Config, MissingFileIsNotFound) {
  auto config = LoadConfigFile("/nonexistent/server.textproto");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

TEST(Config, FinalizeFillsDefaultsAndRequiresTlsAndServices) {
  crm::internal::ServerConfig config;
  absl::Status s = FinalizeConfig(&config);
  EXPECT_THAT(s.message(), HasSubstr("tls.ca_file"));
  config.mutable_tls()->set_ca_file("ca.pem");
  config.mutable_tls()->set_cert_file("server.pem");
  config.mutable_tls()->set_key_file("server.key");
  s = FinalizeConfig(&config);
  EXPECT_THAT(s.message(), HasSubstr("no services are registered"));
  config.add_services()->set_name("svc");
  ASSERT_TRUE(FinalizeConfig(&config).ok());
  EXPECT_EQ(config.database(), "sqlite:var/crm.db");
  EXPECT_EQ(config.listen_address(), "127.0.0.1:8443");
  EXPECT_EQ(config.limits().max_request_bytes(), 1u << 20);
  EXPECT_EQ(config.tls().refresh_interval_seconds(), 10u);
  config.set_log_level("verbose");
  EXPECT_THAT(FinalizeConfig(&config).message(), HasSubstr("log_level"));
}

}  // namespace
}  // namespace crm::server
