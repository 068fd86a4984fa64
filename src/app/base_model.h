#pragma once

#include <cstddef>
#include <span>

namespace fathom::app {

/// The shipped base model (models/base-v1.fmodel, compiled in): what `analyze.ai.model:
/// builtin` loads. `fathom train --scenario examples/scenarios/day.yaml` reproduces it.
std::span<const std::byte> builtin_base_model() noexcept;

}  // namespace fathom::app
