#include "detect/feature_scaler.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "analyze/features.h"

namespace fathom::detect {
namespace {

using analyze::Feature;

TEST(FeatureScaler, LogsVolumesAndKeepsRatiosLinear) {
  const auto t = default_feature_transforms();
  ASSERT_EQ(t.size(), analyze::kFeatureCount);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kBytesOutPerS)], FeatureTransform::kLog1p);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kDistinctPeers)], FeatureTransform::kLog1p);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kMeanPacketBytes)], FeatureTransform::kLog1p);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kSynOnlyRatio)], FeatureTransform::kLinear);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kPortEntropy)], FeatureTransform::kLinear);
  EXPECT_EQ(t[static_cast<size_t>(Feature::kNewPeerShare)], FeatureTransform::kLinear);
}

TEST(FeatureScaler, StandardisesWithRunningMeanAndVariance) {
  FeatureScaler s(ScalerConfig{}, {FeatureTransform::kLinear, FeatureTransform::kLog1p});
  for (const float v : {1.0f, 2.0f, 3.0f, 4.0f}) {
    const float raw[2] = {v, std::expm1(v)};
    s.observe(raw);
  }
  EXPECT_DOUBLE_EQ(s.mean(0), 2.5);
  EXPECT_NEAR(s.std_dev(0), std::sqrt(1.25), 1e-12);
  EXPECT_NEAR(s.mean(1), 2.5, 1e-6);
  const float raw[2] = {2.5f, std::expm1(2.5f)};
  float out[2];
  s.transform(raw, out);
  EXPECT_NEAR(out[0], 0.0f, 1e-6);
  EXPECT_NEAR(out[1], 0.0f, 1e-5);
  EXPECT_NEAR(s.usual(1), std::expm1(2.5), 1e-3);
}

TEST(FeatureScaler, HalfLifeForgetsOldValues) {
  FeatureScaler s(ScalerConfig{.half_life = 10}, {FeatureTransform::kLinear});
  for (int i = 0; i < 200; ++i) {
    const float v = 0.0f;
    s.observe(std::span<const float>(&v, 1));
  }
  for (int i = 0; i < 10; ++i) {
    const float v = 1.0f;
    s.observe(std::span<const float>(&v, 1));
  }
  EXPECT_NEAR(s.mean(0), 0.5, 1e-9);  // one half-life of ones
}

TEST(FeatureScaler, BadValuesReadAsZeroAndClip) {
  FeatureScaler s(ScalerConfig{.clip = 5}, {FeatureTransform::kLog1p, FeatureTransform::kLinear});
  const float raw[2] = {std::numeric_limits<float>::quiet_NaN(), -3.0f};
  s.observe(raw);
  EXPECT_EQ(s.mean(0), 0.0);
  EXPECT_EQ(s.mean(1), 0.0);
  const float big[2] = {1e30f, 1e30f};
  float out[2];
  s.transform(big, out);
  EXPECT_EQ(out[0], 5.0f);
  EXPECT_EQ(out[1], 5.0f);
}

TEST(FeatureScaler, SerialisesAndRejectsBadInput) {
  FeatureScaler s;
  analyze::FeatureVector v{};
  for (int i = 0; i < 10; ++i) {
    for (size_t f = 0; f < v.size(); ++f) v[f] = static_cast<float>(i * f);
    s.observe(v);
  }
  detail::ByteWriter w;
  s.write(w);
  FeatureScaler back;
  std::string error;
  detail::ByteReader r(w.data());
  ASSERT_TRUE(back.read(r, error)) << error;
  detail::ByteWriter w2;
  back.write(w2);
  EXPECT_EQ(w.data(), w2.data());
  for (size_t len = 0; len < w.data().size(); len += 5) {
    detail::ByteReader cut(std::span(w.data()).first(len));
    FeatureScaler out;
    EXPECT_FALSE(out.read(cut, error)) << len;
  }
}

}  // namespace
}  // namespace fathom::detect
