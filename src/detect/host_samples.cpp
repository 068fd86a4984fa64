#include "detect/host_samples.h"

#include "analyze/host_slot.h"

namespace fathom::detect {

void host_samples(const analyze::TenantWindow& window, std::vector<HostSample>& out,
                  uint32_t min_records) {
  out.clear();
  if (window.bucket == nullptr) return;
  const double secs = window.seconds();
  if (secs <= 0) return;
  window.bucket->hosts.for_each([&](const analyze::HostSlot& s) {
    if (s.internal == 0 || s.records < min_records) return;
    HostSample sample;
    sample.host = s.host;
    sample.features = analyze::host_features(s, secs, window.history_of(s.host));
    sample.window_start_ns = window.start_ns;
    sample.window_end_ns = window.end_ns;
    sample.repeat_ns = window.slide_ns;
    sample.first_arrival_ns = s.first_arrival_ns;
    out.push_back(sample);
  });
}

}  // namespace fathom::detect
