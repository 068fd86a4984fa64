#pragma once

#include <cstdint>

#include "flow/ip_address.h"

namespace fathom::decode {

/// Where and when one export packet arrived: copied into every record decoded from it.
struct PacketContext {
  flow::IpAddress exporter;    ///< UDP source address
  uint16_t exporter_port = 0;  ///< UDP source port
  int64_t arrival_ns = 0;      ///< receive time (wall clock live, capture time for pcap)
};

}  // namespace fathom::decode
