#include "detect/anomaly_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fathom::detect {

namespace {

constexpr size_t kD = analyze::kFeatureCount;
constexpr std::string_view kTenantMagic = "FATHOMTS";
constexpr uint32_t kTenantFormatVersion = 2;  // 2: baselines carry the usual score
constexpr Eigen::Index kChunk = 1024;         // columns per forward pass: scratch stays in L2
constexpr uint32_t kMaxHistory = 1u << 20;
constexpr uint32_t kMaxBaselines = 1u << 22;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

float clean(float v) {
  return std::isfinite(v) ? v : 0.0f;
}

std::string human(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.1fG", v / 1e9);
  } else if (a >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  } else if (a >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

// Every `stride`-th of `count` eligible items, starting at a per-window offset so the same
// hosts are not the ones picked every window (hash-table order is stable).
uint32_t stride_for(size_t count, uint64_t take) {
  if (take == 0) return 0;
  return static_cast<uint32_t>(std::max<uint64_t>(1, (count + take - 1) / take));
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return b == 0 ? 0 : (a + b - 1) / b;
}

}  // namespace

Model train_base_model(std::span<const std::vector<analyze::FeatureVector>> tenants,
                       const AutoencoderShape& shape, const TrainOptions& options,
                       const AdamConfig& adam, const ScalerConfig& scaler, uint64_t seed) {
  AutoencoderShape s = shape;
  s.inputs = kD;
  Model model = make_model(s, seed, adam);
  model.scaler = FeatureScaler(scaler, default_feature_transforms());
  size_t total = 0;
  for (const auto& v : tenants) total += v.size() >= 2 ? v.size() : 0;
  Autoencoder::Matrix x(kD, static_cast<Eigen::Index>(total));
  Eigen::Index col = 0;
  for (const auto& vectors : tenants) {
    if (vectors.size() < 2) continue;
    FeatureScaler own(scaler, default_feature_transforms());
    for (const auto& v : vectors) {
      own.observe(v);
      model.scaler.observe(v);
    }
    for (const auto& v : vectors) own.transform(v, std::span<float>(x.col(col++).data(), kD));
  }
  std::mt19937_64 rng(splitmix64(seed ^ 0xba5eULL));
  model.net.fit(x, options, rng);
  return model;
}

std::unique_ptr<AnomalyDetector> AnomalyDetector::create(AnomalyConfig config, Model base,
                                                         std::string& error) {
  if (base.net.inputs() != kD || base.scaler.size() != kD || base.feature_group.size() != kD) {
    error = "anomaly: the base model must read the " + std::to_string(kD) + " host features";
    return nullptr;
  }
  if (!(config.threshold > 0) || !std::isfinite(config.threshold)) {
    error = "anomaly: threshold must be a positive number";
    return nullptr;
  }
  if (config.history_capacity == 0 || config.history_capacity > kMaxHistory) {
    error = "anomaly: history_capacity must be 1.." + std::to_string(kMaxHistory);
    return nullptr;
  }
  if (config.persistence == 0) {
    error = "anomaly: persistence must be at least 1 window";
    return nullptr;
  }
  if (config.learning_min_samples > config.history_capacity) {
    error = "anomaly: learning_min_samples exceeds history_capacity";
    return nullptr;
  }
  return std::unique_ptr<AnomalyDetector>(new AnomalyDetector(config, std::move(base)));
}

AnomalyDetector::AnomalyDetector(AnomalyConfig config, Model base)
    : config_(config), base_(std::move(base)) {}

AnomalyDetector::Tenant AnomalyDetector::new_tenant() const {
  Tenant t;
  t.model = base_;
  t.normaliser = LossNormaliser(base_.group_count(), config_.normaliser);
  return t;
}

AnomalyDetector::Tenant& AnomalyDetector::tenant(uint32_t tenant_id) {
  auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) it = tenants_.emplace(tenant_id, new_tenant()).first;
  return it->second;
}

