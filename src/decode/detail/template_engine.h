#pragma once

// The template engine shared by the NetFlow v9 and IPFIX decoders: learns templates, runs their
// compiled programs over data sets straight into FlowBatch records, keeps option-announced
// sampling rates and clock bases, and parks data sets whose template has not arrived yet.

#include <cstdint>
#include <span>

#include "decode/config.h"
#include "decode/decode_status.h"
#include "decode/detail/pending_buffer.h"
#include "decode/detail/template_cache.h"
#include "decode/exporter_state.h"
#include "flow/flow_batch.h"

namespace fathom::decode {
struct TemplateState;
}

namespace fathom::decode::detail {

/// The exporter's template state, created on first use.
TemplateState& template_state(ExporterState& exporter);

/// Compiles and stores one template; data sets parked for it are decoded by the next
/// `drain_pending`. Returns kOk or the reason the template was refused (counted).
DecodeStatus learn_template(Template&& t, const Config& config, ExporterState& exporter);

/// Handles a template re-announced unchanged (same fields, scope count and kind as the one held)
/// without building a Template: marks it used, as `learn_template` would. Returns false when the
/// template is new or changed; the caller then builds it and calls `learn_template`. Throws only
/// std::bad_alloc (queueing parked sets, as learn_template).
bool refresh_template(WireProtocol protocol, uint32_t domain, uint16_t template_id,
                      std::span<const FieldSpec> fields, uint16_t scope_count, bool is_options,
                      ExporterState& exporter);

/// Decodes the parked data sets whose template arrived in the message just walked (flagged
/// kDecodedLate, counted as pending_decoded). Called once at the end of every message.
void drain_pending(const Config& config, ExporterState& exporter, flow::FlowBatch& out);

/// Withdraws templates (IPFIX, RFC 7011 §8.1): one id, or every data (`all_data`) or options
/// (`all_options`) template of the domain. Returns how many were removed.
size_t withdraw_templates(ExporterState& exporter, WireProtocol protocol, uint32_t domain,
                          uint16_t template_id, bool all_data, bool all_options) noexcept;

/// Decodes one data set (`set_id` ≥ 256, `body` without the set header). An unknown template
/// parks the set (kUnknownTemplate counted once; kPendingOverflow when the buffer is full).
/// Returns kOk or the first problem met (counted).
DecodeStatus decode_data_set(uint16_t set_id, std::span<const std::byte> body,
                             const MessageInfo& info, const Config& config, ExporterState& exporter,
                             flow::FlowBatch& out);

/// True when every byte is zero (set padding, RFC 7011 §3.3.1 / RFC 3954 §5.3).
bool all_zero(std::span<const std::byte> bytes) noexcept;

}  // namespace fathom::decode::detail
