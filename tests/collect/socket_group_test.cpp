#include "collect/socket_group.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::collect {
namespace {

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

/// A local source address to send from (and to: the listeners bind "any" or the loopback).
struct Source {
  sockaddr_storage addr{};
  socklen_t len = 0;
  flow::IpAddress ip;
  std::string text;
};

Source v4_source(const std::string& text) {
  Source s;
  auto* a = reinterpret_cast<sockaddr_in*>(&s.addr);
  a->sin_family = AF_INET;
  inet_pton(AF_INET, text.c_str(), &a->sin_addr);
  s.len = sizeof(sockaddr_in);
  s.ip = *flow::IpAddress::parse(text);
  s.text = text;
  return s;
}

/// A UDP socket bound to `from` (port 0: a fresh source port). -1 if it cannot be bound.
int open_sender(const Source& from) {
  const int fd = socket(from.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&from.addr), from.len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Sends `payload` from `fd` to `to` with its port set to `port`.
bool send_to(int fd, const Source& to, uint16_t port, const std::string& payload) {
  sockaddr_storage dst = to.addr;
  if (dst.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&dst)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&dst)->sin6_port = htons(port);
  }
  return sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&dst),
                to.len) == static_cast<ssize_t>(payload.size());
}

/// What one test saw: per listener, per source address, the datagrams and the source ports.
struct Seen {
  std::map<flow::IpAddress, std::map<size_t, uint64_t>> listeners_by_source;
  std::map<flow::IpAddress, std::set<uint16_t>> ports_by_source;
  uint64_t total = 0;
};

/// Takes whatever is ready on every listener, waiting at most `timeout_ms` on each.
void drain_group(UdpListenerGroup& group, int timeout_ms, Seen& seen) {
  std::vector<ReceivedDatagram> batch;
  for (size_t listener_idx = 0; listener_idx < group.size(); ++listener_idx) {
    do {
      ASSERT_TRUE(group.listener(listener_idx).receive(timeout_ms, batch));
      for (const ReceivedDatagram& d : batch) {
        ++seen.listeners_by_source[d.src][listener_idx];
        seen.ports_by_source[d.src].insert(d.src_port);
        ++seen.total;
      }
    } while (!batch.empty());
  }
}

/// Sends `per_port` datagrams from each of `ports` source ports of every source to `dest`
/// (nullptr: to the source's own address) on `port`, then checks that each source address
/// reached exactly one listener, the one shard_of names.
void expect_affinity(UdpListenerGroup& group, const std::vector<Source>& sources,
                     const Source* dest, uint16_t port, size_t ports, size_t per_port) {
  const auto shards = static_cast<uint32_t>(group.size());
  Seen seen;
  uint64_t sent = 0;
  for (const Source& source : sources) {
    // All of a source's sockets stay open until it is done, so their ports differ (a closed
    // socket's ephemeral port may be handed out again at once).
    std::vector<int> fds;
    for (size_t port_idx = 0; port_idx < ports; ++port_idx) {
      const int fd = open_sender(source);
      ASSERT_GE(fd, 0) << source.text;
      fds.push_back(fd);
      for (size_t packet_idx = 0; packet_idx < per_port; ++packet_idx) {
        ASSERT_TRUE(send_to(fd, dest != nullptr ? *dest : source, port, source.text))
            << source.text << ": " << std::strerror(errno);
        ++sent;
      }
    }
    for (int fd : fds) close(fd);
    drain_group(group, 0, seen);  // keep the queues short: no drop can blur the result
  }
  // Loopback delivers during sendto; the deadline only keeps a broken group from hanging.
  const int64_t deadline = monotonic_ms() + 2000;
  while (seen.total < sent && monotonic_ms() < deadline) drain_group(group, 10, seen);
  ASSERT_EQ(seen.total, sent);
  EXPECT_EQ(group.stats().kernel_drops, 0u);

  std::set<size_t> used;
  for (const Source& source : sources) {
    const auto& by_listener = seen.listeners_by_source[source.ip];
    ASSERT_EQ(by_listener.size(), 1u) << source.text << " reached several listeners";
    const auto& [listener_idx, count] = *by_listener.begin();
    EXPECT_EQ(listener_idx, UdpListenerGroup::shard_of(source.ip, shards)) << source.text;
    EXPECT_EQ(count, ports * per_port) << source.text;
    EXPECT_EQ(seen.ports_by_source[source.ip].size(), ports) << source.text;
    used.insert(listener_idx);
  }
  // The addresses below are chosen to cover every shard, so the test is not passed by a
  // program that sends everything to socket 0.
  EXPECT_EQ(used.size(), shards);
}

