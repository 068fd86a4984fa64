// libFuzzer target: a sequence of IPFIX messages (RFC 7011) decoded by one decode::Decoder,
// with expiry and state-file round trips between them; the input format is described in
// packet_sequence.h. Every message's version field is forced to 10; its length field is left
// to the fuzzer (kBadMessageLength is a path worth reaching).
#include <cstddef>
#include <cstdint>

#include "packet_sequence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint8_t kVersion[] = {0x00, 0x0a};
  fathom::fuzz::run_packet_sequence(data, size, kVersion, fathom::flow::SourceProtocol::kIpfix);
  return 0;
}
