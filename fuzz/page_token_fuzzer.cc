// Fuzz target: signed List page tokens (query/page_token.h) and the keyset
// predicate built from a decoded token (records/pagination.h).
//
// A random text cannot carry a valid HMAC, so the target has three modes
// (the first input byte modulo 3):
//   0  the rest is a token text as a client sends it, decoded with a fixed
//      secret: it must be refused with exactly kInvalidPageToken (an
//      accepted forgery would be a finding).
//   1  the rest is a token payload (serialised crm.internal.PageToken, or
//      garbage); the target signs it with the secret itself (HMAC-SHA256,
//      independently of the codec) and checks what the codec does with a
//      correctly signed token:
//        - it is accepted iff the payload parses and the expected collection
//          and query hash match, and the decoded message is the payload's;
//        - every alteration (one character changed, truncated, extended,
//          padded) and every other collection or query hash is refused;
//        - an accepted token round-trips: Encode(decoded) decodes to the
//          same message;
//        - KeysetFromToken accepts it exactly for an order of as many terms
//          as it carries key values (all of a known kind, with a last id)
//          and builds SQL with one bound parameter per '?'.
//   2  QueryHash is injective on (collection, filter, order_by): splitting
//      the rest differently gives a different hash.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "crm/internal/page_token.pb.h"
#include "fuzz/fuzz_check.h"
#include "google/protobuf/stubs/logging.h"
#include "model/sql.h"
#include "query/page_token.h"
#include "records/pagination.h"

namespace crm::query {
namespace {

using crm::internal::PageToken;
using fuzz::Escaped;

const std::string& Secret() {
  static const auto* secret =
      new std::string("fuzz-page-token-secret-0123456789abcdef");
  return *secret;
}

const PageTokenCodec& Codec() {
  static const auto* codec = new PageTokenCodec(Secret());
  return *codec;
}

// base64url(payload || HMAC-SHA256(secret, payload)), computed here rather
// than by the codec under test.
std::string Sign(absl::string_view payload) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  FUZZ_CHECK(HMAC(EVP_sha256(), Secret().data(),
                  static_cast<int>(Secret().size()),
                  reinterpret_cast<const unsigned char*>(payload.data()),
                  payload.size(), mac, &mac_len) != nullptr &&
             mac_len == 32);
  std::string bytes(payload);
  bytes.append(reinterpret_cast<const char*>(mac), mac_len);
  std::string out;
  absl::WebSafeBase64Escape(bytes, &out);
  return out;
}

void ExpectRefused(const absl::StatusOr<PageToken>& r, absl::string_view what,
                   absl::string_view token) {
  FUZZ_CHECK(!r.ok()) << what << " was accepted: " << Escaped(token);
  FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument &&
             r.status().message() == kInvalidPageToken)
      << what << ": " << r.status();
}

