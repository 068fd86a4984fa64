// The autoencoder detector (src/detect), one core.
//
// Host vectors come from a deterministic synthetic tenant: hosts with fixed profiles (a
// log-normal packet rate, a packet size, a peer count), each window a noisy draw around them
// (log-normal noise σ = 0.3); tenant id 1. The base model is trained on two such tenants
// (scales 1 and 10, 80 hosts × 30 windows, 30 epochs) before timing.
//
// BM_ScoreKernel/batch:B: the scoring arithmetic alone on B host vectors: scale (log1p and
//   standardise), forward 16 → 8 → 4 → 8 → 16, squared errors, group losses, normalised
//   score. One iteration = B vectors; items/s = host vectors per second.
// BM_DetectorScore/hosts:H: AnomalyDetector::score of one window of H hosts on a tenant past
//   its learning period, as the analysis stage calls it: the kernel above plus the benign
//   hosts' baselines, normaliser rings and its once-per-window median/MAD refresh, and the
//   evidence of the detections. Host 0 of every window is a scanner. Check: every window
//   finds it, and false alarms stay under 1% (else SkipWithError).
// BM_TrainStep/batch:B: one forward + backward + Adam step on a batch of B scaled vectors.
// BM_FineTune: the end of a learning period: re-fit the scaler on 4096 history vectors and
//   fine-tune 20 epochs (batch 64) on 3/4 of them, fill the normaliser from the rest.
//
// Run: build/release/bench/anomaly_bench (docs/performance.md "Anomaly detection").

#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "detect/anomaly_detector.h"

namespace {

using fathom::analyze::Feature;
using fathom::analyze::FeatureVector;
using namespace fathom::detect;

double gaussian(std::mt19937_64& rng) {
  const double u = 1.0 - uniform01(rng), v = uniform01(rng);
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
}

class Tenant {
 public:
  Tenant(uint64_t seed, double scale, size_t hosts) : rng_(seed), scale_(scale) {
    for (size_t h = 0; h < hosts; ++h) {
      Profile p{std::exp(3 + gaussian(rng_)), 200 + 1000 * uniform01(rng_),
                1 + std::exp(1.5 + 0.7 * gaussian(rng_)), 0.4 + 0.5 * uniform01(rng_)};
      p.host = fathom::flow::IpAddress::from_v4(0x0a000000u | static_cast<uint32_t>(h));
      profiles_.push_back(p);
    }
  }
  std::vector<HostSample> window() {
    std::vector<HostSample> out;
    out.reserve(profiles_.size());
    for (const Profile& p : profiles_) {
      HostSample s;
      s.host = p.host;
      s.window_start_ns = index_ * 2'000'000'000LL;
      s.window_end_ns = s.window_start_ns + 10'000'000'000LL;
      FeatureVector& f = s.features;
      const auto noisy = [&](double v) {
        return static_cast<float>(v * std::exp(0.3 * gaussian(rng_)));
      };
      const double r = scale_ * p.rate;
      at(f, Feature::kPacketsInPerS) = noisy(r);
      at(f, Feature::kPacketsOutPerS) = noisy(r * p.out_share);
      at(f, Feature::kBytesInPerS) = noisy(r * p.packet);
      at(f, Feature::kBytesOutPerS) = noisy(r * p.out_share * p.packet * 0.6);
      at(f, Feature::kFlowsInPerS) = noisy(r / 30);
      at(f, Feature::kFlowsOutPerS) = noisy(r / 40);
      const float peers = noisy(p.peers);
      at(f, Feature::kDistinctPeers) = peers;
      at(f, Feature::kDistinctRemotePorts) = noisy(peers * 1.2);
      at(f, Feature::kDistinctLocalPorts) = noisy(2 + peers * 0.3);
      at(f, Feature::kSynOnlyRatio) = static_cast<float>(0.02 + 0.02 * uniform01(rng_));
      at(f, Feature::kRstRatio) = static_cast<float>(0.01 + 0.01 * uniform01(rng_));
      at(f, Feature::kMeanPacketBytes) = noisy(p.packet * 0.8);
      const double ent = std::min(1.0, std::log2(1.0 + peers) / 3);
      at(f, Feature::kPeerEntropy) = static_cast<float>(ent * (0.9 + 0.1 * uniform01(rng_)));
      at(f, Feature::kPortEntropy) = static_cast<float>(ent * (0.85 + 0.1 * uniform01(rng_)));
      at(f, Feature::kIntelShare) = 0.0f;
      at(f, Feature::kNewPeerShare) = static_cast<float>(0.05 + 0.1 * uniform01(rng_));
      out.push_back(s);
    }
    ++index_;
    return out;
  }

