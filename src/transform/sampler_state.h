#pragma once

// The stored form of one tenant's adaptive-sampler state (AdaptiveSampler::export_state /
// restore_state): a small versioned binary record, so a restart does not reset the tenant's
// keep probability (docs/adaptive-sampling.md "Across restarts").

#include <cstdint>
#include <string>
#include <string_view>

#include "transform/sampler.h"

namespace fathom::transform {

/// Encodes `state` (its tenant id excluded: the store row carries it) and the wall-clock time
/// it was taken. Layout, little-endian: "FSS", u8 version 1, f64 probability, f64 smoothed
/// rate, f64 kept rate, f64 target, i64 saved_ns (44 bytes).
std::string encode_sampler_state(const SamplerTenantState& state, int64_t saved_ns);

/// Reads a record of `encode_sampler_state` into `out` (tenant id left as it is) and
/// `saved_ns`. False on a wrong length, magic or version, or a value out of range
/// (probability outside (0, 1], a negative or non-finite rate or target).
bool decode_sampler_state(std::string_view record, SamplerTenantState& out, int64_t& saved_ns);

}  // namespace fathom::transform
