#include "collect/udp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::collect {
namespace {

int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

/// Sends `payload` from a fresh UDP socket to 127.0.0.1:port; returns the sender's port.
uint16_t send_to(uint16_t port, std::string_view payload, int& sender_fd) {
  if (sender_fd < 0) sender_fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sendto(sender_fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to),
         sizeof(to));
  sockaddr_in self{};
  socklen_t len = sizeof(self);
  getsockname(sender_fd, reinterpret_cast<sockaddr*>(&self), &len);
  return ntohs(self.sin_port);
}

TEST(UdpListener, ReceivesAndCountsDatagrams) {
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, error);
  ASSERT_NE(listener, nullptr) << error;
  const std::vector<uint16_t> ports = listener->local_ports();
  ASSERT_EQ(ports.size(), 1u);
  ASSERT_NE(ports[0], 0);

  int sender = -1;
  const std::vector<std::string> sent = {"first", "second datagram", std::string(1400, 'x')};
  uint16_t sender_port = 0;
  for (const std::string& p : sent) sender_port = send_to(ports[0], p, sender);

  // Poll with a bounded wait until all three are in (loopback delivers at once; the deadline
  // only keeps a broken listener from hanging the test).
  std::vector<std::string> got;
  std::vector<ReceivedDatagram> batch;
  const int64_t deadline = monotonic_ms() + 5000;
  while (got.size() < sent.size() && monotonic_ms() < deadline) {
    ASSERT_TRUE(listener->receive(100, batch));
    for (const ReceivedDatagram& d : batch) {
      got.emplace_back(reinterpret_cast<const char*>(d.payload.data()), d.payload.size());
      EXPECT_EQ(d.src.to_string(), "127.0.0.1");
      EXPECT_EQ(d.src_port, sender_port);
      EXPECT_EQ(d.local_port, ports[0]);
      EXPECT_GT(d.arrival_ns, 0);
    }
  }
  close(sender);
  EXPECT_EQ(got, sent);
  EXPECT_EQ(listener->stats().datagrams, 3u);
  EXPECT_EQ(listener->stats().bytes, 5u + 15u + 1400u);
  EXPECT_EQ(listener->stats().errors, 0u);
}

TEST(UdpListener, TimesOutWithNothingToRead) {
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, error);
  ASSERT_NE(listener, nullptr) << error;
  std::vector<ReceivedDatagram> batch(3);
  ASSERT_TRUE(listener->receive(0, batch));
  EXPECT_TRUE(batch.empty());
}

TEST(UdpListener, WakeFdInterruptsTheWait) {
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, error);
  ASSERT_NE(listener, nullptr) << error;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  ASSERT_EQ(write(pipe_fds[1], "x", 1), 1);
  std::vector<ReceivedDatagram> batch;
  bool woken = false;
  ASSERT_TRUE(listener->receive(5000, batch, pipe_fds[0], &woken));
  EXPECT_TRUE(woken);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST(UdpListener, BindFailureNamesTheEndpoint) {
  // 192.0.2.1 (TEST-NET-1) is not a local address, so bind fails with EADDRNOTAVAIL.
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}, {"192.0.2.1", 2055}}, error);
  EXPECT_EQ(listener, nullptr);
  EXPECT_NE(error.find("192.0.2.1:2055"), std::string::npos) << error;
}

/// Receives until `want` datagrams arrived or a 2 s deadline passed (the deadline only keeps
/// a broken listener from hanging the test); returns the payloads and each batch's size.
std::vector<std::string> receive_n(UdpListener& listener, size_t want,
                                   std::vector<size_t>* batch_sizes = nullptr) {
  std::vector<std::string> got;
  std::vector<ReceivedDatagram> batch;
  const int64_t deadline = monotonic_ms() + 2000;
  while (got.size() < want && monotonic_ms() < deadline) {
    if (!listener.receive(10, batch)) break;
    if (batch_sizes != nullptr && !batch.empty()) batch_sizes->push_back(batch.size());
    for (const ReceivedDatagram& d : batch) {
      got.emplace_back(reinterpret_cast<const char*>(d.payload.data()), d.payload.size());
    }
  }
  return got;
}

TEST(UdpListener, CountsKernelDropsFromSoRxqOvfl) {
  ListenOptions options;
  options.receive_buffer_bytes = 4096;  // the kernel's minimum or near it: a few datagrams
  options.force_receive_buffer = false;
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, options, error);
  ASSERT_NE(listener, nullptr) << error;
  const uint16_t port = listener->local_ports().at(0);

  // Flood without reading: the queue fills after a few datagrams, the rest are dropped.
  int sender = -1;
  constexpr uint64_t kFlood = 400;
  const std::string payload(1000, 'f');
  for (uint64_t i = 0; i < kFlood; ++i) send_to(port, payload, sender);
  // Read what was queued: loopback delivers inside sendto, so everything sent is queued or
  // dropped by now; a receive that finds nothing ends the drain.
  uint64_t received = 0;
  std::vector<ReceivedDatagram> batch;
  do {
    ASSERT_TRUE(listener->receive(0, batch));
    received += batch.size();
  } while (!batch.empty());
  ASSERT_GT(received, 0u);
  ASSERT_LT(received, kFlood);
  // The kernel stamps its drop count on the next datagram it queues, so one more is needed
  // for the drops to show.
  send_to(port, "probe", sender);
  const std::vector<std::string> probe = receive_n(*listener, 1);
  ASSERT_EQ(probe, std::vector<std::string>{"probe"});
  close(sender);

  const UdpListenerStats stats = listener->stats();
  EXPECT_EQ(stats.datagrams, received + 1);
  EXPECT_EQ(stats.kernel_drops, kFlood - received);
  const std::vector<SocketStats> sockets = listener->socket_stats();
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].counters.kernel_drops, kFlood - received);
  EXPECT_EQ(sockets[0].endpoint, "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(sockets[0].local_address.to_string(), "127.0.0.1");
  EXPECT_EQ(sockets[0].family, AF_INET);
  EXPECT_FALSE(sockets[0].receive_buffer.forced);
  EXPECT_EQ(sockets[0].receive_buffer.requested_bytes, 4096u);
}

