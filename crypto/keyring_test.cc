// Field values through the keyring: round trips of any bytes, and an
// error (never garbage, never plaintext in the message) for another AAD,
// any flipped bit, a truncated value, an unknown or swapped key id; and
// rotation.
#include "crypto/keyring.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crm::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const std::string kAad = FieldAad("contacts", "personal_phone", "c42");

Keyring NewKeyring() { return *Keyring::Generate(); }

TEST(Keyring, RoundTripsAnyBytes) {
  const Keyring keyring = NewKeyring();
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  std::string large(64 * 1024, '\0');
  for (size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<char>(i * 131 + i / 256);
  }
  const std::vector<std::string> plaintexts = {"",
                                               "x",
                                               std::string(1, '\0'),
                                               "+44 20 7946 0958",
                                               std::string("a\0b", 3),
                                               binary,
                                               large};
  for (const std::string& plaintext : plaintexts) {
    absl::StatusOr<std::string> value = keyring.Encrypt(plaintext, kAad);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_TRUE(IsEncrypted(*value));
    EXPECT_THAT(value->substr(0, 30),
                MatchesRegex("enc:v1:dk[0-9a-f]{12}:[A-Za-z0-9_-]+"));
    absl::StatusOr<std::string> back = keyring.Decrypt(*value, kAad);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plaintext) << plaintext.size();
  }
}

TEST(Keyring, ValueSizeIsHeaderAndBase64OfNonceTextAndTag) {
  const Keyring keyring = NewKeyring();
  // 7 + 14 + 1 header characters, base64url of 12 + 16 + 16 bytes.
  EXPECT_EQ(keyring.Encrypt("+44 20 7946 0958", kAad)->size(), 81u);
  EXPECT_EQ(keyring.Encrypt("", kAad)->size(), 22u + 38u);
}

TEST(Keyring, SamePlaintextEncryptsDifferently) {
  const Keyring keyring = NewKeyring();
  const std::string a = *keyring.Encrypt("+44 20 7946 0958", kAad);
  const std::string b = *keyring.Encrypt("+44 20 7946 0958", kAad);
  EXPECT_NE(a, b);
  EXPECT_NE(a.substr(22, 16), b.substr(22, 16));  // the nonces
}

TEST(Keyring, AnotherAadFails) {
  const Keyring keyring = NewKeyring();
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  const std::string others[] = {
      FieldAad("contacts", "personal_phone", "c43"),  // another record
      FieldAad("contacts", "mobile_phone", "c42"),    // another field
      FieldAad("leads", "personal_phone", "c42"),     // another collection
      "", kAad + " "};
  for (const std::string& aad : others) {
    absl::StatusOr<std::string> back = keyring.Decrypt(value, aad);
    ASSERT_FALSE(back.ok()) << aad;
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss) << aad;
  }
  absl::StatusOr<std::string> back =
      keyring.Decrypt(value, FieldAad("contacts", "personal_phone", "c43"));
  const std::string message(back.status().message());
  EXPECT_THAT(message, HasSubstr("contacts.personal_phone"));
  EXPECT_THAT(message, HasSubstr(keyring.current_key_id()));
  EXPECT_FALSE(absl::StrContains(message, "c43")) << message;
  EXPECT_FALSE(absl::StrContains(message, "7946")) << message;
  EXPECT_FALSE(absl::StrContains(message, value.substr(22, 10))) << message;
}

TEST(Keyring, EveryFlippedBitFails) {
  const Keyring keyring = NewKeyring();
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  int failures = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = value;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      absl::StatusOr<std::string> back = keyring.Decrypt(changed, kAad);
      EXPECT_FALSE(back.ok()) << "character " << i << " bit " << bit;
      if (!back.ok()) {
        ++failures;
        EXPECT_FALSE(absl::StrContains(back.status().message(), "7946"));
      }
    }
  }
  EXPECT_EQ(failures, static_cast<int>(value.size() * 8));
}

