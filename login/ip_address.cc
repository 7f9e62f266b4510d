#include "login/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crm::login {
namespace {

// Debian's Abseil keeps its own string_view type; convert at the boundary.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Std(absl::string_view s) { return {s.data(), s.size()}; }

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                         0, 0, 0, 0, 0xff, 0xff};

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Decodes %XX escapes; nullopt on a malformed escape or a decoded NUL.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      c = absl::ascii_tolower(static_cast<unsigned char>(c));
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Splits "HOST:PORT" at the last colon, checking the port is numeric.
std::optional<std::string_view> HostOfHostPort(std::string_view s) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  if (!AllDigits(s.substr(colon + 1))) return std::nullopt;
  return s.substr(0, colon);
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  const std::string z(text);
  if (z.find(':') == std::string::npos) {
    uint8_t b[4];
    if (inet_pton(AF_INET, z.c_str(), b) != 1) return std::nullopt;
    return FromV4Bytes(b);
  }
  uint8_t b[16];
  if (inet_pton(AF_INET6, z.c_str(), b) != 1) return std::nullopt;
  return FromV6Bytes(b);
}

std::optional<IpAddress> IpAddress::FromGrpcPeer(std::string_view peer) {
  if (peer.size() > 256) return std::nullopt;
  if (absl::StartsWith(Sv(peer), "ipv4:")) {
    std::optional<std::string_view> host = HostOfHostPort(peer.substr(5));
    if (!host) return std::nullopt;
    std::optional<IpAddress> a = Parse(*host);
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  if (absl::StartsWith(Sv(peer), "ipv6:")) {
    std::optional<std::string> decoded = PercentDecode(peer.substr(5));
    if (!decoded) return std::nullopt;
    std::optional<std::string_view> host = HostOfHostPort(*decoded);
    if (!host || host->size() < 2 || host->front() != '[' ||
        host->back() != ']') {
      return std::nullopt;
    }
    return Parse(host->substr(1, host->size() - 2));
  }
  return std::nullopt;
}

IpAddress IpAddress::FromV4Bytes(const uint8_t bytes[4]) {
  IpAddress a;
  a.family_ = Family::kV4;
  std::memcpy(a.bytes_.data(), bytes, 4);
  return a;
}

IpAddress IpAddress::FromV6Bytes(const uint8_t bytes[16]) {
  if (std::memcmp(bytes, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0) {
    return FromV4Bytes(bytes + 12);
  }
  IpAddress a;
  a.family_ = Family::kV6;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family_) {
    case Family::kV4:
      inet_ntop(AF_INET, bytes_.data(), buf, sizeof(buf));
      return buf;
    case Family::kV6:
      inet_ntop(AF_INET6, bytes_.data(), buf, sizeof(buf));
      return buf;
    case Family::kUnknown:
      return "unknown";
  }
  return "unknown";
}

absl::StatusOr<CidrRange> CidrRange::Parse(std::string_view text) {
  const std::string_view input = Std(absl::StripAsciiWhitespace(Sv(text)));
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("IP range '", Sv(text), "': ", Sv(why),
                     " (expected e.g. 10.0.0.0/8, 2001:db8::/32 or a single "
                     "address)"));
  };
  std::string_view addr_text = input;
  std::optional<int> prefix;
  if (size_t slash = input.find('/'); slash != std::string_view::npos) {
    addr_text = input.substr(0, slash);
    std::string_view prefix_text = input.substr(slash + 1);
    int p = 0;
    if (!AllDigits(prefix_text) || prefix_text.size() > 3 ||
        !absl::SimpleAtoi(Sv(prefix_text), &p)) {
      return bad("the prefix length after '/' is not a number");
    }
    prefix = p;
  }
  std::optional<IpAddress> addr = IpAddress::Parse(addr_text);
  if (!addr)
    return bad(absl::StrCat("'", Sv(addr_text), "' is not an IP address"));
  const bool v6_notation = addr_text.find(':') != std::string_view::npos;
  int len = prefix.value_or(v6_notation ? 128 : 32);
  const int max = v6_notation ? 128 : 32;
  if (len < 0 || len > max) {
    return bad(
        absl::StrCat("prefix length ", len, " is out of range 0..", max));
  }
  if (v6_notation && addr->is_v4()) {
    // An IPv4-mapped network; it is an IPv4 range if the prefix covers the
    // ::ffff:0:0/96 part. A shorter prefix always leaves host bits set.
    if (len < 96) {
      return bad("an IPv4-mapped network needs a prefix of at least 96");
    }
    len -= 96;
  }
  CidrRange range(*addr, len);
  // Host bits below the prefix must be zero: a typo like 10.0.0.1/8 is more
  // likely a mistake than an intent to allow all of 10/8.
  const auto& b = addr->bytes();
  for (int bit = len; bit < addr->bit_length(); ++bit) {
    if (b[bit / 8] & (0x80 >> (bit % 8))) {
      std::array<uint8_t, 16> net = b;
      for (int i = len; i < addr->bit_length(); ++i) {
        net[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
      }
      IpAddress fixed = addr->is_v4() ? IpAddress::FromV4Bytes(net.data())
                                      : IpAddress::FromV6Bytes(net.data());
      return bad(absl::StrCat("host bits are set below the /", len,
                              " prefix; did you mean ", fixed.ToString(), "/",
                              len, "?"));
    }
  }
  return range;
}

bool CidrRange::Contains(const IpAddress& address) const {
  if (!address.is_known() || address.family() != network_.family()) {
    return false;
  }
  const auto& a = address.bytes();
  const auto& n = network_.bytes();
  const int full = prefix_length_ / 8;
  if (std::memcmp(a.data(), n.data(), full) != 0) return false;
  const int rest = prefix_length_ % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (n[full] & mask);
}

std::string CidrRange::ToString() const {
  return absl::StrCat(network_.ToString(), "/", prefix_length_);
}

absl::StatusOr<CidrSet> CidrSet::Parse(const std::vector<std::string>& texts) {
  CidrSet set;
  for (size_t i = 0; i < texts.size(); ++i) {
    absl::StatusOr<CidrRange> r = CidrRange::Parse(texts[i]);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", i + 1, " of ", texts.size(), ": ", r.status().message()));
    }
    set.ranges_.push_back(*r);
  }
  return set;
}

bool CidrSet::Contains(const IpAddress& address) const {
  for (const CidrRange& r : ranges_) {
    if (r.Contains(address)) return true;
  }
  return false;
}

std::string CidrSet::ToString() const {
  return absl::StrJoin(ranges_, ", ", [](std::string* out, const CidrRange& r) {
    out->append(r.ToString());
  });
}

}  // namespace crm::login
