// PLACEHOLDER until the NetFlow v9 / IPFIX template decoder lands: definitions so the tree links.
// Delete this file when the real decoder exists.
#include "decode/detail/protocols.h"

namespace fathom::decode::detail {

DecodeStatus decode_netflow_v9(std::span<const std::byte>, const PacketContext&, const Config&,
                               ExporterState& exporter, flow::FlowBatch&) noexcept {
  exporter.stats.count(DecodeStatus::kBadVersion);
  return DecodeStatus::kBadVersion;
}
DecodeStatus decode_ipfix(std::span<const std::byte>, const PacketContext&, const Config&,
                          ExporterState& exporter, flow::FlowBatch&) noexcept {
  exporter.stats.count(DecodeStatus::kBadVersion);
  return DecodeStatus::kBadVersion;
}
void expire_pending(ExporterState&, const Config&, int64_t) noexcept {}
void serialize_template_state(const ExporterState&, std::vector<std::byte>&) {}
bool deserialize_template_state(std::span<const std::byte>, const Config&, ExporterState&) {
  return true;
}

}  // namespace fathom::decode::detail
