#include "detect/anomaly_detector.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace fathom::detect {
namespace {

using analyze::Feature;
using analyze::FeatureVector;

double gaussian(std::mt19937_64& rng) {
  // Box–Muller from the library-independent uniform.
  const double u = 1.0 - uniform01(rng), v = uniform01(rng);
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
}

// A synthetic tenant: hosts with fixed profiles (rate, packet size, fan-out), every window a
// noisy draw around them. `scale` multiplies every volume (packets, bytes, connections).
class SyntheticTenant {
 public:
  SyntheticTenant(uint64_t seed, double scale, double noise = 0.3, size_t hosts = 80)
      : rng_(seed), scale_(scale), noise_(noise) {
    for (size_t h = 0; h < hosts; ++h) {
      Profile p;
      p.rate = std::exp(3 + gaussian(rng_));
      p.packet = 200 + 1000 * uniform01(rng_);
      p.peers = 1 + std::exp(1.5 + 0.7 * gaussian(rng_));
      p.out_share = 0.4 + 0.5 * uniform01(rng_);
      p.host = flow::IpAddress::from_v4(0x0a000000u | static_cast<uint32_t>((seed & 0xff) << 16) |
                                        static_cast<uint32_t>(h));
      profiles_.push_back(p);
    }
  }

  std::vector<HostSample> window() {
    std::vector<HostSample> out;
    const int64_t start = index_ * 10'000'000'000LL;
    ++index_;
    for (const Profile& p : profiles_) {
      HostSample s;
      s.host = p.host;
      s.window_start_ns = start;
      s.window_end_ns = start + 10'000'000'000LL;
      s.repeat_ns = 2'000'000'000LL;
      FeatureVector& f = s.features;
      const auto noisy = [&](double v, double sigma = 0.3) {
        return static_cast<float>(v * std::exp(sigma / 0.3 * noise_ * gaussian(rng_)));
      };
      const double r = scale_ * p.rate;
      at(f, Feature::kPacketsInPerS) = noisy(r);
      at(f, Feature::kPacketsOutPerS) = noisy(r * p.out_share);
      at(f, Feature::kBytesInPerS) = noisy(r * p.packet);
      at(f, Feature::kBytesOutPerS) = noisy(r * p.out_share * p.packet * 0.6);
      at(f, Feature::kFlowsInPerS) = noisy(r / 30);
      at(f, Feature::kFlowsOutPerS) = noisy(r / 40);
      const float peers = noisy(p.peers, 0.2);
      at(f, Feature::kDistinctPeers) = peers;
      at(f, Feature::kDistinctRemotePorts) = noisy(peers * 1.2, 0.1);
      at(f, Feature::kDistinctLocalPorts) = noisy(2 + peers * 0.3, 0.1);
      at(f, Feature::kSynOnlyRatio) = static_cast<float>(0.02 + 0.02 * uniform01(rng_));
      at(f, Feature::kRstRatio) = static_cast<float>(0.01 + 0.01 * uniform01(rng_));
      at(f, Feature::kMeanPacketBytes) = noisy(p.packet * 0.8, 0.05);
      const double ent = std::min(1.0, std::log2(1.0 + peers) / 3);
      at(f, Feature::kPeerEntropy) = static_cast<float>(ent * (0.9 + 0.1 * uniform01(rng_)));
      at(f, Feature::kPortEntropy) = static_cast<float>(ent * (0.85 + 0.1 * uniform01(rng_)));
      at(f, Feature::kIntelShare) = 0.0f;
      at(f, Feature::kNewPeerShare) = static_cast<float>(0.05 + 0.1 * uniform01(rng_));
      out.push_back(s);
    }
    return out;
  }

  std::vector<FeatureVector> vectors(size_t windows) {
    std::vector<FeatureVector> out;
    for (size_t w = 0; w < windows; ++w) {
      for (const HostSample& s : window()) out.push_back(s.features);
    }
    return out;
  }

