#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "flow/ip_address.h"

namespace fathom::detect {

/// What a detector found. Each rule in docs/detections.md has one; the autoencoder reports
/// kAnomaly.
enum class DetectionType : uint8_t {
  kSynFlood = 0,
  kUdpFlood = 1,
  kIcmpFlood = 2,
  kAmplification = 3,  ///< reflection from a UDP service port; `detail` names the service
  kHorizontalScan = 4,
  kVerticalScan = 5,
  kBruteForce = 6,  ///< `detail`: "ssh", "rdp", "telnet"
  kExfiltration = 7,
  kBeaconing = 8,
  kIntelContact = 9,
  kAnomaly = 10,  ///< the autoencoder's normalised loss
};
inline constexpr size_t kDetectionTypeCount = 11;

/// "syn_flood", "udp_flood", "icmp_flood", "amplification", "horizontal_scan",
/// "vertical_scan", "brute_force", "exfiltration", "beaconing", "intel_contact", "anomaly";
/// "unknown" for a value outside the enum.
std::string_view to_string(DetectionType type) noexcept;
/// The type named `name` (exactly as `to_string` writes it, case-sensitive); false when
/// unknown, leaving `out` unchanged.
bool parse_detection_type(std::string_view name, DetectionType& out) noexcept;

/// One piece of evidence: a measured quantity with its interval and the threshold it was
/// held against (NaN where none applies).
struct Evidence {
  std::string name;  ///< e.g. "syn_packets_per_s", "distinct_peers"
  double value = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
  double threshold = 0.0;
  double usual = 0.0;  ///< the subject's usual value (baseline), 0 when unknown
};

/// A peer or port that mattered, with its estimated weight (packets or bytes).
struct TopItem {
  std::string key;  ///< address text, or port number as text
  double weight = 0.0;
};

/// One detector's finding in one window: rules and the autoencoder produce these; the
/// IncidentTracker merges them into incidents. Built at window close (not per record), so
/// strings are fine.
struct Detection {
  uint32_t tenant_id = 0;
  DetectionType type = DetectionType::kAnomaly;
  flow::IpAddress subject;  ///< the victim, scanner, compromised host, ...
  std::string detail;       ///< sub-type ("dns", "ssh", ...), may be empty
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;  ///< the detection's time
  /// How often the detector looks again (its window's slide): an incident stays open for at
  /// least two of these after its last detection, so a detector that runs every 5 minutes
  /// does not close and reopen its incident between runs. 0 = unknown.
  int64_t repeat_ns = 0;
  /// 0..100: how bad, from how far the evidence's lower bound exceeds the threshold.
  double severity = 0.0;
  /// Arrival time of the earliest sampled record behind this finding (for flow-to-alert
  /// latency); 0 when unknown.
  int64_t first_arrival_ns = 0;
  std::string summary;  ///< one line for people: "SYN flood to 10.0.0.5:443, 21k pps"
  std::vector<Evidence> evidence;
  std::vector<TopItem> top_peers;
  std::vector<TopItem> top_ports;
};

/// Severity bands: low < 40 <= medium < 70 <= high < 90 <= critical.
enum class SeverityLevel : uint8_t { kLow = 0, kMedium = 1, kHigh = 2, kCritical = 3 };
/// The band of a 0..100 severity; NaN is low, above 100 is critical.
SeverityLevel severity_level(double severity) noexcept;
/// "low", "medium", "high", "critical".
std::string_view to_string(SeverityLevel level) noexcept;

}  // namespace fathom::detect
