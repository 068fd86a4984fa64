#include "detect/detection.h"

#include <array>

namespace fathom::detect {
namespace {

// Indexed by DetectionType; the names are part of the API and of stored incidents.
constexpr std::array<std::string_view, kDetectionTypeCount> kTypeNames = {
    "syn_flood",       "udp_flood",     "icmp_flood",  "amplification",
    "horizontal_scan", "vertical_scan", "brute_force", "exfiltration",
    "beaconing",       "intel_contact", "anomaly",
};
static_assert(static_cast<size_t>(DetectionType::kAnomaly) + 1 == kDetectionTypeCount);

}  // namespace

std::string_view to_string(DetectionType type) noexcept {
  const auto idx = static_cast<size_t>(type);
  return idx < kTypeNames.size() ? kTypeNames[idx] : std::string_view("unknown");
}

bool parse_detection_type(std::string_view name, DetectionType& out) noexcept {
  for (size_t type_idx = 0; type_idx < kTypeNames.size(); ++type_idx) {
    if (kTypeNames[type_idx] == name) {
      out = static_cast<DetectionType>(type_idx);
      return true;
    }
  }
  return false;
}

SeverityLevel severity_level(double severity) noexcept {
  // Written as "not at least" so that NaN falls in the lowest band.
  if (!(severity >= 40.0)) return SeverityLevel::kLow;
  if (severity < 70.0) return SeverityLevel::kMedium;
  if (severity < 90.0) return SeverityLevel::kHigh;
  return SeverityLevel::kCritical;
}

std::string_view to_string(SeverityLevel level) noexcept {
  switch (level) {
    case SeverityLevel::kLow: return "low";
    case SeverityLevel::kMedium: return "medium";
    case SeverityLevel::kHigh: return "high";
    case SeverityLevel::kCritical: return "critical";
  }
  return "unknown";
}

}  // namespace fathom::detect
