// libFuzzer target: AWS VPC flow log text through decode::VpcFlowLogParser, one line at a time
// (split on '\n', as the file source does), so a header line sets the format for the lines
// after it. Each line is copied to an exact-size buffer so a read past its end is reported.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "decode/vpc_flow_log.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fathom::flow::FlowBatch batch(256);
  batch.clear();
  fathom::decode::VpcFlowLogParser parser;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const size_t length = end - start;
    const auto line = std::make_unique<char[]>(length == 0 ? 1 : length);
    std::memcpy(line.get(), text.data() + start, length);
    if (batch.full()) batch.clear();
    const size_t before = batch.size();
    parser.parse_line({line.get(), length}, batch, fathom::fuzz::kStartNs);
    for (size_t i = before; i < batch.size(); ++i) {
      if (batch[i].source != fathom::flow::SourceProtocol::kVpcFlowLog) {
        fathom::fuzz::fail("VPC record with another source protocol");
      }
    }
    start = end + 1;
  }
  // The line-shape probes the file source uses to recognise a flow log.
  const std::string_view first = text.substr(0, text.find('\n'));
  fathom::decode::VpcFlowLogParser::is_header(first);
  fathom::decode::VpcFlowLogParser::is_default_record(first);
  return 0;
}