TEST(UdpListener, BatchSizeBoundsEachReceive) {
  ListenOptions options;
  options.batch_size = 4;
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, options, error);
  ASSERT_NE(listener, nullptr) << error;
  EXPECT_EQ(listener->batch_size(), 4u);
  int sender = -1;
  for (int i = 0; i < 10; ++i) send_to(listener->local_ports()[0], std::to_string(i), sender);
  close(sender);
  std::vector<size_t> sizes;
  const std::vector<std::string> got = receive_n(*listener, 10, &sizes);
  EXPECT_EQ(got, (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()), 4u);
}

TEST(UdpListener, BatchSizeIsClamped) {
  ListenOptions options;
  options.batch_size = 0;
  std::string error;
  auto small = UdpListener::open({{"127.0.0.1", 0}}, options, error);
  ASSERT_NE(small, nullptr) << error;
  EXPECT_EQ(small->batch_size(), 1u);
  options.batch_size = 100000;
  auto large = UdpListener::open({{"127.0.0.1", 0}}, options, error);
  ASSERT_NE(large, nullptr) << error;
  EXPECT_EQ(large->batch_size(), UdpListener::kMaxBatch);
}

TEST(UdpListener, LargestDatagramsArriveWholeInEverySlot) {
  ListenOptions options;
  options.batch_size = 3;
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}}, options, error);
  ASSERT_NE(listener, nullptr) << error;
  int sender = -1;
  // 65507 is the largest UDP payload over IPv4 (65535 - 20 - 8).
  const std::vector<std::string> sent = {std::string(65507, 'a'), "small", std::string(65507, 'c'),
                                         std::string(30000, 'd')};
  for (const std::string& p : sent) send_to(listener->local_ports()[0], p, sender);
  close(sender);
  EXPECT_EQ(receive_n(*listener, sent.size()), sent);
  EXPECT_EQ(listener->stats().truncated, 0u);
}

TEST(UdpListener, ServesMoreSocketsThanOnePollArrayOf64) {
  std::vector<ListenEndpoint> endpoints(70, ListenEndpoint{"127.0.0.1", 0});
  std::string error;
  auto listener = UdpListener::open(endpoints, error);
  ASSERT_NE(listener, nullptr) << error;
  const std::vector<uint16_t> ports = listener->local_ports();
  ASSERT_EQ(ports.size(), 70u);
  int sender = -1;
  send_to(ports.back(), "last", sender);
  send_to(ports.front(), "first", sender);
  close(sender);
  std::vector<std::string> got = receive_n(*listener, 2);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"first", "last"}));
}

TEST(UdpListener, BusySocketDoesNotStarveTheOthers) {
  ListenOptions options;
  options.batch_size = 4;
  std::string error;
  auto listener = UdpListener::open({{"127.0.0.1", 0}, {"127.0.0.1", 0}}, options, error);
  ASSERT_NE(listener, nullptr) << error;
  const std::vector<uint16_t> ports = listener->local_ports();
  int sender = -1;
  for (int i = 0; i < 40; ++i) send_to(ports[0], "busy", sender);
  send_to(ports[1], "quiet", sender);
  close(sender);
  // The quiet socket's datagram must come within the first two receives, not after the busy
  // socket's ten batches.
  std::vector<ReceivedDatagram> batch;
  bool quiet_seen = false;
  for (int call = 0; call < 2 && !quiet_seen; ++call) {
    ASSERT_TRUE(listener->receive(1000, batch));
    for (const ReceivedDatagram& d : batch) quiet_seen |= d.local_port == ports[1];
  }
  EXPECT_TRUE(quiet_seen);
}

TEST(ListenEndpoint, Parses) {
  ListenEndpoint e;
  std::string error;
  ASSERT_TRUE(parse_listen_endpoint("127.0.0.1:2055", e, error)) << error;
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 2055);
  ASSERT_TRUE(parse_listen_endpoint("[::1]:4739", e, error)) << error;
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 4739);
  ASSERT_TRUE(parse_listen_endpoint(":6343", e, error)) << error;
  EXPECT_EQ(e.host, "");
  ASSERT_TRUE(parse_listen_endpoint("9995", e, error)) << error;
  EXPECT_EQ(e.port, 9995);
  EXPECT_FALSE(parse_listen_endpoint("127.0.0.1:70000", e, error));
  EXPECT_FALSE(parse_listen_endpoint("127.0.0.1:", e, error));
  EXPECT_FALSE(parse_listen_endpoint("::1:2055", e, error));
  EXPECT_FALSE(parse_listen_endpoint("[::1]2055", e, error));
  EXPECT_FALSE(parse_listen_endpoint("host:port", e, error));
  EXPECT_NE(error.find("host:port"), std::string::npos);
}

}  // namespace
}  // namespace fathom::collect
