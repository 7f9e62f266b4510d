#include "login/ip_address.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace crm::login {
namespace {

TEST(IpAddress, Parse) {
  struct Case {
    std::string text;
    bool ok;
    std::string canonical;  // if ok
    bool v4;
  } cases[] = {
      {"127.0.0.1", true, "127.0.0.1", true},
      {"0.0.0.0", true, "0.0.0.0", true},
      {"255.255.255.255", true, "255.255.255.255", true},
      {"::1", true, "::1", false},
      {"::", true, "::", false},
      {"2001:DB8::1", true, "2001:db8::1", false},
      {"::ffff:10.1.2.3", true, "10.1.2.3", true},  // mapped -> v4
      {"::ffff:a01:203", true, "10.1.2.3", true},   // mapped, hex form
      {"::10.1.2.3", true, "::10.1.2.3", false},    // compatible, not mapped
      {"", false, "", false},
      {"256.0.0.1", false, "", false},
      {"1.2.3", false, "", false},
      {"01.2.3.4", false, "", false},
      {"1.2.3.4 ", false, "", false},
      {"[::1]", false, "", false},
      {"fe80::1%eth0", false, "", false},
      {"1.2.3.4/8", false, "", false},
      {"localhost", false, "", false},
      {std::string("1.2.3.4\0", 8), false, "", false},
  };
  for (const Case& c : cases) {
    std::optional<IpAddress> a = IpAddress::Parse(c.text);
    ASSERT_EQ(a.has_value(), c.ok) << "'" << c.text << "'";
    if (!c.ok) continue;
    EXPECT_EQ(a->ToString(), c.canonical) << c.text;
    EXPECT_EQ(a->is_v4(), c.v4) << c.text;
    EXPECT_EQ(a->is_v6(), !c.v4) << c.text;
  }
}

TEST(IpAddress, DefaultIsUnknown) {
  IpAddress a;
  EXPECT_FALSE(a.is_known());
  EXPECT_EQ(a.ToString(), "unknown");
  EXPECT_NE(a, *IpAddress::Parse("0.0.0.0"));
  EXPECT_NE(a, *IpAddress::Parse("::"));
}

TEST(IpAddress, MappedEqualsV4) {
  EXPECT_EQ(*IpAddress::Parse("::ffff:127.0.0.1"),
            *IpAddress::Parse("127.0.0.1"));
  EXPECT_NE(*IpAddress::Parse("::127.0.0.1"), *IpAddress::Parse("127.0.0.1"));
}

TEST(IpAddress, FromGrpcPeer) {
  struct Case {
    std::string peer;
    std::string want;  // "" = nullopt
  } cases[] = {
      {"ipv4:127.9.9.9:43210", "127.9.9.9"},
      {"ipv4:10.0.0.1:1", "10.0.0.1"},
      {"ipv6:%5B::1%5D:50051", "::1"},
      {"ipv6:%5b::1%5d:50051", "::1"},
      {"ipv6:[::1]:50051", "::1"},
      {"ipv6:[2001:db8::7]:443", "2001:db8::7"},
      {"ipv6:%5B::ffff:127.0.0.1%5D:80", "127.0.0.1"},
      {"ipv6:[::ffff:127.1.0.1]:80", "127.1.0.1"},
      {"unix:/tmp/sock", ""},
      {"unix-abstract:foo", ""},
      {"ipv4:127.0.0.1", ""},  // no port
      {"ipv4:127.0.0.1:", ""},
      {"ipv4:127.0.0.1:port", ""},
      {"ipv4:::1:80", ""},  // v6 under ipv4:
      {"ipv6:::1:80", ""},  // no brackets
      {"ipv6:%5B::1:80", ""},
      {"ipv6:%5B::1%5D", ""},
      {"ipv6:%5G::1%5D:80", ""},
      {"ipv6:%5B::1%5D:80%", ""},
      {"ipv6:%5Bfe80::1%25eth0%5D:80", ""},  // zone ids are not accepted
      {"ipv6:%5B::1%00%5D:80", ""},
      {"", ""},
      {"127.0.0.1:80", ""},
  };
  for (const Case& c : cases) {
    std::optional<IpAddress> a = IpAddress::FromGrpcPeer(c.peer);
    if (c.want.empty()) {
      EXPECT_FALSE(a.has_value()) << c.peer << " -> " << a->ToString();
    } else {
      ASSERT_TRUE(a.has_value()) << c.peer;
      EXPECT_EQ(a->ToString(), c.want) << c.peer;
    }
  }
}

TEST(CidrRange, ParseValid) {
  struct Case {
    std::string text;
    std::string canonical;
  } cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {" 10.0.0.0/8 ", "10.0.0.0/8"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"127.0.0.1", "127.0.0.1/32"},
      {"127.0.0.1/32", "127.0.0.1/32"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"::/0", "::/0"},
      {"::1", "::1/128"},
      {"::1/128", "::1/128"},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
      {"::ffff:0:0/96", "0.0.0.0/0"},
      {"::ffff:10.1.2.3", "10.1.2.3/32"},
      {"192.168.1.128/25", "192.168.1.128/25"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CidrRange> r = CidrRange::Parse(c.text);
    ASSERT_TRUE(r.ok()) << "'" << c.text << "': " << r.status();
    EXPECT_EQ(r->ToString(), c.canonical) << c.text;
  }
}

TEST(CidrRange, ParseInvalid) {
  struct Case {
    std::string text;
    std::string message_part;
  } cases[] = {
      {"10.0.0.1/8", "did you mean 10.0.0.0/8?"},
      {"192.168.1.1/24", "did you mean 192.168.1.0/24?"},
      {"2001:db8::1/32", "did you mean 2001:db8::/32?"},
      {"1.0.0.0/0", "did you mean 0.0.0.0/0?"},
      {"10.0.0.0/33", "prefix length 33 is out of range 0..32"},
      {"::/129", "out of range 0..128"},
      {"10.0.0.0/", "not a number"},
      {"10.0.0.0/-1", "not a number"},
      {"10.0.0.0/8/8", "not a number"},
      {"10.0.0.0/ 8", "not a number"},
      {"10.0.0.0/0008", "not a number"},
      {"10.0.0/8", "'10.0.0' is not an IP address"},
      {"", "is not an IP address"},
      {"/8", "is not an IP address"},
      {"example.com/8", "is not an IP address"},
      {"::ffff:10.0.0.0/80", "at least 96"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CidrRange> r = CidrRange::Parse(c.text);
    ASSERT_FALSE(r.ok()) << "'" << c.text << "' parsed as " << r->ToString();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message_part))
        << c.text << ": " << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "'" + c.text + "'"))
        << "message must name the input: " << r.status();
  }
}