TenantPhase AnomalyDetector::phase(uint32_t tenant_id) const {
  const auto it = tenants_.find(tenant_id);
  return it == tenants_.end() ? TenantPhase::kLearning : it->second.phase;
}

const Model& AnomalyDetector::model(uint32_t tenant_id) const {
  const auto it = tenants_.find(tenant_id);
  return it == tenants_.end() ? base_ : it->second.model;
}

void AnomalyDetector::forget_tenant(uint32_t tenant_id) {
  tenants_.erase(tenant_id);
}

void AnomalyDetector::remember(Tenant& t, const analyze::FeatureVector& raw) const {
  const uint32_t cap = config_.history_capacity;
  // Grown as vectors arrive (a small tenant never holds the whole capacity), then a ring.
  if (t.history.size() < size_t{cap} * kD) t.history.resize(t.history.size() + kD);
  float* slot = t.history.data() + size_t{t.history_next} * kD;
  for (size_t f = 0; f < kD; ++f) slot[f] = clean(raw[f]);
  t.history_next = (t.history_next + 1) % cap;
  t.history_size = std::min(t.history_size + 1, cap);
}

void AnomalyDetector::learn_baseline(Tenant& t, const HostSample& s) {
  auto it = t.baselines.find(s.host);
  if (it == t.baselines.end()) {
    if (t.baselines.size() >= config_.max_baseline_hosts) {
      ++stats_.baseline_full;
      return;
    }
    it = t.baselines.emplace(s.host, Baseline{}).first;
  }
  Baseline& b = it->second;
  b.windows = std::min<uint32_t>(b.windows + 1, 1u << 30);
  // The plain mean of the first windows, then exponential: a young baseline is not its first.
  const float alpha =
      std::max(static_cast<float>(config_.baseline_alpha), 1.0f / static_cast<float>(b.windows));
  for (size_t f = 0; f < kD; ++f) b.mean[f] += alpha * (clean(s.features[f]) - b.mean[f]);
}

void AnomalyDetector::train(uint32_t tenant_id, Tenant& t, const TrainOptions& options,
                            bool refresh) {
  const uint32_t n = t.history_size;
  const uint32_t cap = config_.history_capacity;
  const uint32_t oldest = n < cap ? 0 : t.history_next;
  // Re-fit the scaler on the history (oldest first), then freeze it until the next training.
  t.model.scaler = FeatureScaler(config_.scaler, base_.scaler.transforms());
  for (uint32_t i = 0; i < n; ++i) {
    t.model.scaler.observe(
        std::span<const float>(t.history.data() + size_t{(oldest + i) % cap} * kD, kD));
  }
  if (!refresh) {
    t.model.net = base_.net;  // transfer: start from the base model's weights
    t.model.net.reset_optimiser();
    t.model.net.set_adam(config_.fine_tune_adam);
  }
  const uint32_t k = config_.holdout_every;
  const uint32_t held = k >= 2 ? n / k : 0;
  Autoencoder::Matrix fit_x(kD, n - held), hold_x(kD, held);
  for (uint32_t i = 0, a = 0, h = 0; i < n; ++i) {
    const float* raw = t.history.data() + size_t{(oldest + i) % cap} * kD;
    const bool hold = k >= 2 && i % k == k - 1 && h < held;
    float* col = hold ? hold_x.col(h++).data() : fit_x.col(a++).data();
    t.model.scaler.transform(std::span<const float>(raw, kD), std::span<float>(col, kD));
  }
  std::mt19937_64 rng(
      splitmix64(config_.seed ^ splitmix64(tenant_id) ^ splitmix64(0x5eedULL + t.trainings)));
  t.model.net.fit(fit_x, options, rng);
  ++t.trainings;
  t.windows_since_train = 0;
  // The normaliser learns the new model's losses on held-out vectors (and on the training
  // vectors too when the holdout alone is too small to score).
  t.normaliser.clear();
  Autoencoder::Workspace ws;
  Autoencoder::Matrix e, g;
  const auto fill = [&](const Autoencoder::Matrix& x) {
    if (x.cols() == 0) return;
    t.model.net.squared_errors(x, e, ws);
    group_losses(t.model, e, g);
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      t.normaliser.add(std::span<const float>(g.col(j).data(), static_cast<size_t>(g.rows())));
    }
  };
  fill(hold_x);
  if (held < config_.normaliser.min_values) fill(fit_x);
  t.normaliser.refresh();
}

