// Session tokens: random bearer secrets handed to a client once, stored only
// as their SHA-256 hash. All functions are thread-safe.
#ifndef CRM_AUTH_SESSION_TOKEN_H_
#define CRM_AUTH_SESSION_TOKEN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::auth {

// Every token starts with this prefix (helps secret scanners and humans).
inline constexpr std::string_view kTokenPrefix = "crm_";
// Length of a token: the prefix plus 43 base64url characters (256 bits).
inline constexpr size_t kTokenLength = 4 + 43;

struct IssuedToken {
  std::string token;  // give to the client; never store or log it
  std::string hash;   // HashToken(token): the only form kept server-side
};

// A fresh token of 32 bytes from OpenSSL RAND_bytes, as "crm_" + base64url
// without padding. Aborts the process if the CSPRNG fails (fail closed: a
// guessable token is worse than no server).
IssuedToken NewSessionToken();

// Lower-case hex SHA-256 of `token` (64 characters).
std::string HashToken(std::string_view token);

// True iff `token` has the shape NewSessionToken produces (prefix, exact
// length, base64url alphabet). A cheap filter before any lookup.
bool LooksLikeToken(std::string_view token);

// Extracts the credential from an `authorization` metadata value of the form
// "Bearer <token>" (scheme case-insensitive, RFC 6750). Returns
// UNAUTHENTICATED, saying what was wrong, for any other form.
// Does not check the token's shape; see LooksLikeToken.
absl::StatusOr<std::string> BearerTokenFromMetadata(
    std::string_view authorization_header_value);

}  // namespace crm::auth

#endif  // CRM_AUTH_SESSION_TOKEN_H_