 private:
  struct Profile {
    double rate, packet, peers, out_share;
    fathom::flow::IpAddress host;
  };
  std::mt19937_64 rng_;
  double scale_;
  int64_t index_ = 0;
  std::vector<Profile> profiles_;
};

void make_scanner(HostSample& s) {
  FeatureVector& f = s.features;
  at(f, Feature::kFlowsOutPerS) *= 300;
  at(f, Feature::kDistinctPeers) = 800;
  at(f, Feature::kSynOnlyRatio) = 0.9f;
  at(f, Feature::kNewPeerShare) = 0.97f;
}

const Model& base() {
  static const Model model = [] {
    std::vector<std::vector<FeatureVector>> tenants(2);
    for (size_t t = 0; t < 2; ++t) {
      Tenant gen(101 + t, t == 0 ? 1.0 : 10.0, 80);
      for (int w = 0; w < 30; ++w) {
        for (const auto& s : gen.window()) tenants[t].push_back(s.features);
      }
    }
    return train_base_model(tenants, AutoencoderShape{}, TrainOptions{.epochs = 30},
                            AdamConfig{.learning_rate = 3e-3}, ScalerConfig{}, 7);
  }();
  return model;
}

// A detector whose tenant 1 has learnt on `hosts` hosts per window.
std::unique_ptr<AnomalyDetector> learnt(Tenant& gen) {
  AnomalyConfig config;
  config.learning_windows = 30;
  config.refresh_windows = 0;
  std::string error;
  auto det = AnomalyDetector::create(config, base(), error);
  for (uint32_t w = 0; w < config.learning_windows; ++w) det->score(1, gen.window());
  return det;
}

void BM_ScoreKernel(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  Tenant gen(5, 3.0, batch);
  auto det = learnt(gen);
  const Model& model = det->model(1);
  LossNormaliser norm(model.group_count(), NormaliserConfig{});
  std::vector<float> raw;
  for (const auto& s : gen.window()) raw.insert(raw.end(), s.features.begin(), s.features.end());
  Autoencoder::Matrix x, e, g;
  Autoencoder::Workspace ws;
  scale_columns(model.scaler, raw, batch, x);
  model.net.squared_errors(x, e, ws);
  group_losses(model, e, g);
  for (Eigen::Index j = 0; j < g.cols(); ++j) {
    norm.add(std::span<const float>(g.col(j).data(), static_cast<size_t>(g.rows())));
  }
  norm.refresh();
  double sum = 0;
  for (auto _ : state) {
    scale_columns(model.scaler, raw, batch, x);
    model.net.squared_errors(x, e, ws);
    group_losses(model, e, g);
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      sum += norm.score(std::span<const float>(g.col(j).data(), static_cast<size_t>(g.rows())));
    }
    benchmark::DoNotOptimize(sum);
  }
  if (!std::isfinite(sum)) state.SkipWithError("non-finite score");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_ScoreKernel)->ArgName("batch")->Arg(256)->Arg(1024)->Arg(4096);

void BM_DetectorScore(benchmark::State& state) {
  const auto hosts = static_cast<size_t>(state.range(0));
  Tenant gen(6, 3.0, hosts);
  auto det = learnt(gen);
  std::vector<std::vector<HostSample>> windows;
  for (int w = 0; w < 8; ++w) {
    windows.push_back(gen.window());
    make_scanner(windows.back()[0]);
  }
  size_t w = 0, found_scanner = 0, alarms = 0, scored = 0;
  for (auto _ : state) {
    const auto& window = windows[w++ % windows.size()];
    const auto found = det->score(1, window);
    for (const auto& d : found) found_scanner += d.subject == window[0].host;
    alarms += found.size();
    ++scored;
  }
  if (found_scanner != scored) state.SkipWithError("a window's scanner was not found");
  if (static_cast<double>(alarms - found_scanner) > 0.01 * static_cast<double>(scored * hosts)) {
    state.SkipWithError("false alarms over 1%");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * hosts));
  state.counters["false_alarm_rate"] =
      static_cast<double>(alarms - found_scanner) / static_cast<double>(scored * hosts);
}
BENCHMARK(BM_DetectorScore)->ArgName("hosts")->Arg(1000)->Arg(10000)->Arg(100000);

void BM_TrainStep(benchmark::State& state) {
  const auto batch = static_cast<Eigen::Index>(state.range(0));
  Model model = base();
  std::mt19937_64 rng(3);
  Autoencoder::Matrix x(16, batch);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(gaussian(rng));
  double loss = 0;
  for (auto _ : state) {
    loss = model.net.train_step(x);
    benchmark::DoNotOptimize(loss);
  }
  if (!std::isfinite(loss)) state.SkipWithError("non-finite loss");
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_TrainStep)->ArgName("batch")->Arg(64)->Arg(256);

void BM_FineTune(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    Tenant gen(8, 3.0, 137);  // 30 windows × 137 hosts ≈ the 4096-vector history
    AnomalyConfig config;
    config.learning_windows = 30;
    config.refresh_windows = 0;
    std::string error;
    auto det = AnomalyDetector::create(config, base(), error);
    for (uint32_t w = 0; w + 1 < config.learning_windows; ++w) det->score(1, gen.window());
    const auto last = gen.window();
    state.ResumeTiming();
    det->score(1, last);  // ends the learning period: the fine-tune
    if (det->phase(1) != TenantPhase::kScoring) state.SkipWithError("did not fine-tune");
  }
}
BENCHMARK(BM_FineTune)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
