#include "auth/password_hasher.h"

#include <argon2.h>
#include <openssl/rand.h>

#include <map>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace crm::auth {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

absl::Status CheckPassword(std::string_view password) {
  if (password.empty()) {
    return absl::InvalidArgumentError("password must not be empty");
  }
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("password is ", password.size(), " bytes; the maximum is ",
                     kMaxPasswordBytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string ParamsText(const PasswordHashParams& p) {
  return absl::StrCat("t_cost=", p.t_cost, ", m_cost_kib=", p.m_cost_kib,
                      ", parallelism=", p.parallelism);
}

// The dummy hash for `params`, computed on first use. Empty if the params
// are unusable (then HashPassword fails too, so there is nothing to match).
std::string DummyHashFor(const PasswordHashParams& params) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache =
      new std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string>();
  auto key = std::make_tuple(params.t_cost, params.m_cost_kib,
                             params.parallelism);
  absl::MutexLock lock(&mu);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  absl::StatusOr<std::string> hash =
      HashPassword("crm dummy password for timing equalisation", params);
  std::string value = hash.ok() ? *hash : std::string();
  (*cache)[key] = value;
  return value;
}

}  // namespace

absl::StatusOr<std::string> HashPassword(std::string_view password,
                                         const PasswordHashParams& params) {
  if (absl::Status s = CheckPassword(password); !s.ok()) return s;
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return absl::InternalError("password hashing: no randomness for the salt");
  }
  const size_t encoded_len =
      argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism,
                        kSaltBytes, kHashBytes, Argon2_id);
  std::vector<char> encoded(encoded_len + 1, '\0');
  const int rc = argon2id_hash_encoded(
      params.t_cost, params.m_cost_kib, params.parallelism, password.data(),
      password.size(), salt, sizeof(salt), kHashBytes, encoded.data(),
      encoded.size());
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return absl::InternalError(
        absl::StrCat("password hashing: out of memory (", ParamsText(params),
                     ")"));
  }
  if (rc != ARGON2_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("password hashing: argon2id rejected ", ParamsText(params),
                     ": ", argon2_error_message(rc),
                     " (need t_cost >= 1, parallelism >= 1, m_cost_kib >= 8 * "
                     "parallelism)"));
  }
  return std::string(encoded.data());
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  if (!CheckPassword(password).ok()) return false;
  if (encoded.empty() || encoded.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string encoded_z(encoded);  // argon2 wants a C string
  return argon2id_verify(encoded_z.c_str(), password.data(), password.size()) ==
         ARGON2_OK;
}

void BurnVerifyTime(std::string_view password,
                    const PasswordHashParams& params) {
  // Mirror VerifyPassword exactly: it returns at once for an invalid
  // password (that depends only on the input, not on the user), so do we.
  if (!CheckPassword(password).ok()) return;
  const std::string dummy = DummyHashFor(params);
  if (dummy.empty()) return;
  volatile int rc =
      argon2id_verify(dummy.c_str(), password.data(), password.size());
  (void)rc;
}

}  // namespace crm::auth
