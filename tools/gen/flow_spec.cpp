#include "gen/flow_spec.h"

#include <cmath>

namespace fathom::gen {

uint64_t FlowSpec::first_index_at_or_after(int64_t t) const noexcept {
  if (t <= start_ns) return 0;
  if (packets <= 1 || duration_ns <= 0) return packets;
  const double pos = static_cast<double>(t - start_ns) * static_cast<double>(packets - 1) /
                     static_cast<double>(duration_ns);
  uint64_t i = pos >= static_cast<double>(packets) ? packets : static_cast<uint64_t>(pos);
  // Correct the floating-point guess against time_at, the single source of truth.
  while (i > 0 && time_at(i - 1) >= t) --i;
  while (i < packets && time_at(i) < t) ++i;
  return i;
}

}  // namespace fathom::gen
