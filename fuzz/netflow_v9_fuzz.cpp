// libFuzzer target: a sequence of NetFlow v9 packets (RFC 3954) decoded by one
// decode::Decoder, with expiry and state-file round trips between them; the input format is
// described in packet_sequence.h. Every packet's version field is forced to 9.
#include <cstddef>
#include <cstdint>

#include "packet_sequence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint8_t kVersion[] = {0x00, 0x09};
  fathom::fuzz::run_packet_sequence(data, size, kVersion, fathom::flow::SourceProtocol::kNetflowV9);
  return 0;
}
