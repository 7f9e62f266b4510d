#include "crypto/data_key.h"

#include <openssl/crypto.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "crypto/base64url.h"
#include "crypto/primitives.h"

namespace crm::crypto {
namespace {

constexpr absl::string_view kWrappedPrefix = "wk:v1:";
constexpr size_t kMaxKeyIdSize = 32;

std::string WrapAad(absl::string_view id, absl::string_view master_id) {
  return absl::StrCat("crm:data-key:v1:", id, ":", master_id);
}

absl::string_view View(const unsigned char* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

absl::Status Malformed(absl::string_view id) {
  return absl::DataLossError(absl::StrCat(
      "wrapped data key ", id,
      " is malformed (expected wk:v1:<master key id>:<base64url>); the "
      "stored key was altered or truncated"));
}

}  // namespace

absl::StatusOr<DataKey> DataKey::Generate() {
  DataKey out;
  absl::StatusOr<KeyBytes> key = KeyBytes::Random();
  if (!key.ok()) return key.status();
  out.key = *std::move(key);
  unsigned char random[6];
  if (absl::Status s = RandomBytes(random, sizeof(random)); !s.ok()) return s;
  out.id =
      absl::StrCat("dk", absl::BytesToHexString(View(random, sizeof(random))));
  return out;
}

bool IsValidKeyId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdSize) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::StatusOr<std::string> WrapDataKey(const MasterKey& master,
                                        const DataKey& key) {
  if (!IsValidKeyId(key.id)) {
    return absl::InvalidArgumentError(
        "data key id must be 1 to 32 characters of [A-Za-z0-9_-]");
  }
  unsigned char nonce[kGcmNonceSize];
  if (absl::Status s = RandomBytes(nonce, sizeof(nonce)); !s.ok()) return s;
  // The nonce is read from its own buffer: AesGcmSeal grows `sealed`.
  std::string sealed(View(nonce, sizeof(nonce)));
  if (absl::Status s = AesGcmSeal(master.key(), View(nonce, sizeof(nonce)),
                                  View(key.key.data(), key.key.size()),
                                  {WrapAad(key.id, master.id())}, &sealed);
      !s.ok()) {
    return s;
  }
  std::string out = absl::StrCat(kWrappedPrefix, master.id(), ":");
  AppendBase64Url(sealed, &out);
  return out;
}

absl::StatusOr<DataKey> UnwrapDataKey(const MasterKey& master,
                                      absl::string_view id,
                                      absl::string_view wrapped) {
  if (!IsValidKeyId(id)) {
    return absl::InvalidArgumentError(
        "data key id must be 1 to 32 characters of [A-Za-z0-9_-]");
  }
  if (!absl::ConsumePrefix(&wrapped, kWrappedPrefix)) return Malformed(id);
  const size_t colon = wrapped.find(':');
  if (colon == absl::string_view::npos) return Malformed(id);
  const absl::string_view master_id = wrapped.substr(0, colon);
  if (master_id != master.id()) {
    if (!IsValidKeyId(master_id)) return Malformed(id);
    return absl::FailedPreconditionError(
        absl::StrCat("data key ", id, " is wrapped under master key ",
                     master_id, " but the loaded master key is ", master.id(),
                     "; load the master key file whose id is ", master_id,
                     " (the file configured is another key)"));
  }
  std::string sealed;
  if (!DecodeBase64Url(wrapped.substr(colon + 1), &sealed) ||
      sealed.size() != kGcmNonceSize + kKeySize + kGcmTagSize) {
    return Malformed(id);
  }
  const absl::string_view view = sealed;
  std::string bytes;
  if (!AesGcmOpen(master.key(), view.substr(0, kGcmNonceSize),
                  view.substr(kGcmNonceSize), {WrapAad(id, master.id())},
                  &bytes)) {
    return absl::DataLossError(absl::StrCat(
        "wrapped data key ", id, " does not authenticate under master key ",
        master.id(),
        ": it was altered, or it is stored under another data key id"));
  }
  DataKey out;
  out.id = std::string(id);
  out.key = *KeyBytes::FromBytes(bytes);  // 32 bytes: checked above
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace crm::crypto
