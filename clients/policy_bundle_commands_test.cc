// crmctl policy validate without a server, and which files of a folder make
// up a bundle. (Export needs a server: tests/policy_bundle_cli_test.cc.)
#include "clients/policy_bundle_commands.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "clients/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::client {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PolicyBundleFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crm-bundle-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& relative, const std::string& text) {
    fs::create_directories((dir_ / relative).parent_path());
    std::ofstream(dir_ / relative) << text;
  }

  int Validate(std::string* out, std::string* err) {
    CliDeps deps;
    deps.env = [](const std::string&) -> std::optional<std::string> {
      return std::nullopt;
    };
    deps.connect =
        [](const GlobalOptions&) -> absl::StatusOr<std::unique_ptr<CrmClient>> {
      return absl::InternalError("validate must not connect");
    };
    std::ostringstream o, e;
    int code = RunCli({"policy", "validate", dir_.string()}, o, e, deps);
    *out = o.str();
    *err = e.str();
    return code;
  }

  fs::path dir_;
};

TEST_F(PolicyBundleFolder, HiddenAndTopLevelFilesAreNotPartOfIt) {
  Write("roles/ceo.textproto", "display_name: \"CEO\"\n");
  Write("README.md", "notes\n");
  Write(".git/config", "[core]\n");
  Write("roles/.ceo.textproto.swp", "junk");
  auto files = ReadBundleDirectory(dir_.string());
  ASSERT_TRUE(files.ok()) << files.status();
  std::vector<std::string> paths;
  for (const auto& [path, text] : *files) paths.push_back(path);
  EXPECT_THAT(paths, ElementsAre("roles/ceo.textproto"));

  EXPECT_FALSE(ReadBundleDirectory((dir_ / "nope").string()).ok());
}

TEST_F(PolicyBundleFolder, ValidateNeedsNoServer) {
  Write("roles/ceo.textproto", "display_name: \"CEO\"\n");
  Write("roles/vp.textproto", "parent: \"roles/ceo\"\n");
  std::string out, err;
  EXPECT_EQ(Validate(&out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("2 objects; the policy compiles"));
}

TEST_F(PolicyBundleFolder, ValidateListsEveryErrorAndFails) {
  Write("roles/vp.textproto", "parent: \"roles/ceo\"\n");
  Write("groups/g.textproto", "members { role: \"roles/x\" }\n");
  std::string out, err;
  EXPECT_EQ(Validate(&out, &err), kExitUsage);
  const std::string d = dir_.string() + "/";
  EXPECT_THAT(err, HasSubstr(d + "roles/vp.textproto:1:1: parent: "));
  EXPECT_THAT(err, HasSubstr(d + "groups/g.textproto:1:1: members[0]: "));
  EXPECT_THAT(err, HasSubstr("policy validate: 2 errors in "));
}

}  // namespace
}  // namespace crm::client
