// Blind indexes: deterministic per field, unrelated across fields and
// across master keys, and the HKDF derivation pinned by a known answer.
#include "crypto/blind_index.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::crypto {
namespace {

using ::testing::MatchesRegex;

MasterKey FixedMaster() {
  return MasterKey(*KeyBytes::FromBytes(absl::HexStringToBytes(
      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")));
}

TEST(BlindIndex, DeterministicPerField) {
  const MasterKey master = *MasterKey::Generate();
  const KeyBytes email = *DeriveBlindIndexKey(master, "contacts.email");
  const KeyBytes again = *DeriveBlindIndexKey(master, "contacts.email");
  EXPECT_TRUE(email == again);
  const std::string index = BlindIndex(email, "ada@example.com");
  EXPECT_THAT(index, MatchesRegex("[0-9a-f]{32}"));
  EXPECT_EQ(BlindIndex(again, "ada@example.com"), index);
  EXPECT_NE(BlindIndex(email, "ada@example.org"), index);
  EXPECT_NE(BlindIndex(email, "Ada@example.com"), index);  // caller normalises
  EXPECT_NE(BlindIndex(email, ""), BlindIndex(email, std::string(1, '\0')));
}

TEST(BlindIndex, DiffersAcrossFieldsAndMasterKeys) {
  const MasterKey master = *MasterKey::Generate();
  const MasterKey other = *MasterKey::Generate();
  const KeyBytes email = *DeriveBlindIndexKey(master, "contacts.email");
  const KeyBytes lead_email = *DeriveBlindIndexKey(master, "leads.email");
  const KeyBytes other_email = *DeriveBlindIndexKey(other, "contacts.email");
  EXPECT_FALSE(email == lead_email);
  EXPECT_FALSE(email == other_email);
  const std::string value = "ada@example.com";
  EXPECT_NE(BlindIndex(email, value), BlindIndex(lead_email, value));
  EXPECT_NE(BlindIndex(email, value), BlindIndex(other_email, value));
  EXPECT_FALSE(DeriveBlindIndexKey(master, "").ok());
}

TEST(BlindIndex, KnownAnswer) {
  // Computed independently with Python's hmac and cryptography's HKDF:
  //   k = HKDF(SHA256, 32, salt=None, info=b"blind-index:contacts.email")
  //         .derive(bytes.fromhex("00112233445566778899aabbccddeeff" * 2))
  //   hmac.new(k, b"ada@example.com", sha256).hexdigest()[:32]
  const KeyBytes key = *DeriveBlindIndexKey(FixedMaster(), "contacts.email");
  EXPECT_EQ(absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(key.data()), key.size())),
            "11e7d5f8eff98ee201287d1f601e2089f15d5d275ff9c29b5cc0b203f5418fda");
  EXPECT_EQ(BlindIndex(key, "ada@example.com"),
            "7441b6112ff9da693ffdd0819543919f");
}

}  // namespace
}  // namespace crm::crypto
