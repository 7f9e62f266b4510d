// IP addresses and CIDR ranges for login restrictions.
//
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is normalised to the IPv4
// address, so a client reaching a dual-stack listener over IPv4 matches IPv4
// ranges. IPv4 addresses match only IPv4 ranges and IPv6 addresses only IPv6
// ranges: to allow everything, list both 0.0.0.0/0 and ::/0.
//
// All types are immutable values, safe to share across threads.
#ifndef CRM_LOGIN_IP_ADDRESS_H_
#define CRM_LOGIN_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crm::login {

class IpAddress {
 public:
  enum class Family { kUnknown, kV4, kV6 };

  // An unknown address (e.g. a Unix-socket peer). It is in no range and has
  // no country, so every IP or country restriction refuses it.
  IpAddress() = default;

  // Parses dotted IPv4 ("127.0.0.1") or textual IPv6 ("2001:db8::1",
  // "::ffff:10.0.0.1"). No brackets, ports, zone ids or prefixes.
  static std::optional<IpAddress> Parse(std::string_view text);

  // Parses a gRPC peer string (ServerContext::peer()): "ipv4:1.2.3.4:PORT",
  // "ipv6:[::1]:PORT" or percent-encoded "ipv6:%5B::1%5D:PORT". Anything
  // else (unix:, malformed) gives nullopt.
  static std::optional<IpAddress> FromGrpcPeer(std::string_view peer);

  // Builds from raw network-order bytes.
  static IpAddress FromV4Bytes(const uint8_t bytes[4]);
  static IpAddress FromV6Bytes(const uint8_t bytes[16]);  // normalises mapped

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  bool is_v6() const { return family_ == Family::kV6; }
  bool is_known() const { return family_ != Family::kUnknown; }
  // Network-order bytes; the first 4 for IPv4, all 16 for IPv6.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  int bit_length() const { return is_v4() ? 32 : is_v6() ? 128 : 0; }

  // Canonical text ("127.0.0.1", "2001:db8::1"); "unknown" if unknown.
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) {
    return !(a == b);
  }

 private:
  Family family_ = Family::kUnknown;
  std::array<uint8_t, 16> bytes_{};
};

// One network: an address and a prefix length.
class CidrRange {
 public:
  // Parses "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128).
  // "::ffff:10.0.0.0/104" is taken as 10.0.0.0/8. Errors (INVALID_ARGUMENT,
  // naming the input): bad address, bad or out-of-range prefix, host bits
  // set below the prefix ("10.0.0.1/8": did you mean 10.0.0.0/8?).
  static absl::StatusOr<CidrRange> Parse(std::string_view text);

  // True iff `address` is of the same family and its first prefix_length()
  // bits equal the network's. An unknown address is in no range.
  bool Contains(const IpAddress& address) const;

  const IpAddress& network() const { return network_; }
  int prefix_length() const { return prefix_length_; }
  std::string ToString() const;  // "10.0.0.0/8"

 private:
  CidrRange(IpAddress network, int prefix_length)
      : network_(network), prefix_length_(prefix_length) {}
  IpAddress network_;
  int prefix_length_ = 0;
};

// A list of ranges; an address matches if any range contains it.
class CidrSet {
 public:
  CidrSet() = default;
  // Parses each entry with CidrRange::Parse; the error names the entry.
  static absl::StatusOr<CidrSet> Parse(const std::vector<std::string>& texts);

  bool Contains(const IpAddress& address) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<CidrRange>& ranges() const { return ranges_; }
  std::string ToString() const;  // "10.0.0.0/8, 2001:db8::/32"

 private:
  std::vector<CidrRange> ranges_;
};

}  // namespace crm::login

#endif  // CRM_LOGIN_IP_ADDRESS_H_
