#include "gen/generator.h"

#include <algorithm>

namespace fathom::gen {
namespace {

constexpr int64_t kTick = 1'000'000'000;
constexpr int64_t kBootBeforeStart = 3600LL * kTick;  // devices booted an hour before the start
constexpr uint64_t kStreamBackground = 0x100;
constexpr uint64_t kStreamAttack = 0x10000;
constexpr uint64_t kStreamMeter = 0x20000;
constexpr uint64_t kStreamAttackStart = 0x30000;

}  // namespace

Generator::Generator(Scenario scenario) : scenario_(std::move(scenario)) {
  validate(scenario_);
  if (scenario_.random_attack_starts) {
    // A stream of its own per attack: drawing starts changes nothing else the seed decides.
    for (size_t a = 0; a < scenario_.attacks.size(); ++a) {
      AttackConfig& cfg = scenario_.attacks[a];
      Rng rng(mix_seed(scenario_.seed, kStreamAttackStart + a));
      const int64_t latest_s =
          std::max<int64_t>(0, (scenario_.duration_ns - cfg.duration_ns) / kTick);
      cfg.start_ns = static_cast<int64_t>(rng.below(static_cast<uint64_t>(latest_s) + 1)) * kTick;
    }
  }
  tenants_.reserve(scenario_.tenants.size());
  for (size_t t = 0; t < scenario_.tenants.size(); ++t) {
    tenants_.emplace_back(scenario_.tenants[t], static_cast<uint32_t>(t));
  }
  for (size_t t = 0; t < tenants_.size(); ++t) {
    background_.emplace_back(tenants_[t], mix_seed(scenario_.seed, kStreamBackground + t));
  }
  for (size_t a = 0; a < scenario_.attacks.size(); ++a) {
    const auto& cfg = scenario_.attacks[a];
    const auto tenant = std::find_if(tenants_.begin(), tenants_.end(),
                                     [&](const auto& tm) { return tm.config().id == cfg.tenant; });
    attacks_.emplace_back(cfg, static_cast<uint32_t>(a), *tenant, scenario_.intel,
                          scenario_.start_ns, mix_seed(scenario_.seed, kStreamAttack + a));
  }
  const int64_t boot = scenario_.start_ns - kBootBeforeStart;
  for (size_t t = 0; t < scenario_.tenants.size(); ++t) {
    exporter_base_.push_back(static_cast<uint32_t>(exporters_.size()));
    for (ExporterConfig e : scenario_.tenants[t].exporters) {
      const size_t global = exporters_.size();
      if (e.source_port == 0) e.source_port = static_cast<uint16_t>(50000 + global);
      if (e.collector_port == 0) e.collector_port = default_collector_port(e.protocol);
      exporters_.push_back(e);
      exporter_tenant_.push_back(static_cast<uint32_t>(t));
      meters_.emplace_back(e, mix_seed(scenario_.seed, kStreamMeter + global), scenario_.start_ns);
      switch (e.protocol) {
        case ExportProtocol::kNetflowV5:
          encoders_.emplace_back(std::in_place_type<NetflowV5Encoder>, e, boot);
          break;
        case ExportProtocol::kNetflowV9:
          encoders_.emplace_back(std::in_place_type<NetflowV9Encoder>, e, boot);
          break;
        case ExportProtocol::kIpfix:
          encoders_.emplace_back(std::in_place_type<IpfixEncoder>, e);
          break;
        case ExportProtocol::kSflowV5:
          encoders_.emplace_back(std::in_place_type<SflowEncoder>, e, boot);
          break;
      }
    }
  }
  totals_.resize(tenants_.size());
}

Generator::~Generator() = default;

void Generator::encode_due(int64_t tick, bool last, const DatagramSink& sink, RunSummary& summary) {
  const int64_t export_ns = scenario_.start_ns + (tick + 1) * kTick;
  pending_.clear();
  pending_bytes_.clear();
  for (size_t e = 0; e < meters_.size(); ++e) {
    meters_[e].take(tick, bucket_);
    const ExporterConfig& cfg = exporters_[e];
    // sFlow agents poll their interface counters on their own schedule, and once more at the
    // end of the run so the last counters equal the exporter's totals.
    const int64_t interval = cfg.sflow_counter_interval_ns;
    const bool counters_due = cfg.protocol == ExportProtocol::kSflowV5 && interval > 0 &&
                              ((tick + 1) * kTick % interval == 0 || last);
    if (bucket_.records.empty() && bucket_.samples.empty() && !counters_due) continue;
    DatagramInfo info;
    info.exporter = cfg.address;
    info.exporter_port = cfg.source_port;
    info.collector = cfg.address.is_v4() ? scenario_.collector : scenario_.collector_v6;
    info.collector_port = cfg.collector_port;
    info.exporter_index = static_cast<uint32_t>(e);
    std::visit(
        [&](auto& encoder) {
          uint64_t before = encoder.stats().records;
          const EmitFn emit = [&](std::span<const std::byte> payload) {
            const uint64_t now = encoder.stats().records;
            pending_.push_back(Pending{info, static_cast<uint32_t>(now - before),
                                       pending_bytes_.size(), payload.size()});
            before = now;
            pending_bytes_.insert(pending_bytes_.end(), payload.begin(), payload.end());
          };
          using T = std::decay_t<decltype(encoder)>;
          if constexpr (std::is_same_v<T, SflowEncoder>) {
            encoder.encode(bucket_.samples, export_ns, emit);
            if (counters_due) {
              const MeterStats& seen = meters_[e].stats();
              encoder.encode_counters({seen.packets_seen, seen.bytes_seen}, export_ns, emit);
            }
          } else {
            encoder.encode(bucket_.records, export_ns, emit);
          }
        },
        encoders_[e]);
  }
  // Spread this tick's datagrams over the following second, in exporter order, so a pcap
  // or a paced UDP replay has no one-second bursts.
  const int64_t n = static_cast<int64_t>(pending_.size());
  for (int64_t i = 0; i < n; ++i) {
    Pending& p = pending_[size_t(i)];
    p.info.time_ns = export_ns + i * kTick / std::max<int64_t>(n, 1);
    summary.datagrams++;
    summary.records += p.records;
    summary.payload_bytes += p.size;
    sink(p.info, p.records, std::span<const std::byte>(pending_bytes_).subspan(p.offset, p.size));
  }
}

RunSummary Generator::run(const DatagramSink& sink, std::ostream* truth_out) {
  start(truth_out);
  while (step(sink)) {
  }
  return summary_;
}

void Generator::start(std::ostream* truth_out) {
  truth_ = std::make_unique<WindowTruth>(tenants_, scenario_.start_ns, scenario_.truth_window_ns,
                                         truth_out, scenario_.truth_hosts);
  summary_ = RunSummary{};
  tick_ = 0;
  ticks_ = (scenario_.duration_ns + kTick - 1) / kTick;
}

bool Generator::step(const DatagramSink& sink) {
  if (!truth_) return false;
  const int64_t tick = tick_++;
  const int64_t t0 = scenario_.start_ns + tick * kTick;
  if (tick < ticks_) {
    flows_.clear();
    for (auto& bg : background_) bg.generate(t0, kTick, flows_);
    for (auto& attack : attacks_) attack.generate(t0, kTick, flows_);
    if (flow_observer_) flow_observer_(flows_);
    for (const FlowSpec& f : flows_) {
      truth_->add(f);
      meters_[exporter_base_[f.tenant] + f.exporter].observe(f);
    }
    summary_.flows += flows_.size();
  }
  // The last tick is the first one after the scenario's end with nothing left in any cache
  // (pending_after() does not depend on this tick's take()).
  bool last = tick + 1 >= ticks_;
  for (const auto& m : meters_) last = last && m.pending_after(tick) == 0;
  encode_due(tick, last, sink, summary_);
  truth_->flush_before(t0);
  summary_.simulated_ns = (tick + 1) * kTick;
  if (!last) return true;
  truth_->finish();
  totals_ = truth_->tenant_totals();
  truth_.reset();
  return false;
}

void Generator::write_ground_truth(std::ostream& out) const {
  gen::write_ground_truth(out, attacks_, tenants_);
}

}  // namespace fathom::gen