bool AnomalyDetector::confirmed(Tenant& t, const HostSample& s) const {
  auto [it, fresh] = t.streaks.try_emplace(s.host, s.window_end_ns, 0);
  auto& [last_end, run] = it->second;
  // The previous scored window ends one slide earlier (repeat_ns; unknown: any earlier one).
  const bool follows = !fresh && last_end < s.window_end_ns &&
                       (s.repeat_ns <= 0 || last_end >= s.window_end_ns - s.repeat_ns);
  run = follows ? run + 1 : (fresh || last_end != s.window_end_ns ? 1 : run);
  last_end = s.window_end_ns;
  return run >= config_.persistence;
}

bool AnomalyDetector::host_relative(Tenant& t, const flow::IpAddress& host, float score) const {
  if (!(config_.host_margin > 0)) return true;
  const auto it = t.baselines.find(host);
  if (it == t.baselines.end()) return true;
  Baseline& b = it->second;
  const float margin = static_cast<float>(config_.host_margin);
  const bool warming = b.scored < config_.host_warmup_windows;
  const bool beyond = !warming && score > b.score + margin;
  if (!beyond && std::isfinite(score)) {
    b.scored = std::min<uint32_t>(b.scored + 1, 1u << 30);
    const float alpha = std::max(0.1f, 1.0f / static_cast<float>(b.scored));
    b.score += alpha * (score - b.score);
  }
  return beyond;
}