  // The host `h` turned horizontal scanner: many connections to many new peers, SYN-only.
  static void make_scanner(HostSample& s) {
    FeatureVector& f = s.features;
    at(f, Feature::kFlowsOutPerS) *= 300;
    at(f, Feature::kPacketsOutPerS) *= 5;
    at(f, Feature::kDistinctPeers) = 800;
    at(f, Feature::kDistinctRemotePorts) = 3;
    at(f, Feature::kSynOnlyRatio) = 0.9f;
    at(f, Feature::kRstRatio) = 0.4f;
    at(f, Feature::kPeerEntropy) = 1.0f;
    at(f, Feature::kPortEntropy) = 0.05f;
    at(f, Feature::kNewPeerShare) = 0.97f;
  }
  // ... or exfiltrating: hundreds of times its outbound bytes, in full-size packets.
  static void make_exfiltrator(HostSample& s) {
    FeatureVector& f = s.features;
    at(f, Feature::kBytesOutPerS) *= 500;
    at(f, Feature::kPacketsOutPerS) *= 200;
    at(f, Feature::kMeanPacketBytes) = 1450;
  }

 private:
  struct Profile {
    flow::IpAddress host;
    double rate, packet, peers, out_share;
  };
  std::mt19937_64 rng_;
  double scale_;
  double noise_;
  int64_t index_ = 0;
  std::vector<Profile> profiles_;
};

// The base model, trained once on two other tenants (scales 1 and 10).
const Model& base_model() {
  static const Model model = [] {
    SyntheticTenant a(101, 1.0), b(102, 10.0);
    std::vector<std::vector<FeatureVector>> tenants{a.vectors(30), b.vectors(30)};
    return train_base_model(tenants, AutoencoderShape{}, TrainOptions{.epochs = 30},
                            AdamConfig{.learning_rate = 3e-3}, ScalerConfig{}, 7);
  }();
  return model;
}

AnomalyConfig test_config() {
  AnomalyConfig c;
  c.learning_windows = 30;
  c.learning_min_samples = 512;
  c.refresh_windows = 0;
  c.persistence = 1;  // one window over the threshold reports (persistence has its own test)
  c.host_margin = 0;  // the tenant threshold alone (the host-relative test has its own test)
  return c;
}

std::unique_ptr<AnomalyDetector> make_detector(AnomalyConfig config = test_config()) {
  std::string error;
  auto d = AnomalyDetector::create(config, base_model(), error);
  EXPECT_NE(d, nullptr) << error;
  return d;
}

void learn(AnomalyDetector& det, uint32_t tenant, SyntheticTenant& gen) {
  for (uint32_t w = 0; w < det.config().learning_windows; ++w) {
    EXPECT_EQ(det.phase(tenant), TenantPhase::kLearning);
    EXPECT_TRUE(det.score(tenant, gen.window()).empty());
  }
  EXPECT_EQ(det.phase(tenant), TenantPhase::kScoring);
}

TEST(AnomalyDetector, RejectsABaseModelOfTheWrongShape) {
  std::string error;
  EXPECT_EQ(
      AnomalyDetector::create(AnomalyConfig{}, make_model(AutoencoderShape{.inputs = 8}, 1), error),
      nullptr);
  EXPECT_FALSE(error.empty());
}

TEST(AnomalyDetector, DefaultsAndConfigRejection) {
  const AnomalyConfig d;
  EXPECT_EQ(d.threshold, 5.0);
  EXPECT_EQ(d.learning_windows, 60u);
  EXPECT_EQ(d.history_capacity, 4096u);
  EXPECT_EQ(d.normaliser.capacity, 2048u);
  EXPECT_EQ(d.persistence, 3u);
  std::string error;
  EXPECT_NE(AnomalyDetector::create(d, base_model(), error), nullptr) << error;
  for (int bad = 0; bad < 5; ++bad) {
    AnomalyConfig c;
    if (bad == 0) c.threshold = 0;
    if (bad == 1) c.threshold = std::nan("");
    if (bad == 2) c.history_capacity = 0;
    if (bad == 3) c.learning_min_samples = c.history_capacity + 1;
    if (bad == 4) c.persistence = 0;
    error.clear();
    EXPECT_EQ(AnomalyDetector::create(c, base_model(), error), nullptr) << bad;
    EXPECT_FALSE(error.empty());
  }
}

TEST(AnomalyDetector, NewTenantLearnsThenAlertsOnAnAnomaly) {
  auto det = make_detector();
  SyntheticTenant gen(7, 3.0);
  // An anomaly during the learning period does not alert.
  auto first = gen.window();
  SyntheticTenant::make_scanner(first[0]);
  EXPECT_TRUE(det->score(1, first).empty());
  for (uint32_t w = 1; w < det->config().learning_windows; ++w) det->score(1, gen.window());
  ASSERT_EQ(det->phase(1), TenantPhase::kScoring);
  EXPECT_EQ(det->stats().trainings, 1u);

  auto window = gen.window();
  SyntheticTenant::make_scanner(window[3]);
  SyntheticTenant::make_exfiltrator(window[10]);
  const auto found = det->score(1, window);
  ASSERT_GE(found.size(), 2u);
  bool scanner = false, exfil = false;
  for (const Detection& d : found) {
    std::printf("%s\n", d.summary.c_str());
    EXPECT_EQ(d.type, DetectionType::kAnomaly);
    EXPECT_EQ(d.tenant_id, 1u);
    ASSERT_GE(d.evidence.size(), 2u);
    EXPECT_EQ(d.evidence[0].name, "anomaly_score");
    EXPECT_GT(d.evidence[0].value, d.evidence[0].threshold);
    EXPECT_GE(d.severity, 40.0);
    scanner |= d.subject == window[3].host;
    if (d.subject == window[10].host) {
      exfil = true;
      // The explanation names the outbound bytes with the host's usual value.
      bool named = false;
      for (const Evidence& e : d.evidence) {
        if (e.name == "bytes_out_per_s") {
          named = true;
          EXPECT_GT(e.value, 50 * e.usual);
        }
      }
      EXPECT_TRUE(named) << d.summary;
    }
  }
  EXPECT_TRUE(scanner);
  EXPECT_TRUE(exfil);
}

// The point of the normalisation: tenants 100× apart in volume, one threshold. Both false
// alarm rarely and at similar rates; the same attack is found in both.
TEST(AnomalyDetector, OneThresholdHoldsForTenants100TimesApart) {
  auto det = make_detector();
  SyntheticTenant small(21, 1.0), large(22, 100.0);
  learn(*det, 1, small);
  learn(*det, 2, large);
  size_t alarms_small = 0, alarms_large = 0, scored = 0;
  for (int w = 0; w < 50; ++w) {
    alarms_small += det->score(1, small.window()).size();
    alarms_large += det->score(2, large.window()).size();
    scored += 80;
  }
  const double rate_small = static_cast<double>(alarms_small) / static_cast<double>(scored);
  const double rate_large = static_cast<double>(alarms_large) / static_cast<double>(scored);
  EXPECT_LT(rate_small, 0.01);
  EXPECT_LT(rate_large, 0.01);
  EXPECT_LT(std::abs(rate_small - rate_large), 0.01);
  for (auto* gen : {&small, &large}) {
    const uint32_t tenant = gen == &small ? 1 : 2;
    for (auto inject : {&SyntheticTenant::make_scanner, &SyntheticTenant::make_exfiltrator}) {
      auto window = gen->window();
      inject(window[5]);
      const float s = det->score_one(tenant, window[5].features);
      EXPECT_GT(s, det->config().threshold) << "tenant " << tenant;
      const auto found = det->score(tenant, window);
      EXPECT_TRUE(std::any_of(found.begin(), found.end(),
                              [&](const Detection& d) { return d.subject == window[5].host; }))
          << "tenant " << tenant;
    }
  }
  std::printf("false alarms per host-window: small %.4f, large %.4f\n", rate_small, rate_large);
}

// With persistence k, a host is reported only in its k-th consecutive window over the
// threshold; a window under it (or without the host) starts the count again.
TEST(AnomalyDetector, PersistenceNeedsConsecutiveWindowsOverTheThreshold) {
  AnomalyConfig config = test_config();
  config.persistence = 3;
  auto det = make_detector(config);
  SyntheticTenant gen(9, 2.0);
  // Windows every 10 s, each the 10 s after the previous one.
  const auto next = [&] {
    auto w = gen.window();
    for (HostSample& s : w) s.repeat_ns = 10'000'000'000LL;
    return w;
  };
  for (uint32_t w = 0; w < config.learning_windows; ++w) det->score(1, next());
  ASSERT_EQ(det->phase(1), TenantPhase::kScoring);
  const auto reported = [&](bool scan) {
    auto w = next();
    if (scan) SyntheticTenant::make_scanner(w[4]);
    const auto found = det->score(1, w);
    return std::any_of(found.begin(), found.end(),
                       [&](const Detection& d) { return d.subject == w[4].host; });
  };
  const uint64_t before = det->stats().unconfirmed;
  EXPECT_FALSE(reported(true));
  EXPECT_FALSE(reported(true));
  EXPECT_FALSE(reported(false));  // the run is broken
  EXPECT_FALSE(reported(true));
  EXPECT_FALSE(reported(true));
  EXPECT_TRUE(reported(true));  // third in a row
  EXPECT_TRUE(reported(true));  // and every one after while it lasts
  EXPECT_GE(det->stats().unconfirmed, before + 4);
  // A gap (a window missing, e.g. the host was quiet) restarts the count.
  gen.window();
  EXPECT_FALSE(reported(true));
}

// A host that always looks unlike the others (here: a scanner from the first scored window)
// learns its own usual score during its warm-up and is not reported every window; an
// ordinary host that turns scanner is, being far above its own usual score.
TEST(AnomalyDetector, AHostIsHeldAgainstItsOwnUsualScore) {
  AnomalyConfig config = test_config();
  config.host_margin = 3;
  config.host_warmup_windows = 5;
  auto det = make_detector(config);
  SyntheticTenant gen(11, 2.0);
  learn(*det, 1, gen);
  size_t odd_reports = 0;
  bool changed_reported = false;
  for (int w = 0; w < 20; ++w) {
    auto window = gen.window();
    SyntheticTenant::make_scanner(window[2]);               // always odd
    if (w >= 10) SyntheticTenant::make_scanner(window[6]);  // changes at window 10
    for (const Detection& d : det->score(1, window)) {
      odd_reports += d.subject == window[2].host;
      changed_reported |= d.subject == window[6].host;
    }
  }
  EXPECT_EQ(odd_reports, 0u);
  EXPECT_TRUE(changed_reported);
  EXPECT_GT(det->stats().host_usual, 0u);
  // The usual scores are state: they survive an export and import.
  const auto state = det->export_tenant(1);
  auto other = make_detector(config);
  std::string error;
  ASSERT_TRUE(other->import_tenant(1, state, error)) << error;
  EXPECT_EQ(other->export_tenant(1), state);
}

// Mean reconstruction loss of `s` under tenant `tenant`'s own model (before normalisation).
double raw_loss(const AnomalyDetector& det, uint32_t tenant, const FeatureVector& features) {
  const Model& m = det.model(tenant);
  Autoencoder::Matrix x(16, 1), e;
  m.scaler.transform(features, std::span<float>(x.data(), 16));
  Autoencoder::Workspace ws;
  m.net.squared_errors(x, e, ws);
  return e.mean();
}

// A tenant whose hosts are twice as erratic reconstructs worse everywhere: a threshold on
// the raw loss that suits the calm tenant floods the erratic one with false alarms. The
// normalised score holds for both.
TEST(AnomalyDetector, NormalisationAbsorbsDifferentLossLevels) {
  auto det = make_detector();
  SyntheticTenant calm(71, 1.0, 0.2), erratic(72, 1.0, 0.6);
  learn(*det, 1, calm);
  learn(*det, 2, erratic);
  std::vector<double> calm_loss, erratic_loss;
  size_t alarms_calm = 0, alarms_erratic = 0;
  for (int w = 0; w < 30; ++w) {
    const auto wc = calm.window(), we = erratic.window();
    for (const auto& h : wc) calm_loss.push_back(raw_loss(*det, 1, h.features));
    for (const auto& h : we) erratic_loss.push_back(raw_loss(*det, 2, h.features));
    alarms_calm += det->score(1, wc).size();
    alarms_erratic += det->score(2, we).size();
  }
  std::sort(calm_loss.begin(), calm_loss.end());
  const double calm_p99 = calm_loss[calm_loss.size() * 99 / 100];
  const auto over = std::count_if(erratic_loss.begin(), erratic_loss.end(),
                                  [&](double l) { return l > calm_p99; });
  EXPECT_GT(static_cast<double>(over) / static_cast<double>(erratic_loss.size()), 0.05);
  EXPECT_LT(static_cast<double>(alarms_calm) / static_cast<double>(calm_loss.size()), 0.01);
  EXPECT_LT(static_cast<double>(alarms_erratic) / static_cast<double>(erratic_loss.size()), 0.01);
  std::printf("raw loss over the calm tenant's p99: %.1f%% of the erratic tenant's hosts\n",
              100.0 * static_cast<double>(over) / static_cast<double>(erratic_loss.size()));
  // The attack still stands out in the erratic tenant.
  auto window = erratic.window();
  SyntheticTenant::make_scanner(window[4]);
  EXPECT_GT(det->score_one(2, window[4].features), det->config().threshold);
}

TEST(AnomalyDetector, ExportImportRoundTripAndDeterminism) {
  auto a = make_detector();
  auto b = make_detector();
  SyntheticTenant ga(31, 5.0), gb(31, 5.0);
  learn(*a, 4, ga);
  learn(*b, 4, gb);
  for (int w = 0; w < 5; ++w) {
    a->score(4, ga.window());
    b->score(4, gb.window());
  }
  const auto bytes = a->export_tenant(4);
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes, b->export_tenant(4));  // same inputs, same seed: same state

