#include "collect/udp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