bool SameMessage(const PageToken& a, const PageToken& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

void CheckKeyset(const PageToken& token) {
  bool usable = !token.last_id().empty();
  for (const auto& v : token.last_values()) {
    usable =
        usable && v.kind_case() != crm::internal::PageTokenValue::KIND_NOT_SET;
  }
  const int n = token.last_values_size();
  for (int terms : {n, n + 1, n > 0 ? n - 1 : n + 2}) {
    if (terms > 8) continue;
    std::vector<model::OrderTerm> order;
    for (int i = 0; i < terms; ++i) {
      order.push_back({"f" + std::to_string(i), i % 2 == 1});
    }
    absl::StatusOr<model::SqlFragment> sql =
        records::KeysetFromToken(order, token);
    FUZZ_CHECK(sql.ok() == (usable && terms == n))
        << sql.status() << " for " << terms << " terms";
    if (!sql.ok()) {
      FUZZ_CHECK(sql.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    FUZZ_CHECK(static_cast<size_t>(std::count(sql->sql.begin(), sql->sql.end(),
                                              '?')) == sql->params.size())
        << sql->sql;
    FUZZ_CHECK(sql->sql.find('\'') == std::string::npos) << sql->sql;
  }
}

void SignedPayload(absl::string_view payload) {
  const PageTokenCodec& codec = Codec();
  const std::string token = Sign(payload);
  PageToken expected;
  const bool parses =
      expected.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
  const std::string& collection = expected.collection();
  const std::string& hash = expected.query_hash();

  absl::StatusOr<PageToken> decoded = codec.Decode(token, collection, hash);
  if (!parses || token.size() > 8192) {
    ExpectRefused(decoded, "an unparseable or oversized payload", token);
    return;
  }
  FUZZ_CHECK(decoded.ok()) << "a correctly signed token was refused: "
                           << decoded.status() << " " << Escaped(payload);
  FUZZ_CHECK(SameMessage(*decoded, expected));

  // Bound to the collection and the query.
  ExpectRefused(codec.Decode(token, collection + "s", hash),
                "another collection", token);
  std::string other_hash = hash;
  if (other_hash.empty()) {
    other_hash = "x";
  } else {
    other_hash[other_hash.size() / 2] ^= 0x01;
  }
  ExpectRefused(codec.Decode(token, collection, other_hash),
                "another query hash", token);

  // Any other text is refused: one character changed, truncated, extended,
  // padded. Exactly one text is accepted for each signed value.
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string changed = token;
  const size_t at = payload.size() % changed.size();
  const size_t digit = alphabet.find(changed[at]);
  FUZZ_CHECK(digit != std::string::npos) << Escaped(token);
  changed[at] = alphabet[(digit + 1 + payload.size() % 63) % 64];
  ExpectRefused(codec.Decode(changed, collection, hash), "a changed character",
                changed);
  ExpectRefused(
      codec.Decode(token.substr(0, token.size() - 1), collection, hash),
      "a truncated token", token);
  ExpectRefused(codec.Decode(token + "A", collection, hash),
                "an extended token", token);
  ExpectRefused(codec.Decode(token + "=", collection, hash), "a padded token",
                token);

  // Round trip through the codec's own encoder.
  const std::string again = codec.Encode(*decoded);
  absl::StatusOr<PageToken> redecoded = codec.Decode(again, collection, hash);
  FUZZ_CHECK(redecoded.ok()) << redecoded.status();
  FUZZ_CHECK(SameMessage(*redecoded, *decoded));

  CheckKeyset(*decoded);
}

void ClientText(absl::string_view text) {
  absl::StatusOr<PageToken> decoded =
      Codec().Decode(text, "accounts", std::string(32, '\x07'));
  ExpectRefused(decoded, "an unsigned client text", text);
}

void QueryHashes(absl::string_view rest) {
  if (rest.size() < 2) return;
  const size_t i = static_cast<uint8_t>(rest[0]);
  const size_t j = static_cast<uint8_t>(rest[1]);
  const absl::string_view s = rest.substr(2);
  const size_t a = std::min(i, s.size());
  const size_t b = std::max(a, std::min(j, s.size()));
  const std::string h1 = PageTokenCodec::QueryHash(
      s.substr(0, a), s.substr(a, b - a), s.substr(b));
  FUZZ_CHECK(h1.size() == 32);
  if (a < b) {
    // Move one byte from the filter to the collection.
    const std::string h2 = PageTokenCodec::QueryHash(
        s.substr(0, a + 1), s.substr(a + 1, b - a - 1), s.substr(b));
    FUZZ_CHECK(h1 != h2) << "QueryHash collides on a different split";
  }
  if (b < s.size()) {
    const std::string h3 = PageTokenCodec::QueryHash(
        s.substr(0, a), s.substr(a, b - a + 1), s.substr(b + 1));
    FUZZ_CHECK(h1 != h3) << "QueryHash collides on a different split";
  }
}

}  // namespace
}  // namespace crm::query

// Protobuf logs every string field with invalid UTF-8 it refuses to parse;
// at thousands of inputs a second that is noise and most of the run time.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const absl::string_view rest(reinterpret_cast<const char*>(data) + 1,
                               size - 1);
  switch (data[0] % 3) {
    case 0:
      crm::query::ClientText(rest);
      break;
    case 1:
      crm::query::SignedPayload(rest);
      break;
    case 2:
      crm::query::QueryHashes(rest);
      break;
  }
  return 0;
}