std::vector<Detection> AnomalyDetector::score(uint32_t tenant_id, std::span<const HostSample> hosts,
                                              std::span<const flow::IpAddress> suspects) {
  Tenant& t = tenant(tenant_id);
  // Streaks broken by a window under the threshold (or without the host) are forgotten.
  if (!hosts.empty() && !t.streaks.empty()) {
    const int64_t end = hosts.front().window_end_ns;
    const int64_t slide = hosts.front().repeat_ns;
    std::erase_if(t.streaks, [&](const auto& kv) {
      return slide > 0 ? kv.second.first < end - slide : kv.second.first < end;
    });
  }
  ++stats_.windows;
  ++t.windows;
  std::vector<flow::IpAddress> suspect(suspects.begin(), suspects.end());
  std::sort(suspect.begin(), suspect.end());
  const auto is_suspect = [&](const flow::IpAddress& a) {
    return !suspect.empty() && std::binary_search(suspect.begin(), suspect.end(), a);
  };

  if (t.phase == TenantPhase::kLearning) {
    stats_.hosts_learning += hosts.size();
    // The history spans the whole learning period: capacity / learning windows per window.
    const uint64_t take = std::max<uint64_t>(
        1, ceil_div(config_.history_capacity, std::max<uint32_t>(config_.learning_windows, 1)));
    size_t eligible = 0;
    for (const HostSample& s : hosts) eligible += !is_suspect(s.host);
    const uint32_t stride = stride_for(eligible, take);
    size_t k = 0;
    for (const HostSample& s : hosts) {
      if (is_suspect(s.host)) continue;
      if ((k++ + t.windows) % stride == 0) remember(t, s.features);
      learn_baseline(t, s);
    }
    if (t.windows >= config_.learning_windows && t.history_size >= config_.learning_min_samples &&
        t.history_size > 0) {
      train(tenant_id, t, config_.fine_tune, false);
      t.phase = TenantPhase::kScoring;
      ++stats_.trainings;
    }
    return {};
  }

  stats_.hosts_scored += hosts.size();
  const size_t groups = t.model.group_count();
  std::vector<float> losses(hosts.size() * groups);
  std::vector<uint8_t> benign(hosts.size(), 0);
  std::vector<std::pair<float, Detection>> found;
  Autoencoder::Workspace ws;
  Autoencoder::Matrix x, e, g;
  std::array<float, LossNormaliser::kMaxGroups> z{};
  for (size_t start = 0; start < hosts.size(); start += kChunk) {
    const auto m = static_cast<Eigen::Index>(std::min<size_t>(kChunk, hosts.size() - start));
    x.resize(kD, m);
    for (Eigen::Index j = 0; j < m; ++j) {
      t.model.scaler.transform(hosts[start + j].features, std::span<float>(x.col(j).data(), kD));
    }
    t.model.net.squared_errors(x, e, ws);
    group_losses(t.model, e, g);
    for (Eigen::Index j = 0; j < m; ++j) {
      const size_t i = start + static_cast<size_t>(j);
      const std::span<const float> gl(g.col(j).data(), groups);
      std::copy(gl.begin(), gl.end(), losses.begin() + static_cast<std::ptrdiff_t>(i * groups));
      t.normaliser.normalise(gl, std::span<float>(z.data(), groups));
      const float s = t.normaliser.combine(std::span<const float>(z.data(), groups));
      const bool over = s > config_.threshold;
      const bool beyond_usual = host_relative(t, hosts[i].host, s);
      if (over && !beyond_usual) {
        ++stats_.host_usual;
      } else if (over && !confirmed(t, hosts[i])) {
        ++stats_.unconfirmed;
      } else if (over) {
        found.emplace_back(
            s, explain(tenant_id, t, hosts[i], s, std::span<const float>(z.data(), groups),
                       std::span<const float>(e.col(j).data(), kD)));
      } else {
        benign[i] = !is_suspect(hosts[i].host);
      }
    }
  }

  // Learn from the benign hosts: baselines from all, a strided few into the normaliser's
  // rings and the refresh history (each spans many windows, not the last big one).
  size_t eligible = 0;
  for (const uint8_t b : benign) eligible += b;
  const uint32_t norm_stride = stride_for(
      eligible, std::max<uint64_t>(1, config_.normaliser.capacity /
                                          std::max<uint32_t>(config_.normaliser_span_windows, 1)));
  const uint32_t hist_stride =
      config_.refresh_windows == 0
          ? 0
          : stride_for(eligible, std::max<uint64_t>(1, ceil_div(config_.history_capacity,
                                                                config_.refresh_windows)));
  size_t k = 0;
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (!benign[i]) continue;
    const size_t pick = k++ + t.windows;
    if (pick % norm_stride == 0) {
      t.normaliser.add(std::span<const float>(losses.data() + i * groups, groups));
    }
    if (hist_stride != 0 && pick % hist_stride == 0) remember(t, hosts[i].features);
    learn_baseline(t, hosts[i]);
  }
  t.normaliser.refresh();
  ++t.windows_since_train;
  if (config_.refresh_windows != 0 && t.windows_since_train >= config_.refresh_windows &&
      t.history_size >= config_.learning_min_samples) {
    train(tenant_id, t, config_.refresh, true);
    ++stats_.refreshes;
  }

  // Highest scores first; ties by host so the order is deterministic.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second.subject < b.second.subject;
  });
  if (found.size() > config_.max_detections_per_window) {
    stats_.detections_dropped += found.size() - config_.max_detections_per_window;
    found.resize(config_.max_detections_per_window);
  }
  std::vector<Detection> out;
  out.reserve(found.size());
  for (auto& [s, d] : found) out.push_back(std::move(d));
  stats_.detections += out.size();
  return out;
}

