#include "detect/detection.h"

#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

TEST(DetectionType, NamesRoundTrip) {
  std::set<std::string> names;
  for (size_t type_idx = 0; type_idx < kDetectionTypeCount; ++type_idx) {
    const auto type = static_cast<DetectionType>(type_idx);
    const std::string_view name = to_string(type);
    names.emplace(name);
    DetectionType parsed = DetectionType::kAnomaly;
    ASSERT_TRUE(parse_detection_type(name, parsed)) << name;
    EXPECT_EQ(parsed, type) << name;
  }
  EXPECT_EQ(names.size(), kDetectionTypeCount);  // no two types share a name
  EXPECT_EQ(to_string(DetectionType::kSynFlood), "syn_flood");
  EXPECT_EQ(to_string(DetectionType::kAmplification), "amplification");
  EXPECT_EQ(to_string(DetectionType::kBruteForce), "brute_force");
  EXPECT_EQ(to_string(DetectionType::kIntelContact), "intel_contact");
  EXPECT_EQ(to_string(DetectionType::kAnomaly), "anomaly");
}

TEST(DetectionType, RejectsUnknownNames) {
  DetectionType out = DetectionType::kBeaconing;
  EXPECT_FALSE(parse_detection_type("", out));
  EXPECT_FALSE(parse_detection_type("SYN_FLOOD", out));  // names are exact
  EXPECT_FALSE(parse_detection_type("syn_flood ", out));
  EXPECT_FALSE(parse_detection_type("unknown", out));
  EXPECT_EQ(out, DetectionType::kBeaconing);  // untouched on failure
  EXPECT_EQ(to_string(static_cast<DetectionType>(200)), "unknown");
}

TEST(SeverityLevel, BandsAtTheirBoundaries) {
  EXPECT_EQ(severity_level(0.0), SeverityLevel::kLow);
  EXPECT_EQ(severity_level(39.999), SeverityLevel::kLow);
  EXPECT_EQ(severity_level(40.0), SeverityLevel::kMedium);
  EXPECT_EQ(severity_level(69.999), SeverityLevel::kMedium);
  EXPECT_EQ(severity_level(70.0), SeverityLevel::kHigh);
  EXPECT_EQ(severity_level(89.999), SeverityLevel::kHigh);
  EXPECT_EQ(severity_level(90.0), SeverityLevel::kCritical);
  EXPECT_EQ(severity_level(100.0), SeverityLevel::kCritical);
  EXPECT_EQ(severity_level(250.0), SeverityLevel::kCritical);
  EXPECT_EQ(severity_level(-5.0), SeverityLevel::kLow);
  EXPECT_EQ(severity_level(std::nan("")), SeverityLevel::kLow);
}

TEST(SeverityLevel, Names) {
  EXPECT_EQ(to_string(SeverityLevel::kLow), "low");
  EXPECT_EQ(to_string(SeverityLevel::kMedium), "medium");
  EXPECT_EQ(to_string(SeverityLevel::kHigh), "high");
  EXPECT_EQ(to_string(SeverityLevel::kCritical), "critical");
}

}  // namespace
}  // namespace fathom::detect