std::vector<Source> loopback_sources() {
  std::vector<Source> sources;
  for (int host = 1; host <= 16; ++host)
    sources.push_back(v4_source("127.0.0." + std::to_string(host)));
  for (int host = 1; host <= 4; ++host)
    sources.push_back(v4_source("127.23.45." + std::to_string(host)));
  return sources;
}

/// Every IPv6 address of this host that a UDP socket can bind (link-local with its scope).
std::vector<Source> local_v6_sources() {
  std::vector<Source> sources;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return sources;
  for (ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET6) continue;
    Source s;
    std::memcpy(&s.addr, ifa->ifa_addr, sizeof(sockaddr_in6));
    s.len = sizeof(sockaddr_in6);
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
    s.ip = flow::IpAddress::from_v6_bytes(reinterpret_cast<const std::byte*>(&a6->sin6_addr));
    s.text = s.ip.to_string() + "%" + ifa->ifa_name;
    const int fd = open_sender(s);
    if (fd < 0) continue;  // tentative (DAD) or otherwise unusable
    close(fd);
    sources.push_back(s);
  }
  freeifaddrs(list);
  return sources;
}

TEST(UdpListenerGroup, ShardOfIsStableAndInRange) {
  const flow::IpAddress a = *flow::IpAddress::parse("192.0.2.1");
  EXPECT_EQ(UdpListenerGroup::shard_of(a, 0), 0u);
  EXPECT_EQ(UdpListenerGroup::shard_of(a, 1), 0u);
  for (uint32_t shards = 2; shards <= 8; ++shards) {
    for (uint32_t host = 0; host < 256; ++host) {
      const auto v4 = flow::IpAddress::from_v4(0xC0000200u | host);
      EXPECT_LT(UdpListenerGroup::shard_of(v4, shards), shards);
    }
  }
  // Pinned: changing the hash moves exporters between threads (and their saved state), so
  // it must be a decision, not an accident. h = 0xC0000201; h ^= h >> 16 -> 0xC000C201;
  // h *= 0x9E3779B1 -> 0x686F9BB1 (mod 2^32); h >>= 16 -> 0x686F = 26735.
  EXPECT_EQ(UdpListenerGroup::shard_of(a, 65536), 26735u);
  EXPECT_EQ(UdpListenerGroup::shard_of(a, 4), 26735u % 4);
  // IPv6 hashes the XOR of its words: 2001:db8::1 -> 0x20010DB8 ^ 1.
  const flow::IpAddress v6 = *flow::IpAddress::parse("2001:db8::1");
  const flow::IpAddress v6_same_xor = *flow::IpAddress::parse("::2001:db9");
  EXPECT_EQ(UdpListenerGroup::shard_of(v6, 7), UdpListenerGroup::shard_of(v6_same_xor, 7));
  // A v4-mapped address hashes as the IPv4 address it maps (what the kernel sees on the wire).
  EXPECT_EQ(UdpListenerGroup::shard_of(*flow::IpAddress::parse("::ffff:192.0.2.1"), 65536), 26735u);
}

