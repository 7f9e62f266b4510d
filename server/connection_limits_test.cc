#include "server/connection_limits.h"

#include <sys/resource.h>

#include "gtest/gtest.h"

namespace crm::server {
namespace {

using crm::internal::ConnectionsConfig;

TEST(ConnectionLimits, ZeroFieldsGetTheDocumentedDefaults) {
  ConnectionsConfig c;
  FillConnectionDefaults(&c);
  EXPECT_EQ(c.max_concurrent_streams(), 100u);
  EXPECT_EQ(c.handshake_timeout_seconds(), 10u);
  EXPECT_EQ(c.keepalive_time_seconds(), 60u);
  EXPECT_EQ(c.keepalive_timeout_seconds(), 20u);
  EXPECT_EQ(c.max_connection_idle_seconds(), 300u);
  EXPECT_EQ(c.max_connection_age_seconds(), 1800u);
  EXPECT_EQ(c.max_connection_age_grace_seconds(), 30u);
  EXPECT_EQ(c.reserved_descriptors(), 64u);
  EXPECT_EQ(c.max_connections(), 0u) << "0 is 'no limit of its own'";
}

TEST(ConnectionLimits, SetFieldsAreKept) {
  ConnectionsConfig c;
  c.set_max_concurrent_streams(7);
  c.set_handshake_timeout_seconds(1);
  c.set_max_connection_idle_seconds(2);
  c.set_reserved_descriptors(3);
  c.set_max_connections(4);
  FillConnectionDefaults(&c);
  EXPECT_EQ(c.max_concurrent_streams(), 7u);
  EXPECT_EQ(c.handshake_timeout_seconds(), 1u);
  EXPECT_EQ(c.max_connection_idle_seconds(), 2u);
  EXPECT_EQ(c.reserved_descriptors(), 3u);
  EXPECT_EQ(c.max_connections(), 4u);
}

TEST(ConnectionLimits, ReserveBeyondTheDescriptorLimitIsRefused) {
  ConnectionsConfig c;
  c.set_reserved_descriptors(1u << 30);
  grpc::ServerBuilder builder;
  absl::Status s = ApplyConnectionLimits(c, builder);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("reserved_descriptors (1073741824)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("ulimit -n"), std::string::npos) << s;
}

TEST(ConnectionLimits, SoftDescriptorLimitIsRaisedToTheHardLimit) {
  ConnectionsConfig c;
  grpc::ServerBuilder builder;
  ASSERT_TRUE(ApplyConnectionLimits(c, builder).ok());
  rlimit lim;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(lim.rlim_cur, lim.rlim_max);
  }
  EXPECT_EQ(DescriptorLimit(), lim.rlim_cur);
}

}  // namespace
}  // namespace crm::server
