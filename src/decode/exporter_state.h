#pragma once

#include <memory>

#include "decode/exporter_stats.h"
#include "flow/ip_address.h"

namespace fathom::decode {

/// Template, options and sampling-rate state of one exporter for NetFlow v9 and IPFIX, keyed
/// inside by (observation domain / source id, template id). Defined in
/// `decode/detail/template_state.h`; opaque to everything outside the template decoders.
struct TemplateState;

/// Everything Fathom keeps about one exporter address. Owned by `Decoder`; touched only by the
/// thread that owns that decoder.
struct ExporterState {
  explicit ExporterState(const flow::IpAddress& addr);
  ~ExporterState();
  ExporterState(ExporterState&&) noexcept;
  ExporterState& operator=(ExporterState&&) noexcept;

  flow::IpAddress address;
  ExporterStats stats;
  /// Created on the first NetFlow v9 / IPFIX packet from this exporter.
  std::unique_ptr<TemplateState> templates;
};

}  // namespace fathom::decode
