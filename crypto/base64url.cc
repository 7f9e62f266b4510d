#include "crypto/base64url.h"

#include <cstdint>

namespace crm::crypto {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Character -> 6-bit value, or 0xff for a character outside the alphabet.
struct DecodeTable {
  constexpr DecodeTable() : value() {
    for (int i = 0; i < 256; ++i) value[i] = 0xff;
    for (int i = 0; i < 64; ++i) {
      value[static_cast<unsigned char>(kAlphabet[i])] =
          static_cast<unsigned char>(i);
    }
  }
  unsigned char value[256];
};
constexpr DecodeTable kDecode;

}  // namespace

void AppendBase64Url(absl::string_view bytes, std::string* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const size_t start = out->size();
  out->resize(start + (n * 4 + 2) / 3);
  char* dst = &(*out)[start];
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v =
        uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | uint32_t{in[i + 2]};
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
    *dst++ = kAlphabet[(v >> 6) & 63];
    *dst++ = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8;
    *dst++ = kAlphabet[v >> 18];
    *dst++ = kAlphabet[(v >> 12) & 63];
    *dst++ = kAlphabet[(v >> 6) & 63];
  }
}

bool DecodeBase64Url(absl::string_view text, std::string* out) {
  out->clear();
  const size_t n = text.size();
  const size_t tail = n % 4;
  if (tail == 1) return false;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  out->resize(n / 4 * 3 + (tail == 0 ? 0 : tail - 1));
  char* dst = out->data();
  uint32_t bad = 0;  // any 0xff value: a character outside the alphabet
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t a = kDecode.value[in[i]], b = kDecode.value[in[i + 1]],
                   c = kDecode.value[in[i + 2]], d = kDecode.value[in[i + 3]];
    bad |= a | b | c | d;
    const uint32_t v = a << 18 | b << 12 | c << 6 | d;
    *dst++ = static_cast<char>(v >> 16);
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  if (tail == 2) {
    const uint32_t a = kDecode.value[in[i]], b = kDecode.value[in[i + 1]];
    bad |= a | b;
    bad |= (b & 0x0f) != 0 ? 0xff : 0;  // 4 unused bits must be zero
    *dst++ = static_cast<char>(a << 2 | b >> 4);
  } else if (tail == 3) {
    const uint32_t a = kDecode.value[in[i]], b = kDecode.value[in[i + 1]],
                   c = kDecode.value[in[i + 2]];
    bad |= a | b | c;
    bad |= (c & 0x03) != 0 ? 0xff : 0;  // 2 unused bits must be zero
    const uint32_t v = a << 10 | b << 4 | c >> 2;
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  if (bad & 0x80) {  // 0xff sets the high bit; valid values are below 64
    out->clear();
    return false;
  }
  return true;
}

}  // namespace crm::crypto