class GroupSteering : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GroupSteering, EveryDatagramOfAnExporterAddressReachesItsShard) {
  const uint32_t shards = GetParam();
  std::string error;
  auto group = UdpListenerGroup::open({{"127.0.0.1", 0}}, shards, ListenOptions{}, error);
  ASSERT_NE(group, nullptr) << error;
  ASSERT_TRUE(group->steering()) << group->steering_error();
  ASSERT_EQ(group->size(), shards);
  const uint16_t port = group->listener(0).local_ports().at(0);
  ASSERT_NE(port, 0);
  for (size_t listener_idx = 0; listener_idx < shards; ++listener_idx) {
    EXPECT_EQ(group->listener(listener_idx).local_ports(), std::vector<uint16_t>{port});
    EXPECT_EQ(group->listener(listener_idx).index(), listener_idx);
  }
  const Source dest = v4_source("127.0.0.1");
  expect_affinity(*group, loopback_sources(), &dest, port, 3, 4);
}

INSTANTIATE_TEST_SUITE_P(Shards, GroupSteering, ::testing::Values(2u, 4u));

TEST(UdpListenerGroup, DualStackSteersIpv4AndIpv6) {
  std::string error;
  auto group = UdpListenerGroup::open({{"", 0}}, 4, ListenOptions{}, error);
  ASSERT_NE(group, nullptr) << error;
  const std::vector<SocketStats> sockets = group->socket_stats();
  ASSERT_EQ(sockets.size(), 4u);
  if (!sockets[0].dual_stack) GTEST_SKIP() << "no IPv6 on this host";
  ASSERT_TRUE(group->steering()) << group->steering_error();
  for (const SocketStats& s : sockets) {
    EXPECT_EQ(s.family, AF_INET6);
    EXPECT_TRUE(s.dual_stack);
    EXPECT_EQ(s.endpoint, "[::]:" + std::to_string(sockets[0].local_port));
  }
  std::vector<Source> sources = loopback_sources();
  const std::vector<Source> v6 = local_v6_sources();
  ASSERT_FALSE(v6.empty());  // ::1 at least, since a dual-stack socket was bound
  sources.insert(sources.end(), v6.begin(), v6.end());
  // Each source sends to its own address: every one is local, and the group listens on all.
  expect_affinity(*group, sources, nullptr, sockets[0].local_port, 2, 3);
}

TEST(UdpListenerGroup, Ipv6OnlyLoopback) {
  std::string error;
  auto group = UdpListenerGroup::open({{"::1", 0}}, 2, ListenOptions{}, error);
  if (group == nullptr) GTEST_SKIP() << "no IPv6 loopback: " << error;
  ASSERT_TRUE(group->steering()) << group->steering_error();
  const SocketStats s = group->socket_stats().at(0);
  EXPECT_EQ(s.family, AF_INET6);
  EXPECT_FALSE(s.dual_stack);
  EXPECT_EQ(s.endpoint, "[::1]:" + std::to_string(s.local_port));
  Source loopback;
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&loopback.addr);
  a6->sin6_family = AF_INET6;
  a6->sin6_addr = in6addr_loopback;
  loopback.len = sizeof(sockaddr_in6);
  loopback.ip = *flow::IpAddress::parse("::1");
  loopback.text = "::1";
  // One address, so one listener; the check is that it is shard_of's, from six source ports.
  Seen seen;
  uint64_t sent = 0;
  std::vector<int> fds;
  for (size_t port_idx = 0; port_idx < 6; ++port_idx) {
    const int fd = open_sender(loopback);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    ASSERT_TRUE(send_to(fd, loopback, s.local_port, "v6"));
    ++sent;
  }
  for (int fd : fds) close(fd);
  const int64_t deadline = monotonic_ms() + 2000;
  while (seen.total < sent && monotonic_ms() < deadline) drain_group(*group, 10, seen);
  ASSERT_EQ(seen.total, sent);
  const auto& by_listener = seen.listeners_by_source[loopback.ip];
  ASSERT_EQ(by_listener.size(), 1u);
  EXPECT_EQ(by_listener.begin()->first, UdpListenerGroup::shard_of(loopback.ip, 2));
  EXPECT_EQ(seen.ports_by_source[loopback.ip].size(), 6u);
}

