// The master key file: what LoadMasterKey accepts and refuses (with
// messages a person can act on and no key material), and that
// GenerateMasterKeyFile makes a private file and never overwrites one.
#include "crypto/master_key.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::crypto {
namespace {

using ::testing::HasSubstr;

constexpr char kHex[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

class MasterKeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/crm-master-key-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  // Writes `content` to a new file with `mode`; returns its path.
  std::string Write(const std::string& name, const std::string& content,
                    mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string dir_;
};

TEST_F(MasterKeyFile, LoadsHexWithOrWithoutNewline) {
  for (const std::string& content :
       {std::string(kHex), std::string(kHex) + "\n", std::string(kHex) + "\r\n",
        absl::AsciiStrToUpper(kHex) + "\n"}) {
    absl::StatusOr<MasterKey> key = LoadMasterKey(Write("k", content));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                  reinterpret_cast<const char*>(key->key().data()), 32)),
              kHex);
  }
}

TEST_F(MasterKeyFile, IdIsTheStartOfSha256OfTheKey) {
  absl::StatusOr<MasterKey> key = LoadMasterKey(Write("k", kHex));
  ASSERT_TRUE(key.ok()) << key.status();
  // python3 -c "import hashlib; print(hashlib.sha256(bytes.fromhex(
  //   '00112233445566778899aabbccddeeff' * 2)).hexdigest()[:16])"
  EXPECT_EQ(key->id(), "4773d12e2371bb93");
}

TEST_F(MasterKeyFile, RefusesAFileGroupOrOthersCanAccess) {
  for (mode_t mode : {0644, 0640, 0604, 0620, 0601, 0660}) {
    const std::string path = Write("k", kHex, mode);
    absl::StatusOr<MasterKey> key = LoadMasterKey(path);
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(key.status().message()),
                HasSubstr("chmod 600 " + path));
    char text[8];
    snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode));
    EXPECT_THAT(std::string(key.status().message()), HasSubstr(text));
  }
  EXPECT_TRUE(LoadMasterKey(Write("k", kHex, 0400)).ok());
}

TEST_F(MasterKeyFile, RefusesAWrongLengthOrEncodingWithoutEchoingIt) {
  const std::string cases[] = {
      "",
      std::string(kHex).substr(0, 62),
      std::string(kHex) + "00",
      std::string(kHex).substr(0, 32) + "\n" + std::string(kHex).substr(32),
      absl::Base64Escape(absl::HexStringToBytes(kHex)),  // 44 characters
      std::string(kHex).substr(0, 63) + "g",
      std::string(1000, 'a'),
  };
  for (const std::string& content : cases) {
    absl::StatusOr<MasterKey> key = LoadMasterKey(Write("k", content));
    ASSERT_FALSE(key.ok()) << content;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(key.status().message());
    EXPECT_THAT(message, HasSubstr("64 hex characters")) << message;
    EXPECT_THAT(message, HasSubstr("openssl rand -hex 32")) << message;
    if (content.size() >= 16) {
      EXPECT_FALSE(absl::StrContains(message, content.substr(0, 16)))
          << "key material in: " << message;
    }
  }
  absl::StatusOr<MasterKey> base64 = LoadMasterKey(
      Write("k", absl::Base64Escape(absl::HexStringToBytes(kHex))));
  EXPECT_THAT(std::string(base64.status().message()),
              HasSubstr("looks like base64"));
}

TEST_F(MasterKeyFile, MissingFileSaysHowToMakeOne) {
  absl::StatusOr<MasterKey> key = LoadMasterKey(dir_ + "/absent");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(key.status().message()),
              HasSubstr("openssl rand -hex 32"));
  EXPECT_EQ(LoadMasterKey(dir_).status().code(),
            absl::StatusCode::kFailedPrecondition);  // a directory
}

TEST_F(MasterKeyFile, GeneratedFileIsPrivateLoadsAndIsNeverOverwritten) {
  // A umask that takes the owner's write bit away from 0600: the file must
  // still end up 0600 (and the key be written).
  const mode_t old_umask = umask(0277);
  const std::string path = dir_ + "/master.key";
  absl::StatusOr<MasterKey> made = GenerateMasterKeyFile(path);
  umask(old_umask);
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 65);  // 64 hex characters and a newline

  absl::StatusOr<MasterKey> loaded = LoadMasterKey(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->key() == made->key());
  EXPECT_EQ(loaded->id(), made->id());
  EXPECT_EQ(made->id().size(), 16u);

  absl::StatusOr<MasterKey> again = GenerateMasterKeyFile(path);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<MasterKey> still = LoadMasterKey(path);
  ASSERT_TRUE(still.ok());
  EXPECT_TRUE(still->key() == made->key());  // untouched

  // Not through a symbolic link either, even a dangling one.
  const std::string link = dir_ + "/link.key";
  ASSERT_EQ(symlink((dir_ + "/nowhere").c_str(), link.c_str()), 0);
  EXPECT_EQ(GenerateMasterKeyFile(link).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_NE(access((dir_ + "/nowhere").c_str(), F_OK), 0);
}

TEST(MasterKey, GeneratedKeysDifferAndIdsFollowTheKey) {
  absl::StatusOr<MasterKey> a = MasterKey::Generate();
  absl::StatusOr<MasterKey> b = MasterKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(a->key() == b->key());
  EXPECT_NE(a->id(), b->id());
  EXPECT_EQ(MasterKey(a->key()).id(), a->id());
}

}  // namespace
}  // namespace crm::crypto
