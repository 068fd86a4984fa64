#pragma once

#include <vector>

#include "analyze/window_engine.h"
#include "detect/anomaly_config.h"

namespace fathom::detect {

/// The internal hosts of `window` as AnomalyDetector input: each host's feature vector over
/// the window (analyze::host_features, with its peer history), the window's times and slide.
/// Appends to `out` (cleared first). External hosts are left out: the model learns the
/// tenant's own hosts' behaviour. So are hosts with fewer than `min_records` sampled records
/// in the window: their features are mostly sampling noise (one record more or less moves
/// every ratio), and scoring them would turn the sampling itself into anomalies.
void host_samples(const analyze::TenantWindow& window, std::vector<HostSample>& out,
                  uint32_t min_records = 1);

}  // namespace fathom::detect
