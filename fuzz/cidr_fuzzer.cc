// Fuzz target: IP addresses, gRPC peer strings and CIDR ranges
// (login/ip_address.h), the login restriction a profile's allowed_ip_ranges
// and every request's peer go through.
//
// Input: the text, parsed as an address, a peer string, a range, and a
// newline-separated range list.
// Properties:
//   - No parser crashes; range refusals are INVALID_ARGUMENT naming the input.
//   - IpAddress: an accepted address is known, and its canonical text
//     (ToString) parses back to the same address; an IPv4-mapped IPv6
//     address is IPv4.
//   - FromGrpcPeer: an accepted peer is a known address, and the peer
//     string gRPC would make for it parses back to it.
//   - CidrRange: the prefix is within 0..bit length, no host bit is set,
//     ToString parses back to the same range, and Contains agrees with a
//     bit-by-bit reference on the network address with each single bit
//     flipped (inside iff the bit is a host bit), and on the other family.
//   - CidrSet: accepted iff every entry is, with one range per entry.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_check.h"
#include "login/ip_address.h"

namespace crm::login {
namespace {

using fuzz::Escaped;

absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

void CheckAddress(std::string_view text) {
  std::optional<IpAddress> a = IpAddress::Parse(text);
  if (!a) return;
  FUZZ_CHECK(a->is_known());
  const std::string canonical = a->ToString();
  std::optional<IpAddress> again = IpAddress::Parse(canonical);
  FUZZ_CHECK(again && *again == *a) << Escaped(Sv(text)) << " -> " << canonical;
  FUZZ_CHECK(again->ToString() == canonical);
  if (a->is_v6()) {
    // Never an IPv4-mapped address: those are normalised to IPv4.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};
    FUZZ_CHECK(!std::equal(kMapped, kMapped + 12, a->bytes().begin()))
        << canonical;
  }
}

void CheckPeer(std::string_view text) {
  std::optional<IpAddress> a = IpAddress::FromGrpcPeer(text);
  if (!a) return;
  FUZZ_CHECK(a->is_known()) << Escaped(Sv(text));
  // gRPC 1.51's forms: "ipv4:1.2.3.4:PORT" and "ipv6:%5B::1%5D:PORT".
  const std::string peer =
      a->is_v4() ? absl::StrCat("ipv4:", a->ToString(), ":443")
                 : absl::StrCat("ipv6:%5B", a->ToString(), "%5D:443");
  std::optional<IpAddress> again = IpAddress::FromGrpcPeer(peer);
  FUZZ_CHECK(again && *again == *a) << Escaped(Sv(text)) << " -> " << peer;
}

// Reference: the first `prefix` bits of a and n are equal.
bool InPrefix(const std::array<uint8_t, 16>& a,
              const std::array<uint8_t, 16>& n, int prefix) {
  for (int bit = 0; bit < prefix; ++bit) {
    const uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a[bit / 8] & mask) != (n[bit / 8] & mask)) return false;
  }
  return true;
}

void CheckRange(std::string_view text) {
  absl::StatusOr<CidrRange> r = CidrRange::Parse(text);
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument)
        << r.status();
    FUZZ_CHECK(absl::StartsWith(r.status().message(), "IP range '"))
        << r.status();
    return;
  }
  const IpAddress& net = r->network();
  const int bits = net.bit_length();
  FUZZ_CHECK(net.is_known());
  FUZZ_CHECK(r->prefix_length() >= 0 && r->prefix_length() <= bits)
      << r->prefix_length();
  FUZZ_CHECK(r->Contains(net)) << r->ToString();
  const std::string canonical = r->ToString();
  absl::StatusOr<CidrRange> again = CidrRange::Parse(canonical);
  FUZZ_CHECK(again.ok()) << again.status() << " from " << Escaped(Sv(text));
  FUZZ_CHECK(again->network() == net &&
             again->prefix_length() == r->prefix_length())
      << canonical << " vs " << again->ToString();

  for (int bit = 0; bit < bits; ++bit) {
    std::array<uint8_t, 16> b = net.bytes();
    b[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    const IpAddress probe = net.is_v4() ? IpAddress::FromV4Bytes(b.data())
                                        : IpAddress::FromV6Bytes(b.data());
    if (probe.family() != net.family()) {
      // Flipping bits of an IPv6 network can give an IPv4-mapped address,
      // which is IPv4 and therefore outside every IPv6 range.
      FUZZ_CHECK(!r->Contains(probe)) << canonical << " " << probe.ToString();
      continue;
    }
    const bool expected =
        InPrefix(probe.bytes(), net.bytes(), r->prefix_length());
    FUZZ_CHECK(expected == (bit >= r->prefix_length()));
    FUZZ_CHECK(r->Contains(probe) == expected)
        << canonical << " contains " << probe.ToString() << ": "
        << r->Contains(probe);
  }
  const uint8_t zeros[16] = {};
  const IpAddress other = net.is_v4() ? IpAddress::FromV6Bytes(zeros)
                                      : IpAddress::FromV4Bytes(zeros);
  FUZZ_CHECK(!r->Contains(other)) << canonical << " " << other.ToString();
  FUZZ_CHECK(!r->Contains(IpAddress())) << "an unknown address is in no range";
}

void CheckSet(std::string_view text) {
  std::vector<std::string> entries =
      absl::StrSplit(Sv(text), '\n', absl::SkipEmpty());
  if (entries.size() > 16) return;
  absl::StatusOr<CidrSet> set = CidrSet::Parse(entries);
  bool all_ok = true;
  for (const std::string& e : entries)
    all_ok = all_ok && CidrRange::Parse(e).ok();
  FUZZ_CHECK(set.ok() == all_ok) << set.status();
  if (!set.ok()) {
    FUZZ_CHECK(absl::StartsWith(set.status().message(), "entry "))
        << set.status();
    return;
  }
  FUZZ_CHECK(set->ranges().size() == entries.size());
  FUZZ_CHECK(set->empty() == entries.empty());
  for (const CidrRange& r : set->ranges()) {
    FUZZ_CHECK(set->Contains(r.network()));
  }
}

}  // namespace
}  // namespace crm::login

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crm::login;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckAddress(text);
  CheckPeer(text);
  CheckRange(text);
  CheckSet(text);
  return 0;
}
