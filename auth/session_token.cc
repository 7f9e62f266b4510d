#include "auth/session_token.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace crm::auth {
namespace {

// Debian's Abseil keeps its own string_view type; convert at the boundary.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

constexpr size_t kTokenBytes = 32;
constexpr size_t kMaxHeaderBytes = 4096;

bool IsBase64UrlChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_';
}

}  // namespace

IssuedToken NewSessionToken() {
  unsigned char bytes[kTokenBytes];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    std::fputs("FATAL: RAND_bytes failed while issuing a session token\n",
               stderr);
    std::abort();
  }
  IssuedToken issued;
  issued.token = absl::StrCat(
      Sv(kTokenPrefix),
      absl::WebSafeBase64Escape(absl::string_view(
          reinterpret_cast<const char*>(bytes), sizeof(bytes))));
  issued.hash = HashToken(issued.token);
  return issued;
}

std::string HashToken(std::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool LooksLikeToken(std::string_view token) {
  if (token.size() != kTokenLength) return false;
  if (!absl::StartsWith(Sv(token), Sv(kTokenPrefix))) return false;
  for (char c : token.substr(kTokenPrefix.size())) {
    if (!IsBase64UrlChar(c)) return false;
  }
  return true;
}

absl::StatusOr<std::string> BearerTokenFromMetadata(
    std::string_view value) {
  if (value.size() > kMaxHeaderBytes) {
    return absl::UnauthenticatedError(absl::StrCat(
        "authorization metadata is ", value.size(),
        " bytes; expected 'Bearer <token>'"));
  }
  std::string_view v = Std(absl::StripAsciiWhitespace(Sv(value)));
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(Sv(v.substr(0, kScheme.size())), Sv(kScheme)) ||
      (v[kScheme.size()] != ' ' && v[kScheme.size()] != '\t')) {
    return absl::UnauthenticatedError(
        "authorization metadata must be 'Bearer <token>' (a session token "
        "from Login); got another scheme or no token");
  }
  std::string_view token = Std(absl::StripLeadingAsciiWhitespace(
      Sv(v.substr(kScheme.size()))));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "authorization metadata 'Bearer' carries no token");
  }
  for (char c : token) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        !absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return absl::UnauthenticatedError(
          "authorization metadata: the bearer token contains whitespace or "
          "control characters");
    }
  }
  return std::string(token);
}

}  // namespace crm::auth
