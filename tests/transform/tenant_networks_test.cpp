#include "transform/tenant_networks.h"

#include <gtest/gtest.h>

#include "testing/addresses.h"

namespace fathom::transform {
namespace {

using test_support::ip;
using test_support::prefix;

Tenant tenant(uint32_t id, std::vector<IpPrefix> networks) {
  Tenant t;
  t.id = id;
  t.name = "t" + std::to_string(id);
  t.internal_networks = std::move(networks);
  return t;
}

bool internal(const TenantNetworks& networks, uint32_t tenant_id, const char* address) {
  const RangeTable* table = networks.lookup(tenant_id);
  return table != nullptr && table->find(ip(address)) != 0;
}

TEST(TenantNetworks, DirectionTable) {
  EXPECT_EQ(direction_of(true, true), flow::Direction::kInternal);
  EXPECT_EQ(direction_of(true, false), flow::Direction::kOutbound);
  EXPECT_EQ(direction_of(false, true), flow::Direction::kInbound);
  EXPECT_EQ(direction_of(false, false), flow::Direction::kTransit);
}

TEST(TenantNetworks, LooksUpEachTenantsNetworks) {
  Config config;
  config.tenants.push_back(tenant(7, {prefix("198.51.100.0/24"), prefix("2001:db8:7::/48")}));
  config.tenants.push_back(tenant(3, {prefix("192.0.2.0/24"), prefix("192.0.2.128/25"),
                                      prefix("192.0.2.0/24")}));  // nested and repeated
  config.tenants.push_back(tenant(65535, {}));                    // no networks
  config.tenants.push_back(tenant(9, {prefix("0.0.0.0/0")}));
  const auto networks = TenantNetworks::from_config(config);
  EXPECT_EQ(networks->tenant_count(), 3u);

  EXPECT_TRUE(internal(*networks, 7, "198.51.100.1"));
  EXPECT_TRUE(internal(*networks, 7, "2001:db8:7::1"));
  EXPECT_FALSE(internal(*networks, 7, "192.0.2.1"));
  EXPECT_FALSE(internal(*networks, 7, "2001:db8:8::1"));
  EXPECT_TRUE(internal(*networks, 3, "192.0.2.0"));
  EXPECT_TRUE(internal(*networks, 3, "192.0.2.255"));
  EXPECT_FALSE(internal(*networks, 3, "192.0.3.0"));
  EXPECT_TRUE(internal(*networks, 9, "203.0.113.1"));
  EXPECT_FALSE(internal(*networks, 9, "2001:db8::1"));  // 0.0.0.0/0 is IPv4 only

  EXPECT_EQ(networks->lookup(65535), nullptr);
  EXPECT_EQ(networks->lookup(0), nullptr);
  EXPECT_EQ(networks->lookup(4), nullptr);
  EXPECT_GT(networks->memory_bytes(), 0u);
}

TEST(TenantNetworks, EmptyHasNoTenants) {
  const TenantNetworks empty;
  EXPECT_EQ(empty.lookup(1), nullptr);
  EXPECT_EQ(empty.tenant_count(), 0u);
}

}  // namespace
}  // namespace fathom::transform