  auto c = make_detector();
  std::string error;
  ASSERT_TRUE(c->import_tenant(4, bytes, error)) << error;
  EXPECT_EQ(c->export_tenant(4), bytes);
  EXPECT_EQ(c->phase(4), TenantPhase::kScoring);
  // The imported tenant scores exactly as the original.
  auto window = ga.window();
  SyntheticTenant::make_scanner(window[1]);
  const auto da = a->score(4, window);
  const auto dc = c->score(4, window);
  ASSERT_EQ(da.size(), dc.size());
  for (size_t i = 0; i < da.size(); ++i) {
    EXPECT_EQ(da[i].subject, dc[i].subject);
    EXPECT_EQ(da[i].evidence[0].value, dc[i].evidence[0].value);
  }
  EXPECT_EQ(a->export_tenant(4), c->export_tenant(4));
}

TEST(AnomalyDetector, ImportRejectsTruncatedAndCorruptState) {
  auto a = make_detector();
  SyntheticTenant g(41, 2.0);
  learn(*a, 9, g);
  const auto bytes = a->export_tenant(9);
  const auto before = a->export_tenant(9);
  std::string error;
  for (size_t len = 0; len < bytes.size(); len += 97) {
    EXPECT_FALSE(a->import_tenant(9, std::span(bytes).first(len), error)) << len;
  }
  for (size_t pos = 0; pos < bytes.size(); pos += 211) {
    auto bad = bytes;
    bad[pos] ^= std::byte{1};
    EXPECT_FALSE(a->import_tenant(9, bad, error)) << pos;
  }
  EXPECT_EQ(a->export_tenant(9), before);  // unchanged by the failed imports
  // Mutations behind a recomputed checksum reach the parser: no crash, and a tenant that
  // does import still scores.
  std::mt19937_64 rng(5);
  const std::vector<std::byte> body(bytes.begin(), bytes.end() - 8);
  for (int round = 0; round < 300; ++round) {
    auto b = body;
    const size_t pos = uniform_below(rng, b.size());
    if (round % 3 == 0) {
      b.resize(pos);
    } else {
      b[pos] = static_cast<std::byte>(rng());
    }
    detail::ByteWriter w;
    w.bytes(b);
    w.checksum();
    if (a->import_tenant(10, w.data(), error)) a->score(10, g.window());
  }
}

