#include "flow/flow_record.h"

namespace fathom::flow {

std::string_view to_string(SourceProtocol p) noexcept {
  switch (p) {
    case SourceProtocol::kNetflowV5: return "netflow_v5";
    case SourceProtocol::kNetflowV9: return "netflow_v9";
    case SourceProtocol::kIpfix: return "ipfix";
    case SourceProtocol::kSflowV5: return "sflow_v5";
    case SourceProtocol::kVpcFlowLog: return "vpc_flow_log";
    case SourceProtocol::kUnknown: break;
  }
  return "unknown";
}

std::string_view to_string(Direction d) noexcept {
  switch (d) {
    case Direction::kInbound: return "inbound";
    case Direction::kOutbound: return "outbound";
    case Direction::kInternal: return "internal";
    case Direction::kTransit: return "transit";
    case Direction::kUnknown: break;
  }
  return "unknown";
}

}  // namespace fathom::flow
