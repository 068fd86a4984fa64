// libFuzzer target: one NetFlow v5 datagram (Cisco's fixed 24-byte header + 48-byte records)
// through decode::Decoder. The version field is forced to 5 so every input stays on the v5 decoder;
// the protocol dispatch in Decoder::decode is covered by unit tests, not here.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint8_t kVersion[] = {0x00, 0x05};
  fathom::decode::Decoder decoder(fathom::fuzz::fuzz_config());
  // Reused across inputs: a fresh 4096-record batch per input costs an mmap under ASan.
  static fathom::flow::FlowBatch batch;
  batch.clear();
  const auto ctx = fathom::fuzz::context_for(0, fathom::fuzz::kStartNs);
  fathom::fuzz::decode_copy(decoder, {data, size}, kVersion, ctx, batch,
                            fathom::flow::SourceProtocol::kNetflowV5);
  return 0;
}
