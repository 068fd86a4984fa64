#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "collect/udp_listener.h"

namespace fathom::collect {

/// Settings of the receive side: sockets, threads, buffers and the queue to the decoders.
struct Config {
  /// UDP endpoints, each a numeric address and a port (0: the kernel picks one). The defaults
  /// are the IANA ports of NetFlow (2055), IPFIX (4739) and sFlow (6343) on every IPv4 and
  /// every IPv6 address; any port accepts any protocol (recognised from the payload).
  std::vector<ListenEndpoint> listeners = {
      {"0.0.0.0", 2055}, {"0.0.0.0", 4739}, {"0.0.0.0", 6343},
      {"::", 2055},      {"::", 4739},      {"::", 6343},
  };
  /// Receive threads sharing each endpoint through SO_REUSEPORT.
  uint32_t receive_threads = 1;
  /// SO_RCVBUF requested per socket; the kernel may cap it (net.core.rmem_max).
  uint32_t socket_receive_buffer_bytes = 8 * 1024 * 1024;
  /// Datagrams one recvmmsg call may return.
  uint32_t recv_batch_size = 64;
  /// Batches each downstream consumer's queue (on the bus) holds before whole batches are
  /// dropped for it (counted).
  uint32_t queue_capacity_batches = 64;
  /// A partly filled batch of records is handed downstream once it is this old (ms): the
  /// bound on the collector's added latency when traffic is light.
  uint32_t flush_interval_ms = 200;
  /// Decoder state (templates, sampling rates) loaded at start and saved at exit; "" = none.
  std::string state_file;
  /// This collector's name among the collectors sharing one store (`fathom collect`): its
  /// adaptive-sampler state is kept under "sampler/<node_id>". "" = the host name.
  std::string node_id;
};

}  // namespace fathom::collect
