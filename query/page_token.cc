#include "query/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace crm::query {
namespace {

constexpr size_t kMacBytes = 32;

absl::Status Invalid() { return absl::InvalidArgumentError(kInvalidPageToken); }

bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void AppendLengthPrefixed(absl::string_view part, std::string* out) {
  const uint64_t n = part.size();
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(n >> (8 * i)));
  out->append(part.data(), part.size());
}

}  // namespace

absl::StatusOr<PageTokenCodec> PageTokenCodec::Create(std::string secret) {
  if (secret.size() < kMinPageTokenSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page token secret must be at least ", kMinPageTokenSecretBytes,
        " bytes (got ", secret.size(), ")"));
  }
  return PageTokenCodec(std::move(secret));
}

PageTokenCodec::PageTokenCodec(std::string secret)
    : secret_(std::move(secret)) {
  if (secret_.size() < kMinPageTokenSecretBytes) {
    fprintf(stderr, "fatal: page token secret shorter than %zu bytes\n",
            kMinPageTokenSecretBytes);
    abort();
  }
}

std::string PageTokenCodec::Mac(absl::string_view payload) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
           reinterpret_cast<const unsigned char*>(payload.data()),
           payload.size(), mac, &mac_len) == nullptr ||
      mac_len != kMacBytes) {
    // Fail closed: an empty MAC never equals a real one.
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

std::string PageTokenCodec::Encode(
    const crm::internal::PageToken& token) const {
  std::string payload;
  token.SerializeToString(&payload);
  std::string signed_bytes = payload;
  signed_bytes += Mac(payload);
  std::string out;
  absl::WebSafeBase64Escape(signed_bytes, &out);  // no padding
  return out;
}

absl::StatusOr<crm::internal::PageToken> PageTokenCodec::Decode(
    absl::string_view token, absl::string_view expected_collection,
    absl::string_view expected_query_hash) const {
  if (token.size() > 8192) return Invalid();
  std::string bytes;
  if (!absl::WebSafeBase64Unescape(token, &bytes)) return Invalid();
  // Refuse non-canonical encodings (padding, non-zero spare bits) so that
  // exactly one text is accepted for each signed value.
  std::string canonical;
  absl::WebSafeBase64Escape(bytes, &canonical);
  if (canonical != token) return Invalid();
  if (bytes.size() < kMacBytes) return Invalid();
  absl::string_view all(bytes);
  absl::string_view payload = all.substr(0, all.size() - kMacBytes);
  absl::string_view mac = all.substr(all.size() - kMacBytes);
  const std::string expected_mac = Mac(payload);
  if (expected_mac.empty() || !ConstantTimeEqual(mac, expected_mac)) {
    return Invalid();
  }
  crm::internal::PageToken decoded;
  if (!decoded.ParseFromArray(payload.data(),
                              static_cast<int>(payload.size()))) {
    return Invalid();
  }
  if (decoded.collection() != expected_collection ||
      !ConstantTimeEqual(decoded.query_hash(), expected_query_hash)) {
    return Invalid();
  }
  return decoded;
}

std::string PageTokenCodec::QueryHash(absl::string_view collection,
                                      absl::string_view normalized_filter,
                                      absl::string_view normalized_order_by) {
  std::string input = "crm.page_token.query.v1";
  AppendLengthPrefixed(collection, &input);
  AppendLengthPrefixed(normalized_filter, &input);
  AppendLengthPrefixed(normalized_order_by, &input);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace crm::query
