// libFuzzer target: one Kafka message value through bus::wire::decode (docs/wire-format.md).
// Besides memory errors it checks the format's exactness: a message the decoder accepts
// re-encodes to the same bytes (every byte is a field, reserved ones are zero), and a refused
// one leaves the batch empty.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bus/wire_format.h"
#include "flow/flow_batch.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fathom fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fathom::bus;
  // Reused across inputs: a fresh 4096-record batch per input costs an mmap under ASan.
  static fathom::flow::FlowBatch batch;
  // An exact-size heap copy, so ASan reports a read even one byte past the message.
  std::vector<std::byte> message(size);
  if (size != 0) std::memcpy(message.data(), data, size);
  wire::BatchHeader header;
  const wire::WireStatus status = wire::decode(message, batch, header);
  if (static_cast<size_t>(status) >= wire::kWireStatusCount) fail("status out of range");
  if (status != wire::WireStatus::kOk) {
    if (!batch.empty()) fail("refused message left records in the batch");
    return 0;
  }
  if (batch.size() != header.record_count || batch.counters().size() != header.counter_count)
    fail("decoded counts differ from the header");
  std::vector<std::byte> again(wire::encoded_size(batch.size(), batch.counters().size()));
  wire::encode(header, batch.records(), batch.counters(), again);
  if (again != message) fail("accepted message does not re-encode to the same bytes");
  return 0;
}
