#pragma once

// Entry points of the per-protocol decoders, called by `Decoder` after it has found the
// exporter's state. Each decodes one whole UDP payload into `out`, counts every problem on
// `exporter.stats`, never throws and never reads outside `packet`.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "decode/config.h"
#include "decode/decode_status.h"
#include "decode/exporter_state.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"

namespace fathom::decode::detail {

DecodeStatus decode_netflow_v5(std::span<const std::byte> packet, const PacketContext& ctx,
                               ExporterState& exporter, flow::FlowBatch& out) noexcept;

DecodeStatus decode_netflow_v9(std::span<const std::byte> packet, const PacketContext& ctx,
                               const Config& config, ExporterState& exporter,
                               flow::FlowBatch& out) noexcept;

DecodeStatus decode_ipfix(std::span<const std::byte> packet, const PacketContext& ctx,
                          const Config& config, ExporterState& exporter,
                          flow::FlowBatch& out) noexcept;

DecodeStatus decode_sflow_v5(std::span<const std::byte> packet, const PacketContext& ctx,
                             ExporterState& exporter, flow::FlowBatch& out) noexcept;

/// Drops parked data sets older than `config.pending_timeout_ns` (counted as pending_expired).
void expire_pending(ExporterState& exporter, const Config& config, int64_t now_ns) noexcept;

/// Appends the exporter's template/rate state to `out` in the state file's binary layout.
void serialize_template_state(const ExporterState& exporter, std::vector<std::byte>& out);
/// Restores state written by serialize_template_state; false on malformed input.
bool deserialize_template_state(std::span<const std::byte> in, const Config& config,
                                ExporterState& exporter);

}  // namespace fathom::decode::detail
