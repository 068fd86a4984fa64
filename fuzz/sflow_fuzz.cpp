// libFuzzer target: one sFlow v5 datagram through decode::Decoder. The 32-bit version field is
// forced to 5 so every input stays on the sFlow decoder (a NetFlow version in the first bytes
// would otherwise win the dispatch in Decoder::decode).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static constexpr uint8_t kVersion[] = {0x00, 0x00, 0x00, 0x05};
  fathom::decode::Decoder decoder(fathom::fuzz::fuzz_config());
  // Reused across inputs: a fresh 4096-record batch per input costs an mmap under ASan.
  static fathom::flow::FlowBatch batch;
  batch.clear();
  const auto ctx = fathom::fuzz::context_for(0, fathom::fuzz::kStartNs);
  fathom::fuzz::decode_copy(decoder, {data, size}, kVersion, ctx, batch,
                            fathom::flow::SourceProtocol::kSflowV5);
  return 0;
}
