#include "e2e/udp_sender.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fathom::e2e {

std::unique_ptr<UdpSender> UdpSender::open(const std::string& source_address, uint16_t source_port,
                                           std::string& error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(source_port);
  if (::inet_pton(AF_INET, source_address.c_str(), &addr.sin_addr) != 1) {
    error = "'" + source_address + "' is not an IPv4 address";
    return nullptr;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  // Room for the largest datagram (65507 bytes) and a burst behind it.
  const int sndbuf = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    error =
        "bind " + source_address + ":" + std::to_string(source_port) + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::unique_ptr<UdpSender> sender(new UdpSender());
  sender->fd_ = fd;
  sender->address_ = source_address;
  sender->port_ = ntohs(addr.sin_port);
  return sender;
}

UdpSender::~UdpSender() {
  if (fd_ >= 0) ::close(fd_);
}

bool UdpSender::send_to(uint16_t port, std::span<const std::byte> payload) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const ssize_t n = ::sendto(fd_, payload.data(), payload.size(), 0,
                             reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  return n == static_cast<ssize_t>(payload.size());
}

}  // namespace fathom::e2e