TEST(Keyring, EveryFlippedBitOfTheBinaryPayloadFails) {
  // The same on the bytes under the base64url text: nonce, ciphertext and
  // tag each re-encoded canonically, so only the AEAD can refuse them.
  const Keyring keyring = NewKeyring();
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  const std::string header = value.substr(0, 22);
  std::string payload;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(value.substr(22), &payload));
  ASSERT_EQ(payload.size(), 12u + 16u + 16u);
  for (size_t i = 0; i < payload.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string changed = payload;
      changed[i] = static_cast<char>(changed[i] ^ (1 << bit));
      absl::StatusOr<std::string> back =
          keyring.Decrypt(header + absl::WebSafeBase64Escape(changed), kAad);
      ASSERT_FALSE(back.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(Keyring, TruncatedOrExtendedValueFails) {
  const Keyring keyring = NewKeyring();
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(keyring.Decrypt(value.substr(0, n), kAad).ok()) << n;
  }
  EXPECT_FALSE(keyring.Decrypt(value + "A", kAad).ok());
  EXPECT_FALSE(keyring.Decrypt(value + "AAAA", kAad).ok());
  EXPECT_EQ(keyring.Decrypt(value.substr(0, 50), kAad).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(Keyring, PlaintextIsNotAnEncryptedValue) {
  const Keyring keyring = NewKeyring();
  EXPECT_FALSE(IsEncrypted("+44 20 7946 0958"));
  EXPECT_FALSE(IsEncrypted(""));
  EXPECT_FALSE(IsEncrypted("enc:v1:dk1:short"));
  absl::StatusOr<std::string> back = keyring.Decrypt("+44 20 7946 0958", kAad);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(back.status().message(), "7946"));
}

TEST(Keyring, UnknownKeyIdFailsNamingIt) {
  const Keyring writer = NewKeyring();
  const Keyring reader = NewKeyring();
  const std::string value = *writer.Encrypt("+44 20 7946 0958", kAad);
  absl::StatusOr<std::string> back = reader.Decrypt(value, kAad);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(back.status().message()),
              HasSubstr(writer.current_key_id()));
}

TEST(Keyring, SwappedKeyIdFails) {
  // Both keys are in the keyring: the value names the other one.
  const Keyring old_ring = NewKeyring();
  const Keyring keyring = *old_ring.WithNewCurrentKey();
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  const std::string swapped =
      absl::StrCat("enc:v1:", old_ring.current_key_id(), value.substr(21));
  ASSERT_EQ(swapped.size(), value.size());
  absl::StatusOr<std::string> back = keyring.Decrypt(swapped, kAad);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
}

TEST(Keyring, KeyIdIsAuthenticated) {
  // Two ids for the same key bytes: renaming the id in a value still fails,
  // because the header "enc:v1:<key id>:" is part of the GCM AAD.
  DataKey a = *DataKey::Generate();
  DataKey b = a;
  b.id = "dk000000000000";
  const Keyring keyring = *Keyring::Create({a, b}, a.id);
  const std::string value = *keyring.Encrypt("+44 20 7946 0958", kAad);
  const std::string renamed = "enc:v1:" + b.id + value.substr(21);
  absl::StatusOr<std::string> back = keyring.Decrypt(renamed, kAad);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(*keyring.Decrypt(value, kAad), "+44 20 7946 0958");
}

TEST(Keyring, CreateChecksItsKeys) {
  const DataKey a = *DataKey::Generate();
  const DataKey b = *DataKey::Generate();
  EXPECT_TRUE(Keyring::Create({a, b}, b.id).ok());
  EXPECT_EQ(Keyring::Create({a, b}, "dk000000000000").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keyring::Create({a, a}, a.id).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Keyring::Create({}, a.id).status().code(),
            absl::StatusCode::kInvalidArgument);
  DataKey bad = a;
  bad.id = "has:colon";
  EXPECT_EQ(Keyring::Create({bad}, bad.id).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Keyring, UnwrapsStoredKeys) {
  const MasterKey master = *MasterKey::Generate();
  const DataKey a = *DataKey::Generate();
  const DataKey b = *DataKey::Generate();
  const std::vector<WrappedDataKey> stored = {{a.id, *WrapDataKey(master, a)},
                                              {b.id, *WrapDataKey(master, b)}};
  absl::StatusOr<Keyring> keyring = Keyring::Unwrap(master, stored, b.id);
  ASSERT_TRUE(keyring.ok()) << keyring.status();
  EXPECT_EQ(keyring->current_key_id(), b.id);
  const std::string value = *keyring->Encrypt("x", kAad);
  EXPECT_EQ(*Keyring::Create({b}, b.id)->Decrypt(value, kAad), "x");

  const MasterKey other = *MasterKey::Generate();
  EXPECT_EQ(Keyring::Unwrap(other, stored, b.id).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(Keyring, RotationKeepsOldValuesReadable) {
  const Keyring old_ring = NewKeyring();
  const std::string old_value = *old_ring.Encrypt("+44 20 7946 0958", kAad);
  EXPECT_FALSE(old_ring.NeedsReencryption(old_value));

  absl::StatusOr<Keyring> rotated = old_ring.WithNewCurrentKey();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_NE(rotated->current_key_id(), old_ring.current_key_id());
  EXPECT_TRUE(rotated->HasKey(old_ring.current_key_id()));
  EXPECT_EQ(rotated->key_ids().size(), 2u);
  EXPECT_EQ(old_ring.key_ids().size(), 1u);  // the original is unchanged

  EXPECT_EQ(*rotated->Decrypt(old_value, kAad), "+44 20 7946 0958");
  EXPECT_TRUE(rotated->NeedsReencryption(old_value));
  EXPECT_EQ(EncryptedKeyId(old_value), old_ring.current_key_id());

  // What the store's batch job does: decrypt, encrypt under the current key.
  const std::string new_value =
      *rotated->Encrypt(*rotated->Decrypt(old_value, kAad), kAad);
  EXPECT_FALSE(rotated->NeedsReencryption(new_value));
  EXPECT_EQ(EncryptedKeyId(new_value), rotated->current_key_id());
  EXPECT_EQ(*rotated->Decrypt(new_value, kAad), "+44 20 7946 0958");
  // The old keyring cannot read what the new key wrote.
  EXPECT_EQ(old_ring.Decrypt(new_value, kAad).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A plaintext value (a field newly marked sensitive) needs encrypting.
  EXPECT_TRUE(rotated->NeedsReencryption("+44 20 7946 0958"));

  // A given key: refused if already present.
  EXPECT_EQ(rotated->WithCurrentKey(old_ring.current_key()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crm::crypto
