// Wrapping data keys under the master key: a round trip, and failing
// closed, with the key ids named, on every mismatch.
#include "crypto/data_key.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

MasterKey NewMaster() { return *MasterKey::Generate(); }

TEST(DataKey, GeneratedIdsAreShortAndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    absl::StatusOr<DataKey> key = DataKey::Generate();
    ASSERT_TRUE(key.ok());
    EXPECT_THAT(key->id, MatchesRegex("dk[0-9a-f]{12}"));
    EXPECT_TRUE(IsValidKeyId(key->id));
    ids.insert(key->id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(DataKey, ValidIds) {
  EXPECT_TRUE(IsValidKeyId("dk0123456789ab"));
  EXPECT_TRUE(IsValidKeyId("legacy_key-2"));
  EXPECT_FALSE(IsValidKeyId(""));
  EXPECT_FALSE(IsValidKeyId("dk:1"));
  EXPECT_FALSE(IsValidKeyId("dk 1"));
  EXPECT_FALSE(IsValidKeyId("dk.1"));
  EXPECT_FALSE(IsValidKeyId(std::string(33, 'a')));
}

TEST(DataKey, WrapUnwrapRoundTrip) {
  const MasterKey master = NewMaster();
  const DataKey key = *DataKey::Generate();
  absl::StatusOr<std::string> wrapped = WrapDataKey(master, key);
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_TRUE(absl::StartsWith(*wrapped, "wk:v1:" + master.id() + ":"));
  // No key bytes in the clear: the hex or raw key is nowhere in the text.
  EXPECT_FALSE(absl::StrContains(
      *wrapped,
      absl::string_view(reinterpret_cast<const char*>(key.key.data()), 32)));

  absl::StatusOr<DataKey> back = UnwrapDataKey(master, key.id, *wrapped);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, key.id);
  EXPECT_TRUE(back->key == key.key);

  // Wrapping is randomised: the same key twice gives two texts.
  EXPECT_NE(*WrapDataKey(master, key), *wrapped);
}

TEST(DataKey, WrongMasterKeyIsNamedByIdBeforeDecrypting) {
  const MasterKey master = NewMaster();
  const MasterKey other = NewMaster();
  const DataKey key = *DataKey::Generate();
  const std::string wrapped = *WrapDataKey(master, key);
  absl::StatusOr<DataKey> back = UnwrapDataKey(other, key.id, wrapped);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(back.status().message());
  EXPECT_THAT(message, HasSubstr(key.id));
  EXPECT_THAT(message, HasSubstr(master.id()));
  EXPECT_THAT(message, HasSubstr(other.id()));
}

TEST(DataKey, WrongMasterKeyUnderTheRightIdDoesNotAuthenticate) {
  // Someone edits the stored master key id to match the loaded key: the
  // AAD and the key both differ, so the tag fails.
  const MasterKey master = NewMaster();
  const MasterKey other = NewMaster();
  const DataKey key = *DataKey::Generate();
  std::string wrapped = *WrapDataKey(master, key);
  wrapped.replace(6, 16, other.id());
  absl::StatusOr<DataKey> back = UnwrapDataKey(other, key.id, wrapped);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(back.status().message()), HasSubstr(key.id));
  EXPECT_THAT(std::string(back.status().message()), HasSubstr(other.id()));
}

TEST(DataKey, WrappedKeyStoredUnderAnotherIdFails) {
  const MasterKey master = NewMaster();
  const DataKey key = *DataKey::Generate();
  const std::string wrapped = *WrapDataKey(master, key);
  absl::StatusOr<DataKey> back =
      UnwrapDataKey(master, "dk000000000000", wrapped);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(back.status().message()),
              HasSubstr("dk000000000000"));
}

TEST(DataKey, EveryChangedCharacterOfTheWrappedKeyFails) {
  const MasterKey master = NewMaster();
  const DataKey key = *DataKey::Generate();
  const std::string wrapped = *WrapDataKey(master, key);
  for (size_t i = 0; i < wrapped.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = wrapped;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      absl::StatusOr<DataKey> back = UnwrapDataKey(master, key.id, changed);
      EXPECT_FALSE(back.ok()) << "byte " << i << " bit " << bit;
    }
  }
  for (size_t n = 0; n < wrapped.size(); ++n) {
    EXPECT_FALSE(UnwrapDataKey(master, key.id, wrapped.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(UnwrapDataKey(master, key.id, wrapped + "A").ok());
  EXPECT_EQ(UnwrapDataKey(master, "bad:id", wrapped).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::crypto