TEST(UdpListenerGroup, ListenerIHoldsSocketIOfEveryEndpoint) {
  std::string error;
  auto group =
      UdpListenerGroup::open({{"127.0.0.1", 0}, {"127.0.0.1", 0}}, 3, ListenOptions{}, error);
  ASSERT_NE(group, nullptr) << error;
  const std::vector<uint16_t> ports = group->listener(0).local_ports();
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_NE(ports[0], ports[1]);
  for (size_t listener_idx = 0; listener_idx < group->size(); ++listener_idx) {
    EXPECT_EQ(group->listener(listener_idx).local_ports(), ports);
  }
  const std::vector<SocketStats> sockets = group->socket_stats();
  ASSERT_EQ(sockets.size(), 6u);
  for (size_t socket_idx = 0; socket_idx < sockets.size(); ++socket_idx) {
    EXPECT_EQ(sockets[socket_idx].listener, socket_idx / 2);
    EXPECT_EQ(sockets[socket_idx].local_port, ports[socket_idx % 2]);
    EXPECT_EQ(sockets[socket_idx].family, AF_INET);
  }
}

TEST(UdpListenerGroup, PortHeldElsewhereFailsInsteadOfSharing) {
  std::string error;
  auto first = UdpListenerGroup::open({{"127.0.0.1", 0}}, 2, ListenOptions{}, error);
  ASSERT_NE(first, nullptr) << error;
  const uint16_t port = first->listener(0).local_ports().at(0);
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  // A second group (SO_REUSEPORT, same user) would join the first one's group without the
  // exclusive probe.
  auto second = UdpListenerGroup::open({{"127.0.0.1", port}}, 2, ListenOptions{}, error);
  EXPECT_EQ(second, nullptr);
  EXPECT_NE(error.find(endpoint), std::string::npos) << error;
  error.clear();
  EXPECT_EQ(UdpListener::open({{"127.0.0.1", port}}, error), nullptr);
  EXPECT_NE(error.find(endpoint), std::string::npos) << error;

  // And the other way round: a plain listener's port refuses a group.
  auto single = UdpListener::open({{"127.0.0.1", 0}}, error);
  ASSERT_NE(single, nullptr) << error;
  const uint16_t single_port = single->local_ports().at(0);
  EXPECT_EQ(UdpListenerGroup::open({{"127.0.0.1", single_port}}, 2, ListenOptions{}, error),
            nullptr);
}

TEST(UdpListenerGroup, SeparateIpv4AndIpv6OnlyGroupsShareAPort) {
  // The default listeners bind 0.0.0.0:P and [::]:P (IPV6_V6ONLY on) side by side; with
  // several threads each is its own SO_REUSEPORT group, and neither probe sees the other.
  std::string error;
  auto v4 = UdpListenerGroup::open({{"0.0.0.0", 0}}, 2, ListenOptions{}, error);
  ASSERT_NE(v4, nullptr) << error;
  const uint16_t port = v4->listener(0).local_ports().at(0);
  auto v6 = UdpListenerGroup::open({{"::", port}}, 2, ListenOptions{}, error);
  if (v6 == nullptr && error.find("Address family") != std::string::npos) {
    GTEST_SKIP() << error;
  }
  ASSERT_NE(v6, nullptr) << error;
  EXPECT_FALSE(v6->socket_stats().at(0).dual_stack);
  EXPECT_TRUE(v4->steering()) << v4->steering_error();
  EXPECT_TRUE(v6->steering()) << v6->steering_error();
  const Source dest = v4_source("127.0.0.1");
  expect_affinity(*v4, loopback_sources(), &dest, port, 2, 2);
}

TEST(UdpListenerGroup, OneThreadNeedsNoProgram) {
  std::string error;
  auto group = UdpListenerGroup::open({{"127.0.0.1", 0}}, 1, ListenOptions{}, error);
  ASSERT_NE(group, nullptr) << error;
  EXPECT_TRUE(group->steering());
  EXPECT_TRUE(group->steering_error().empty());
  EXPECT_EQ(group->size(), 1u);
}

