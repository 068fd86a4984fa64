// libFuzzer target: a capture file (pcap or pcapng, any link type) through
// collect::PcapReader, every UDP datagram it yields read to its last byte. The input is the
// whole file, given to the reader as an in-memory stream (fmemopen), so libpcap's file parsing
// and Fathom's frame parsing (Ethernet/802.1Q, SLL, SLL2, raw IP, loopback; IPv4/IPv6; UDP)
// both see it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "collect/pcap_reader.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;  // fmemopen refuses an empty buffer
  // fmemopen wants a mutable buffer; it only reads in "rb" mode.
  std::FILE* stream = fmemopen(const_cast<uint8_t*>(data), size, "rb");
  if (stream == nullptr) return 0;
  std::string error;
  auto reader = fathom::collect::PcapReader::open_stream(stream, "fuzz-input", error);
  if (!reader) return 0;
  fathom::collect::CapturedDatagram datagram;
  uint64_t sum = 0;
  uint64_t last_frame = 0;
  for (int datagram_idx = 0; datagram_idx < 100'000 && reader->next(datagram); ++datagram_idx) {
    // Touch every byte: a payload span reaching outside the frame is an ASan report here.
    for (std::byte b : datagram.payload) sum += static_cast<uint8_t>(b);
    if (datagram.frame_number <= last_frame) fathom::fuzz::fail("frame numbers not increasing");
    last_frame = datagram.frame_number;
  }
  const auto& stats = reader->stats();
  if (stats.udp_datagrams > stats.frames) fathom::fuzz::fail("more datagrams than frames");
  asm volatile("" : : "r"(sum));  // keeps the byte reads from being optimised away
  return 0;
}
