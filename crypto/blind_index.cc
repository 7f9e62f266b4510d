#include "crypto/blind_index.h"

#include <openssl/crypto.h>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/primitives.h"

namespace crm::crypto {

absl::StatusOr<KeyBytes> DeriveBlindIndexKey(const MasterKey& master,
                                             absl::string_view field) {
  if (field.empty()) {
    return absl::InvalidArgumentError("a blind index needs a field name");
  }
  KeyBytes key;
  absl::Status s = HkdfSha256(
      absl::string_view(reinterpret_cast<const char*>(master.key().data()),
                        master.key().size()),
      /*salt=*/"", absl::StrCat("blind-index:", field), key.data(), key.size());
  if (!s.ok()) return s;
  return key;
}

std::string BlindIndex(const KeyBytes& index_key,
                       absl::string_view normalized_value) {
  unsigned char mac[kSha256Size];
  HmacSha256(absl::string_view(reinterpret_cast<const char*>(index_key.data()),
                               index_key.size()),
             normalized_value, mac);
  std::string out = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(mac), kBlindIndexSize));
  OPENSSL_cleanse(mac, sizeof(mac));
  return out;
}

}  // namespace crm::crypto