TEST(UdpListenerGroup, ReportsACappedReceiveBuffer) {
  ListenOptions options;
  options.receive_buffer_bytes = 1u << 30;  // 1 GiB
  options.force_receive_buffer = false;     // so rmem_max applies even to root
  std::string error;
  auto group = UdpListenerGroup::open({{"127.0.0.1", 0}}, 2, options, error);
  ASSERT_NE(group, nullptr) << error;
  const uint64_t rmem_max = group->rmem_max();
  if (rmem_max == 0 || rmem_max >= options.receive_buffer_bytes) {
    GTEST_SKIP() << "net.core.rmem_max is " << rmem_max;
  }
  for (const SocketStats& s : group->socket_stats()) {
    EXPECT_EQ(s.receive_buffer.requested_bytes, 1u << 30);
    EXPECT_FALSE(s.receive_buffer.forced);
    EXPECT_TRUE(s.receive_buffer.capped);
    EXPECT_EQ(s.receive_buffer.granted_bytes, rmem_max);
    EXPECT_EQ(s.receive_buffer.rmem_max, rmem_max);
  }
  const std::string warning = group->receive_buffer_warning();
  EXPECT_NE(warning.find("net.core.rmem_max = " + std::to_string(rmem_max)), std::string::npos)
      << warning;
  EXPECT_NE(warning.find("sysctl -w net.core.rmem_max=1073741824"), std::string::npos) << warning;
}

TEST(UdpListenerGroup, ForcedReceiveBufferIsReportedConsistently) {
  ListenOptions options;
  options.receive_buffer_bytes = 64u << 20;  // above the usual rmem_max
  std::string error;
  auto group = UdpListenerGroup::open({{"127.0.0.1", 0}}, 1, options, error);
  ASSERT_NE(group, nullptr) << error;
  const ReceiveBufferReport r = group->socket_stats().at(0).receive_buffer;
  EXPECT_EQ(r.requested_bytes, 64u << 20);
  EXPECT_EQ(r.capped, r.granted_bytes < r.requested_bytes);
  if (r.forced) {
    EXPECT_EQ(r.granted_bytes, 64u << 20);  // CAP_NET_ADMIN passes rmem_max
  } else if (r.rmem_max != 0) {
    EXPECT_LE(r.granted_bytes, std::max<uint64_t>(r.rmem_max, 4096));
  }
  EXPECT_EQ(group->receive_buffer_warning().empty(), !r.capped);
}

TEST(UdpListenerGroup, StatsAreReadableFromAnotherThread) {
  std::string error;
  auto group = UdpListenerGroup::open({{"127.0.0.1", 0}}, 2, ListenOptions{}, error);
  ASSERT_NE(group, nullptr) << error;
  const uint16_t port = group->listener(0).local_ports().at(0);
  std::atomic<bool> done{false};
  uint64_t last_seen = 0;
  bool monotonic = true;
  std::thread metrics([&] {
    while (!done.load()) {
      const uint64_t now = group->stats().datagrams;
      if (now < last_seen) monotonic = false;
      last_seen = now;
      (void)group->socket_stats();
    }
  });
  const Source dest = v4_source("127.0.0.1");
  Seen seen;
  uint64_t sent = 0;
  for (const Source& source : loopback_sources()) {
    const int fd = open_sender(source);
    ASSERT_GE(fd, 0);
    for (int packet_idx = 0; packet_idx < 5; ++packet_idx) {
      ASSERT_TRUE(send_to(fd, dest, port, "x"));
      ++sent;
    }
    close(fd);
    drain_group(*group, 0, seen);
  }
  const int64_t deadline = monotonic_ms() + 2000;
  while (seen.total < sent && monotonic_ms() < deadline) drain_group(*group, 10, seen);
  done.store(true);
  metrics.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(group->stats().datagrams, sent);
  uint64_t per_socket = 0;
  for (const SocketStats& s : group->socket_stats()) per_socket += s.counters.datagrams;
  EXPECT_EQ(per_socket, sent);
}

}  // namespace
}  // namespace fathom::collect
