// The OpenSSL wiring against published known answers, so a mistake in how
// EVP is driven (AAD order, tag handling, an empty message) shows even
// where a round trip would still succeed: AES-256-GCM test cases 13, 14
// and 16 of McGrew and Viega's GCM specification (the NIST submission;
// also in OpenSSL's evpciph tests), HKDF test case 1 of RFC 5869, HMAC
// test case 2 of RFC 4231. The vectors were also checked with Python's
// `cryptography` package. And the strictness of base64url decoding.
#include "crypto/primitives.h"

#include <string>

#include "absl/strings/escaping.h"
#include "crypto/base64url.h"
#include "gtest/gtest.h"

namespace crm::crypto {
namespace {

std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

KeyBytes Key(absl::string_view hex) {
  return *KeyBytes::FromBytes(absl::HexStringToBytes(hex));
}

struct GcmVector {
  const char* name;
  const char* key;
  const char* nonce;
  const char* plaintext;
  const char* aad;
  const char* ciphertext;
  const char* tag;
};

const GcmVector kGcmVectors[] = {
    {"test case 13: empty",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"test case 14: one block",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"test case 16: 60 bytes with AAD",
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcm, SealsThePublishedVectors) {
  for (const GcmVector& v : kGcmVectors) {
    std::string out = "prefix";  // Seal appends
    ASSERT_TRUE(AesGcmSeal(Key(v.key), absl::HexStringToBytes(v.nonce),
                           absl::HexStringToBytes(v.plaintext),
                           {absl::HexStringToBytes(v.aad)}, &out)
                    .ok())
        << v.name;
    EXPECT_EQ(Hex(out), Hex("prefix") + v.ciphertext + v.tag) << v.name;
  }
}

TEST(AesGcm, OpensThePublishedVectors) {
  for (const GcmVector& v : kGcmVectors) {
    const std::string sealed =
        absl::HexStringToBytes(std::string(v.ciphertext) + v.tag);
    std::string plaintext = "junk";
    ASSERT_TRUE(AesGcmOpen(Key(v.key), absl::HexStringToBytes(v.nonce), sealed,
                           {absl::HexStringToBytes(v.aad)}, &plaintext))
        << v.name;
    EXPECT_EQ(Hex(plaintext), v.plaintext) << v.name;
  }
}

TEST(AesGcm, AadPiecesAreConcatenated) {
  const GcmVector& v = kGcmVectors[2];
  const std::string aad = absl::HexStringToBytes(v.aad);
  std::string out;
  ASSERT_TRUE(AesGcmSeal(Key(v.key), absl::HexStringToBytes(v.nonce),
                         absl::HexStringToBytes(v.plaintext),
                         {absl::string_view(aad).substr(0, 7), "",
                          absl::string_view(aad).substr(7)},
                         &out)
                  .ok());
  EXPECT_EQ(Hex(out), std::string(v.ciphertext) + v.tag);
}

TEST(AesGcm, RefusesEveryChangedByteAndWrongInputs) {
  const GcmVector& v = kGcmVectors[2];
  const KeyBytes key = Key(v.key);
  const std::string nonce = absl::HexStringToBytes(v.nonce);
  const std::string aad = absl::HexStringToBytes(v.aad);
  const std::string sealed =
      absl::HexStringToBytes(std::string(v.ciphertext) + v.tag);
  std::string out;
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string changed = sealed;
    changed[i] ^= 0x01;
    EXPECT_FALSE(AesGcmOpen(key, nonce, changed, {aad}, &out)) << i;
    EXPECT_TRUE(out.empty());
  }
  std::string other_nonce = nonce;
  other_nonce[0] ^= 0x80;
  EXPECT_FALSE(AesGcmOpen(key, other_nonce, sealed, {aad}, &out));
  EXPECT_FALSE(AesGcmOpen(key, nonce, sealed, {aad + "x"}, &out));
  EXPECT_FALSE(AesGcmOpen(key, nonce, sealed, {}, &out));
  EXPECT_FALSE(
      AesGcmOpen(key, nonce, sealed.substr(0, sealed.size() - 1), {aad}, &out));
  EXPECT_FALSE(AesGcmOpen(key, nonce, sealed.substr(0, 15), {aad}, &out));
  EXPECT_FALSE(
      AesGcmOpen(Key(std::string(64, '0')), nonce, sealed, {aad}, &out));
  EXPECT_FALSE(AesGcmSeal(key, "short", "x", {}, &out).ok());
}

TEST(Hkdf, Rfc5869TestCase1) {
  unsigned char okm[42];
  ASSERT_TRUE(HkdfSha256(absl::HexStringToBytes(
                             "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                         absl::HexStringToBytes("000102030405060708090a0b0c"),
                         absl::HexStringToBytes("f0f1f2f3f4f5f6f7f8f9"), okm,
                         sizeof(okm))
                  .ok());
  EXPECT_EQ(Hex(absl::string_view(reinterpret_cast<char*>(okm), sizeof(okm))),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
}

TEST(Hmac, Rfc4231TestCase2) {
  unsigned char mac[kSha256Size];
  HmacSha256("Jefe", "what do ya want for nothing?", mac);
  EXPECT_EQ(Hex(absl::string_view(reinterpret_cast<char*>(mac), sizeof(mac))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Sha256, EmptyString) {
  EXPECT_EQ(Hex(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    std::string text;
    AppendBase64Url(bytes, &text);
    EXPECT_EQ(text, absl::WebSafeBase64Escape(bytes)) << n;  // no padding
    std::string back;
    ASSERT_TRUE(DecodeBase64Url(text, &back)) << n;
    EXPECT_EQ(back, bytes) << n;
    bytes.push_back(static_cast<char>(n * 37 + 250));
  }
}

TEST(Base64Url, RefusesNonCanonicalText) {
  std::string out;
  EXPECT_TRUE(DecodeBase64Url("AA", &out));     // one zero byte
  EXPECT_FALSE(DecodeBase64Url("AB", &out));    // unused bits set
  EXPECT_FALSE(DecodeBase64Url("AAB", &out));   // unused bits set
  EXPECT_FALSE(DecodeBase64Url("AA==", &out));  // padding
  EXPECT_FALSE(DecodeBase64Url("A", &out));     // impossible length
  EXPECT_FALSE(DecodeBase64Url("AA+A", &out));  // standard alphabet
  EXPECT_FALSE(DecodeBase64Url("AA/A", &out));
  EXPECT_FALSE(DecodeBase64Url("AA A", &out));
  EXPECT_FALSE(DecodeBase64Url(absl::string_view("AA\0A", 4), &out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace crm::crypto
