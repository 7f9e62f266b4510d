#include "auth/service_registry.h"

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace crm::auth {
namespace {

using crm::internal::ServerConfig;

ServerConfig ParseConfig(const std::string& text) {
  ServerConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &config))
      << text;
  return config;
}

constexpr char kGoodConfig[] = R"pb(
  services {
    name: "web-frontend"
    identities: "spiffe://crm.local/svc/web-frontend"
    identities: "web-frontend.svc.crm.local"
    trusted_gateway: true
    grants { object: "*" read: true }
    allowed_ip_ranges: "10.0.0.0/8"
    allowed_countries: "FR"
  }
  services {
    name: "billing"
    identities: "spiffe://crm.local/svc/billing"
    grants { object: "accounts" read: true edit: true }
  }
)pb";

TEST(ServiceRegistry, FindsServicesByIdentityAndName) {
  ServerConfig config = ParseConfig(kGoodConfig);
  absl::StatusOr<ServiceRegistry> registry =
      ServiceRegistry::Create(config.services());
  ASSERT_TRUE(registry.ok()) << registry.status();

  struct Case {
    std::string identity;
    std::string want;  // empty: not found
  };
  const Case cases[] = {
      {"spiffe://crm.local/svc/web-frontend", "web-frontend"},
      {"web-frontend.svc.crm.local", "web-frontend"},
      {"spiffe://crm.local/svc/billing", "billing"},
      {"billing.svc.crm.local", ""},  // not registered as an identity
      {"spiffe://crm.local/svc/billing/", ""},
      {"SPIFFE://crm.local/svc/billing", ""},  // exact match only
      {"", ""},
  };
  for (const Case& c : cases) {
    const auto* found = registry->FindByIdentity(c.identity);
    if (c.want.empty()) {
      EXPECT_EQ(found, nullptr) << "identity '" << c.identity << "'";
    } else {
      ASSERT_NE(found, nullptr) << "identity '" << c.identity << "'";
      EXPECT_EQ(found->name(), c.want) << "identity '" << c.identity << "'";
    }
  }

  const auto* web = registry->FindByName("web-frontend");
  ASSERT_NE(web, nullptr);
  EXPECT_TRUE(web->trusted_gateway());
  ASSERT_EQ(web->grants_size(), 1);
  EXPECT_EQ(web->grants(0).object(), "*");
  EXPECT_EQ(web->allowed_ip_ranges(0), "10.0.0.0/8");
  EXPECT_EQ(registry->FindByName("nobody"), nullptr);
  EXPECT_EQ(registry->services().size(), 2u);
}

TEST(ServiceRegistry, PointersSurviveMove) {
  ServerConfig config = ParseConfig(kGoodConfig);
  absl::StatusOr<ServiceRegistry> registry =
      ServiceRegistry::Create(config.services());
  ASSERT_TRUE(registry.ok()) << registry.status();
  const auto* billing = registry->FindByName("billing");
  ServiceRegistry moved = std::move(*registry);
  EXPECT_EQ(moved.FindByName("billing"), billing);
}

TEST(ServiceRegistry, EmptyConfigFindsNothing) {
  ServerConfig config;
  absl::StatusOr<ServiceRegistry> registry =
      ServiceRegistry::Create(config.services());
  ASSERT_TRUE(registry.ok()) << registry.status();
  EXPECT_EQ(registry->FindByIdentity("spiffe://crm.local/svc/billing"),
            nullptr);
}

TEST(ServiceRegistry, RejectsInvalidConfigs) {
  struct Case {
    std::string name;
    std::string config;
    std::string want_in_message;
  };
  const Case cases[] =
      {
          {"uppercase name",
           R"pb(services { name: "Billing" identities: "x" })pb",
           "invalid service name"},
          {"empty name", R"pb(services { identities: "x" })pb",
           "invalid service name"},
          {"leading digit", R"pb(services { name: "1svc" identities: "x" })pb",
           "invalid service name"},
          {"underscore", R"pb(services { name: "a_b" identities: "x" })pb",
           "invalid service name"},
          {"too long",
           "services { name: \"" + std::string(64, 'a') +
               "\" identities: \"x\" }",
           "invalid service name"},
          {"no identities", R"pb(services { name: "billing" })pb",
           "no identities"},
          {"empty identity",
           R"pb(services { name: "billing" identities: "" })pb",
           "empty or contains spaces"},
          {"duplicate name",
           R"pb(services { name: "billing" identities: "a" }
                services { name: "billing" identities: "b" })pb",
           "duplicate service name 'billing'"},
          {"shared identity",
           R"pb(services { name: "billing" identities: "a" }
                services { name: "marketing" identities: "a" })pb",
           "identity 'a' is already used by service 'billing'"},
          {"grant without object",
           R"pb(services {
                  name: "billing"
                  identities: "a"
                  grants { read: true }
                })pb",
           "grant has no object"},
          {"bad country",
           R"pb(services {
                  name: "billing"
                  identities: "a"
                  allowed_countries: "fr"
                })pb",
           "allowed_countries entry 'fr'"},
          {"empty range",
           R"pb(services {
                  name: "billing"
                  identities: "a"
                  allowed_ip_ranges: ""
                })pb",
           "allowed_ip_ranges"},
      };
  for (const Case& c : cases) {
    ServerConfig config = ParseConfig(c.config);
    absl::StatusOr<ServiceRegistry> registry =
        ServiceRegistry::Create(config.services());
    ASSERT_FALSE(registry.ok()) << c.name;
    EXPECT_EQ(registry.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name;
    EXPECT_NE(registry.status().message().find(c.want_in_message),
              std::string::npos)
        << c.name << ": " << registry.status();
  }
}

TEST(ServiceRegistry, ValidNames) {
  EXPECT_TRUE(IsValidServiceName("a"));
  EXPECT_TRUE(IsValidServiceName("order-fulfilment"));
  EXPECT_TRUE(IsValidServiceName("svc2"));
  EXPECT_TRUE(IsValidServiceName(std::string(63, 'a')));
  EXPECT_FALSE(IsValidServiceName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidServiceName("-a"));
  EXPECT_FALSE(IsValidServiceName("a.b"));
}

}  // namespace
}  // namespace crm::auth
