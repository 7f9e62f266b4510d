#include "query/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace crm::query {
namespace {

const std::string kSecret(32, 's');

crm::internal::PageToken SampleToken(const std::string& hash) {
  crm::internal::PageToken t;
  t.set_collection("accounts");
  t.set_query_hash(hash);
  t.add_last_values()->set_int_value(1704067200000000);
  t.add_last_values()->set_string_value("Zürich");
  t.add_last_values()->set_double_value(-2.5);
  t.set_last_id("acc_123");
  return t;
}

void ExpectInvalid(const absl::StatusOr<crm::internal::PageToken>& r,
                   const std::string& context) {
  ASSERT_FALSE(r.ok()) << context;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << context;
  EXPECT_EQ(r.status().message(), kInvalidPageToken) << context;
}

TEST(PageTokenCodec, RoundTrip) {
  PageTokenCodec codec(kSecret);
  const std::string hash = PageTokenCodec::QueryHash("accounts", "a = 1", "");
  ASSERT_EQ(hash.size(), 32u);
  const crm::internal::PageToken token = SampleToken(hash);
  const std::string text = codec.Encode(token);
  EXPECT_EQ(
      text.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << text;
  absl::StatusOr<crm::internal::PageToken> decoded =
      codec.Decode(text, "accounts", hash);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->SerializeAsString(), token.SerializeAsString());
}

TEST(PageTokenCodec, RefusesEveryAlteration) {
  PageTokenCodec codec(kSecret);
  const std::string hash = PageTokenCodec::QueryHash("accounts", "", "x asc");
  const std::string text = codec.Encode(SampleToken(hash));
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < text.size(); ++i) {
    // Replace the character by its neighbour in the alphabet, and by one
    // that changes only the low bits.
    for (size_t delta : {size_t{1}, size_t{32}}) {
      std::string altered = text;
      altered[i] = alphabet[(alphabet.find(text[i]) + delta) % 64];
      ExpectInvalid(codec.Decode(altered, "accounts", hash),
                    "position " + std::to_string(i));
    }
  }
  // Every byte of the decoded form, flipped.
  std::string bytes;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(text, &bytes));
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] ^= 0x01;
    std::string altered;
    absl::WebSafeBase64Escape(flipped, &altered);
    ExpectInvalid(codec.Decode(altered, "accounts", hash),
                  "byte " + std::to_string(i));
  }
  // Truncation and extension.
  for (size_t n = 0; n < text.size(); ++n) {
    ExpectInvalid(codec.Decode(text.substr(0, n), "accounts", hash),
                  "truncated to " + std::to_string(n));
  }
  ExpectInvalid(codec.Decode(text + "A", "accounts", hash), "extended");
  ExpectInvalid(codec.Decode(text + "=", "accounts", hash), "padded");
  ExpectInvalid(codec.Decode("not base64!", "accounts", hash), "garbage");
}

TEST(PageTokenCodec, RefusesOtherQueriesCollectionsAndSecrets) {
  PageTokenCodec codec(kSecret);
  const std::string hash = PageTokenCodec::QueryHash("accounts", "a = 1", "");
  const std::string text = codec.Encode(SampleToken(hash));
  ExpectInvalid(
      codec.Decode(text, "accounts",
                   PageTokenCodec::QueryHash("accounts", "a = 2", "")),
      "other filter");
  ExpectInvalid(
      codec.Decode(text, "accounts",
                   PageTokenCodec::QueryHash("accounts", "a = 1", "x asc")),
      "other order_by");
  ExpectInvalid(codec.Decode(text, "contacts", hash), "other collection");
  PageTokenCodec other(std::string(32, 't'));
  ExpectInvalid(other.Decode(text, "accounts", hash), "other secret");
}

TEST(PageTokenCodec, QueryHashSeparatesItsParts) {
  EXPECT_NE(PageTokenCodec::QueryHash("a", "bc", ""),
            PageTokenCodec::QueryHash("ab", "c", ""));
  EXPECT_NE(PageTokenCodec::QueryHash("a", "", "b"),
            PageTokenCodec::QueryHash("a", "b", ""));
  EXPECT_EQ(PageTokenCodec::QueryHash("a", "b", "c"),
            PageTokenCodec::QueryHash("a", "b", "c"));
}

TEST(PageTokenCodec, SecretMustBeLongEnough) {
  EXPECT_FALSE(PageTokenCodec::Create(std::string(31, 'x')).ok());
  EXPECT_TRUE(PageTokenCodec::Create(std::string(32, 'x')).ok());
  EXPECT_DEATH(PageTokenCodec(std::string(31, 'x')), "secret shorter");
}

}  // namespace
}  // namespace crm::query
