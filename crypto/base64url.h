// Base64url without padding (RFC 4648 section 5), the text encoding of
// encrypted values and wrapped keys. Internal to crypto/.
//
// Decoding is strict: only the URL-safe alphabet, no padding, no
// whitespace, and the unused low bits of the last character must be zero.
// So every byte string has exactly one encoding, and any change to the
// text either fails to decode or changes the bytes (which the AEAD tag then
// refuses): no two stored texts decrypt to the same value.
#ifndef CRM_CRYPTO_BASE64URL_H_
#define CRM_CRYPTO_BASE64URL_H_

#include <string>

#include "absl/strings/string_view.h"

namespace crm::crypto {

// Appends the encoding of `bytes` to *out.
void AppendBase64Url(absl::string_view bytes, std::string* out);

// Replaces *out with the decoding of `text`; false (and *out empty) if
// `text` is not a canonical unpadded base64url string.
bool DecodeBase64Url(absl::string_view text, std::string* out);

}  // namespace crm::crypto

#endif  // CRM_CRYPTO_BASE64URL_H_
