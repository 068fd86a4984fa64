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

/// Marks `domain`'s state changed at `now_ns` (to be saved). Untracked (and so only saved
/// by a full save) when kMaxTrackedDomains domains with state are tracked already.
void note_domain_change(TemplateState& state, uint32_t domain, int64_t now_ns);
/// The domains that hold any state (templates, sampler rates, domain facts), ascending.
std::vector<uint32_t> domains_with_state(const TemplateState& state);
/// Appends one domain's state to `out`: serialize_template_state's layout with only the
/// entries of `domain`.
void serialize_domain_state(const TemplateState& state, uint32_t domain,
                            std::vector<std::byte>& out);
/// Replaces `domain`'s state in `exporter` by the one in `blob` (written by
/// serialize_domain_state) and records `changed_ns` as its change time (not dirty). False,
/// with nothing changed, when `blob` is malformed or holds an entry of another domain.
/// Templates beyond the exporter's budget evict the least recently used (counted).
bool apply_domain_state(std::span<const std::byte> blob, uint32_t domain, int64_t changed_ns,
                        const Config& config, ExporterState& exporter);

}  // namespace fathom::decode::detail