float AnomalyDetector::score_one(uint32_t tenant_id, const analyze::FeatureVector& features) const {
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end() || it->second.phase != TenantPhase::kScoring) return 0.0f;
  const Tenant& t = it->second;
  Autoencoder::Matrix x(kD, 1), e, g;
  t.model.scaler.transform(features, std::span<float>(x.data(), kD));
  Autoencoder::Workspace ws;
  t.model.net.squared_errors(x, e, ws);
  group_losses(t.model, e, g);
  return t.normaliser.score(std::span<const float>(g.data(), static_cast<size_t>(g.rows())));
}

Detection AnomalyDetector::explain(uint32_t tenant_id, const Tenant& t, const HostSample& s,
                                   float score, std::span<const float> group_z,
                                   std::span<const float> errors) const {
  Detection d;
  d.tenant_id = tenant_id;
  d.type = DetectionType::kAnomaly;
  d.subject = s.host;
  d.window_start_ns = s.window_start_ns;
  d.window_end_ns = s.window_end_ns;
  d.repeat_ns = s.repeat_ns;
  d.first_arrival_ns = s.first_arrival_ns;
  const size_t worst_group =
      static_cast<size_t>(std::max_element(group_z.begin(), group_z.end()) - group_z.begin());
  d.detail = group_name(worst_group);
  // Severity: medium at the threshold, +30 per decade above it (as the rules' ratios).
  const double ratio = score / config_.threshold;
  d.severity = std::min(100.0, 40.0 + 30.0 * std::log10(std::max(ratio, 1.0)));
  d.evidence.push_back({"anomaly_score", score, score, score, config_.threshold, 0.0});
  std::array<uint8_t, kD> order{};
  for (size_t f = 0; f < kD; ++f) order[f] = static_cast<uint8_t>(f);
  const size_t top = std::min<size_t>(config_.top_features, kD);
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
      [&](uint8_t a, uint8_t b) { return errors[a] != errors[b] ? errors[a] > errors[b] : a < b; });
  const auto base = t.baselines.find(s.host);
  d.summary = "unusual behaviour of " + s.host.to_string() + " (" + d.detail + ", score " +
              human(score) + "):";
  for (size_t r = 0; r < top; ++r) {
    const size_t f = order[r];
    const double value = clean(s.features[f]);
    const double usual = base != t.baselines.end() ? static_cast<double>(base->second.mean[f])
                                                   : t.model.scaler.usual(f);
    const std::string name(analyze::to_string(static_cast<analyze::Feature>(f)));
    d.evidence.push_back({name, value, value, value, std::nan(""), usual});
    d.summary +=
        (r == 0 ? " " : ", ") + name + " " + human(value) + " (usual " + human(usual) + ")";
  }
  return d;
}

std::vector<std::byte> AnomalyDetector::export_tenant(uint32_t tenant_id) const {
  const auto it = tenants_.find(tenant_id);
  if (it == tenants_.end()) return {};
  const Tenant& t = it->second;
  detail::ByteWriter out;
  out.raw(kTenantMagic);
  out.u32(kTenantFormatVersion);
  out.u8(static_cast<uint8_t>(t.phase));
  out.u64(t.windows);
  out.u64(t.windows_since_train);
  out.u64(t.trainings);
  const std::vector<std::byte> model = save_model(t.model);
  out.u32(static_cast<uint32_t>(model.size()));
  out.bytes(model);
  t.normaliser.write(out);
  // History oldest first, so a different capacity on import keeps the newest.
  out.u32(t.history_size);
  const uint32_t cap = config_.history_capacity;
  const uint32_t oldest = t.history_size < cap ? 0 : t.history_next;
  for (uint32_t i = 0; i < t.history_size; ++i) {
    const float* v = t.history.data() + size_t{(oldest + i) % cap} * kD;
    for (size_t f = 0; f < kD; ++f) out.f32(v[f]);
  }
  // Baselines sorted by host: the bytes do not depend on the hash table's order.
  std::vector<const std::pair<const flow::IpAddress, Baseline>*> sorted;
  sorted.reserve(t.baselines.size());
  for (const auto& kv : t.baselines) sorted.push_back(&kv);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  out.u32(static_cast<uint32_t>(sorted.size()));
  for (const auto* kv : sorted) {
    for (const uint8_t byte : kv->first.bytes) out.u8(byte);
    out.u32(kv->second.windows);
    for (const float v : kv->second.mean) out.f32(v);
    out.f32(kv->second.score);
    out.u32(kv->second.scored);
  }
  out.checksum();
  return std::move(out.data());
}