TEST(CidrRange, Contains) {
  struct Case {
    std::string range;
    std::string address;
    bool want;
  } cases[] = {
      {"10.0.0.0/8", "10.0.0.0", true},
      {"10.0.0.0/8", "10.255.255.255", true},
      {"10.0.0.0/8", "11.0.0.0", false},
      {"10.0.0.0/8", "9.255.255.255", false},
      {"10.0.0.0/8", "::ffff:10.1.1.1", true},  // mapped client
      {"10.0.0.0/8", "::10.1.1.1", false},
      {"192.168.1.128/25", "192.168.1.128", true},
      {"192.168.1.128/25", "192.168.1.255", true},
      {"192.168.1.128/25", "192.168.1.127", false},
      {"127.0.0.1/32", "127.0.0.1", true},
      {"127.0.0.1/32", "127.0.0.2", false},
      {"0.0.0.0/0", "1.2.3.4", true},
      {"0.0.0.0/0", "::1", false},  // families never mix
      {"::/0", "::1", true},
      {"::/0", "1.2.3.4", false},
      {"::/0", "::ffff:1.2.3.4", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/33", "2001:db8:7fff::", true},
      {"2001:db8::/33", "2001:db8:8000::", false},
      {"::1", "::1", true},
      {"::1", "::2", false},
      {"::ffff:10.0.0.0/104", "10.9.9.9", true},
  };
  for (const Case& c : cases) {
    absl::StatusOr<CidrRange> r = CidrRange::Parse(c.range);
    ASSERT_TRUE(r.ok()) << c.range << ": " << r.status();
    std::optional<IpAddress> a = IpAddress::Parse(c.address);
    ASSERT_TRUE(a.has_value()) << c.address;
    EXPECT_EQ(r->Contains(*a), c.want) << c.range << " contains " << c.address;
  }
  EXPECT_FALSE(CidrRange::Parse("0.0.0.0/0")->Contains(IpAddress()));
  EXPECT_FALSE(CidrRange::Parse("::/0")->Contains(IpAddress()));
}

TEST(CidrSet, ParseAndContains) {
  absl::StatusOr<CidrSet> set =
      CidrSet::Parse({"10.0.0.0/8", "2001:db8::/32", "127.0.0.1"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->ToString(), "10.0.0.0/8, 2001:db8::/32, 127.0.0.1/32");
  EXPECT_TRUE(set->Contains(*IpAddress::Parse("10.2.3.4")));
  EXPECT_TRUE(set->Contains(*IpAddress::Parse("2001:db8::5")));
  EXPECT_TRUE(set->Contains(*IpAddress::Parse("127.0.0.1")));
  EXPECT_FALSE(set->Contains(*IpAddress::Parse("127.0.0.2")));
  EXPECT_FALSE(set->Contains(IpAddress()));
  EXPECT_TRUE(CidrSet().empty());
  EXPECT_FALSE(CidrSet().Contains(*IpAddress::Parse("1.1.1.1")));
}

TEST(CidrSet, ErrorNamesTheEntry) {
  absl::StatusOr<CidrSet> set = CidrSet::Parse({"10.0.0.0/8", "10.0.0.1/8"});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(set.status().message(), "entry 2 of 2"))
      << set.status();
  EXPECT_TRUE(absl::StrContains(set.status().message(), "'10.0.0.1/8'"))
      << set.status();
}

}  // namespace
}  // namespace crm::login
