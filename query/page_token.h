// Signed List page tokens.
//
// A token is base64url (no padding) of the serialized
// crm.internal.PageToken followed by its HMAC-SHA256 under the server's
// secret. It is signed, not encrypted: the last row's sort key values are
// readable by whoever holds the token, which is why order_by only accepts
// fields the caller may read (order_by.h).
//
// Decode refuses, with the single message kInvalidPageToken (so a client
// learns nothing about why), any token that was altered, truncated, signed
// with another secret, or issued for another collection or query. Tokens do
// not expire by time; rotating the secret invalidates every token.
//
// Thread-safety: immutable after construction; share freely.
#ifndef CRM_QUERY_PAGE_TOKEN_H_
#define CRM_QUERY_PAGE_TOKEN_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crm/internal/page_token.pb.h"

namespace crm::query {

inline constexpr size_t kMinPageTokenSecretBytes = 32;
inline constexpr absl::string_view kInvalidPageToken =
    "page_token: invalid, expired or issued for a different query; restart "
    "the listing without a page_token";

class PageTokenCodec {
 public:
  // INVALID_ARGUMENT if the secret is shorter than 32 bytes.
  static absl::StatusOr<PageTokenCodec> Create(std::string secret);

  // Aborts the process if the secret is shorter than 32 bytes (a
  // configuration error that must not silently weaken tokens); prefer
  // Create where the secret comes from configuration.
  explicit PageTokenCodec(std::string secret);

  std::string Encode(const crm::internal::PageToken& token) const;

  // INVALID_ARGUMENT kInvalidPageToken unless the token is intact, signed
  // with this secret, and carries exactly expected_collection and
  // expected_query_hash.
  absl::StatusOr<crm::internal::PageToken> Decode(
      absl::string_view token, absl::string_view expected_collection,
      absl::string_view expected_query_hash) const;

  // SHA-256 (32 raw bytes) of the collection, normalised filter
  // (NormalizeFilter) and normalised order_by (NormalizeOrderBy), each
  // length-prefixed so no two different triples collide by concatenation.
  static std::string QueryHash(absl::string_view collection,
                               absl::string_view normalized_filter,
                               absl::string_view normalized_order_by);

 private:
  std::string Mac(absl::string_view payload) const;

  std::string secret_;
};

}  // namespace crm::query

#endif  // CRM_QUERY_PAGE_TOKEN_H_