bool AnomalyDetector::import_tenant(uint32_t tenant_id, std::span<const std::byte> bytes,
                                    std::string& error) {
  std::span<const std::byte> body;
  if (!detail::verify_checksum(bytes, body)) {
    error = "anomaly state: truncated or bad checksum";
    return false;
  }
  detail::ByteReader in(body);
  if (!in.expect(kTenantMagic)) {
    error = "anomaly state: bad magic";
    return false;
  }
  const uint32_t version = in.u32();
  if (version != 1 && version != kTenantFormatVersion) {
    error = "anomaly state: format version " + std::to_string(version) + ", this build reads 1.." +
            std::to_string(kTenantFormatVersion);
    return false;
  }
  Tenant t = new_tenant();
  const uint8_t phase = in.u8();
  t.windows = in.u64();
  t.windows_since_train = in.u64();
  t.trainings = in.u64();
  const uint32_t model_len = in.u32();
  if (in.failed() || phase > 1) {
    error = "anomaly state: bad header";
    return false;
  }
  t.phase = static_cast<TenantPhase>(phase);
  const auto model_bytes = in.bytes(model_len);
  std::string why;
  if (in.failed() || !load_model(model_bytes, t.model, why)) {
    error = "anomaly state: " + (why.empty() ? std::string("truncated model") : why);
    return false;
  }
  if (t.model.net.inputs() != kD || t.model.scaler.size() != kD) {
    error = "anomaly state: the model does not read the host features";
    return false;
  }
  if (!t.normaliser.read(in, why)) {
    error = "anomaly state: " + why;
    return false;
  }
  if (t.normaliser.groups() != t.model.group_count()) {
    error = "anomaly state: normaliser groups do not match the model";
    return false;
  }
  const uint32_t history = in.u32();
  if (in.failed() || history > kMaxHistory || !in.need(size_t{history} * kD * 4)) {
    error = "anomaly state: bad history";
    return false;
  }
  analyze::FeatureVector v{};
  for (uint32_t i = 0; i < history; ++i) {
    for (float& f : v) f = in.f32();
    remember(t, v);
  }
  const uint32_t baselines = in.u32();
  const size_t baseline_bytes = 16 + 4 + kD * 4 + (version >= 2 ? 8 : 0);
  if (in.failed() || baselines > kMaxBaselines || !in.need(size_t{baselines} * baseline_bytes)) {
    error = "anomaly state: bad baselines";
    return false;
  }
  for (uint32_t i = 0; i < baselines; ++i) {
    flow::IpAddress host;
    for (uint8_t& byte : host.bytes) byte = in.u8();
    Baseline b;
    b.windows = in.u32();
    for (float& f : b.mean) f = clean(in.f32());
    if (version >= 2) {
      b.score = in.f32();
      b.scored = in.u32();
      if (!std::isfinite(b.score)) {
        b.score = 0.0f;
        b.scored = 0;
      }
    }
    if (t.baselines.size() < config_.max_baseline_hosts) t.baselines.emplace(host, b);
  }
  if (in.failed() || in.remaining() != 0) {
    error = "anomaly state: truncated or trailing bytes";
    return false;
  }
  tenants_[tenant_id] = std::move(t);
  return true;
}

}  // namespace fathom::detect
