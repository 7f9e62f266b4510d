// Password hashing with Argon2id (libargon2), stored as PHC strings such as
// "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>".
//
// Passwords are never stored or compared in plain form; verification is
// constant-time in the password (argon2_verify). BurnVerifyTime lets a login
// path spend the same work for an unknown user as for a wrong password, so
// that the two cannot be told apart by timing.
//
// All functions are thread-safe.
#ifndef CRM_AUTH_PASSWORD_HASHER_H_
#define CRM_AUTH_PASSWORD_HASHER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace crm::auth {

// Longest password accepted, in bytes. Longer input is refused rather than
// truncated, and bounds the work an attacker can make us do per attempt.
inline constexpr size_t kMaxPasswordBytes = 1024;

// Argon2id cost parameters. The defaults are meant for production (OWASP-style
// 64 MiB, 3 passes); tests pass tiny costs such as {1, 8, 1}.
struct PasswordHashParams {
  uint32_t t_cost = 3;              // passes over memory, >= 1
  uint32_t m_cost_kib = 64 * 1024;  // memory in KiB, >= 8 * parallelism
  uint32_t parallelism = 1;         // lanes, >= 1
};

// Hashes `password` with a fresh random 16-byte salt (OpenSSL RAND_bytes) and
// returns the PHC-encoded argon2id string.
// Errors: INVALID_ARGUMENT for an empty password, one over kMaxPasswordBytes,
// or cost parameters libargon2 rejects; INTERNAL if no randomness is
// available or hashing fails (e.g. out of memory).
absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashParams& params);

// True iff `encoded` is a well-formed argon2id PHC string for `password`.
// Malformed or non-argon2id hashes, empty or over-long passwords give false
// (fail closed), never a crash.
bool VerifyPassword(std::string_view password, std::string_view encoded);

// Performs one verification of `password` against a fixed dummy hash made
// with `params` (computed once per distinct params and cached), discarding
// the result. Like VerifyPassword it returns at once for an empty or
// over-long password. Call it when the user does not exist, with the same params the
// stored hashes use, so an unknown user costs what a wrong password costs.
void BurnVerifyTime(std::string_view password,
                    const PasswordHashParams& params = PasswordHashParams());

}  // namespace crm::auth

#endif  // CRM_AUTH_PASSWORD_HASHER_H_
