#pragma once

// NetFlow v9 / IPFIX state of one exporter: templates, sampling rates announced in options
// records, per-domain clock bases and parked data sets. Owned by `ExporterState::templates`;
// touched only by the thread that owns the exporter.

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "decode/detail/pending_buffer.h"
#include "decode/detail/template_cache.h"
#include "flow/flow_record.h"

namespace fathom::decode {

/// A device sampling rate announced by an options record.
struct SamplerRate {
  uint32_t rate = 1;  ///< 1-in-N
  flow::SamplingAlgorithm algorithm = flow::SamplingAlgorithm::kUnknown;
};

/// Per observation domain facts learned from options records.
struct DomainInfo {
  bool has_system_init = false;
  int64_t system_init_ms = 0;  ///< IE 160: base of IPFIX flowStart/EndSysUpTime (IE 22/21)
  bool has_default_rate = false;
  SamplerRate default_rate;  ///< latest rate announced for the domain, whatever its sampler
};

struct TemplateState {
  /// Caps on option-derived tables (ids come from the wire).
  static constexpr size_t kMaxSamplers = 1024;
  static constexpr size_t kMaxDomains = 1024;
  /// Templates learned in one message that have parked sets waiting (bounded per message).
  static constexpr size_t kMaxReady = 256;

  /// Key of `samplers`: domain in the high half, sampler/selector id (low 32 bits) below.
  static constexpr uint64_t sampler_key(uint32_t domain, uint32_t sampler_id) noexcept {
    return (uint64_t{domain} << 32) | sampler_id;
  }

  detail::TemplateCache cache;
  std::unordered_map<uint64_t, SamplerRate> samplers;
  std::unordered_map<uint32_t, DomainInfo> domains;
  detail::PendingBuffer pending;
  /// Keys of templates learned in the current message while sets were parked; drained at the
  /// end of the message (`detail::drain_pending`).
  std::vector<uint64_t> ready;

  /// When a domain's state last changed (a template new, changed or withdrawn; an options
  /// record announcing a different rate or clock base) and whether that change still has to
  /// be saved (`Decoder::take_changed_domains`). At most kMaxTrackedDomains entries: when
  /// full, entries of domains left without any state are dropped first.
  struct DomainChange {
    int64_t changed_ns = 0;  ///< arrival time of the packet that made the change
    bool dirty = false;
  };
  static constexpr size_t kMaxTrackedDomains = 2048;
  std::unordered_map<uint32_t, DomainChange> changes;
};

}  // namespace fathom::decode
