// PLACEHOLDER until the NetFlow v5 and sFlow v5 decoders lands: definitions so the tree links.
// Delete this file when the real decoder exists.
#include "decode/detail/protocols.h"

namespace fathom::decode::detail {

DecodeStatus decode_netflow_v5(std::span<const std::byte>, const PacketContext&,
                               ExporterState& exporter, flow::FlowBatch&) noexcept {
  exporter.stats.count(DecodeStatus::kBadVersion);
  return DecodeStatus::kBadVersion;
}
DecodeStatus decode_sflow_v5(std::span<const std::byte>, const PacketContext&,
                             ExporterState& exporter, flow::FlowBatch&) noexcept {
  exporter.stats.count(DecodeStatus::kBadVersion);
  return DecodeStatus::kBadVersion;
}

}  // namespace fathom::decode::detail