TEST(AnomalyDetector, SuspectsAreNotLearntAndRefreshRetrains) {
  AnomalyConfig config = test_config();
  config.refresh_windows = 10;
  auto det = make_detector(config);
  SyntheticTenant g(51, 1.0);
  learn(*det, 3, g);
  for (int w = 0; w < 10; ++w) {
    auto window = g.window();
    const flow::IpAddress suspect = window[0].host;
    det->score(3, window, std::span(&suspect, 1));
  }
  EXPECT_EQ(det->stats().refreshes, 1u);
  // Still quiet on benign traffic after the refresh, still alert on an attack.
  size_t alarms = 0;
  for (int w = 0; w < 10; ++w) alarms += det->score(3, g.window()).size();
  EXPECT_LT(alarms, 8u);
  auto window = g.window();
  SyntheticTenant::make_scanner(window[2]);
  EXPECT_GT(det->score_one(3, window[2].features), det->config().threshold);
}

TEST(AnomalyDetector, BoundsBaselineHosts) {
  AnomalyConfig config = test_config();
  config.max_baseline_hosts = 10;
  auto det = make_detector(config);
  SyntheticTenant g(61, 1.0);
  det->score(5, g.window());
  EXPECT_EQ(det->stats().baseline_full, 70u);
}

}  // namespace
}  // namespace fathom::detect
