#include "transform/enrichment_loader.h"

#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "transform/geo_asn.h"
#include "transform/intel.h"

namespace fathom::transform {
namespace {

constexpr std::string_view kIntel = "intel";
constexpr std::string_view kGeo = "geo";
constexpr std::string_view kAsn = "asn";

std::shared_ptr<spdlog::logger> log() {
  std::shared_ptr<spdlog::logger> logger = spdlog::get("transform");
  return logger ? logger : spdlog::default_logger();
}

int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

double megabytes(size_t bytes) {
  return static_cast<double>(bytes) / 1e6;
}

bool same_lists(const std::vector<IntelList>& a, const std::vector<IntelList>& b) {
  if (a.size() != b.size()) return false;
  for (size_t list_idx = 0; list_idx < a.size(); ++list_idx) {
    const IntelList& x = a[list_idx];
    const IntelList& y = b[list_idx];
    if (x.name != y.name || x.path != y.path || x.format != y.format || x.category != y.category ||
        x.severity != y.severity) {
      return false;
    }
  }
  return true;
}

std::optional<FileSignature> signature_of(const std::string& path) {
  FileSignature signature;
  std::string ignored;
  if (!file_signature(path, signature, ignored)) return std::nullopt;
  return signature;
}

}  // namespace

EnrichmentLoader::EnrichmentLoader(const Config& config, Enricher& enricher)
    : enricher_(enricher),
      initial_networks_(TenantNetworks::from_config(config)),
      enrichment_(config.enrichment),
      interval_seconds_(config.enrichment.reload_check_seconds) {
  rebuild_sources();
}

EnrichmentLoader::~EnrichmentLoader() {
  stop();
}

bool EnrichmentLoader::load_all(std::string& error) {
  std::lock_guard reload_lock(reload_mu_);
  enricher_.set_tenant_networks(initial_networks_);
  enricher_.set_asn_overrides_exporter(enrichment_.asn_overrides_exporter);
  {
    std::lock_guard stats_lock(stats_mu_);
    totals_.tenant_networks_memory_bytes = initial_networks_->memory_bytes();
  }
  if (enrichment_.intel_lists.empty()) {
    enricher_.set_intel(nullptr);
  } else if (!reload_intel_locked(true, error)) {
    return false;
  }
  if (enrichment_.geo_databases.empty() && enrichment_.asn_databases.empty()) {
    enricher_.set_geo_asn(nullptr);
  } else if (!reload_geo_asn_locked(true, error)) {
    return false;
  }
  return true;
}

void EnrichmentLoader::apply_config(const Config& config) {
  std::lock_guard reload_lock(reload_mu_);
  const std::shared_ptr<const TenantNetworks> networks = TenantNetworks::from_config(config);
  enricher_.set_tenant_networks(networks);
  enricher_.set_asn_overrides_exporter(config.enrichment.asn_overrides_exporter);

  const Enrichment previous = std::exchange(enrichment_, config.enrichment);
  rebuild_sources();
  {
    std::lock_guard stats_lock(stats_mu_);
    totals_.tenant_networks_memory_bytes = networks->memory_bytes();
  }
  std::string error;  // failures are logged and counted inside
  if (!same_lists(previous.intel_lists, enrichment_.intel_lists)) {
    intel_failed_.clear();
    if (enrichment_.intel_lists.empty()) {
      enricher_.set_intel(nullptr);
      intel_loaded_.clear();
      log()->info("intel lists removed by the new configuration");
    } else {
      reload_intel_locked(false, error);
    }
  }
  if (previous.geo_databases != enrichment_.geo_databases ||
      previous.asn_databases != enrichment_.asn_databases) {
    geo_failed_.clear();
    if (enrichment_.geo_databases.empty() && enrichment_.asn_databases.empty()) {
      enricher_.set_geo_asn(nullptr);
      geo_loaded_.clear();
      log()->info("geo/ASN databases removed by the new configuration");
    } else {
      reload_geo_asn_locked(false, error);
    }
  }
  {
    std::lock_guard wake_lock(wake_mu_);
    if (interval_seconds_ != enrichment_.reload_check_seconds) {
      interval_seconds_ = enrichment_.reload_check_seconds;
      interval_changed_ = true;
    }
  }
  wake_.notify_all();
  check_locked();  // a SIGHUP also picks up changed files at once
}

void EnrichmentLoader::check_now() {
  std::lock_guard reload_lock(reload_mu_);
  check_locked();
}

void EnrichmentLoader::check_locked() {
  {
    std::lock_guard stats_lock(stats_mu_);
    ++totals_.checks;
  }
  std::string error;  // failures are logged and counted inside
  if (!enrichment_.intel_lists.empty()) {
    const Signatures now = intel_signatures();
    if (now != intel_loaded_ && now != intel_failed_) reload_intel_locked(false, error);
  }
  if (!enrichment_.geo_databases.empty() || !enrichment_.asn_databases.empty()) {
    const Signatures now = geo_asn_signatures();
    if (now != geo_loaded_ && now != geo_failed_) reload_geo_asn_locked(false, error);
  }
}

EnrichmentLoader::Signatures EnrichmentLoader::intel_signatures() const {
  Signatures out;
  out.reserve(enrichment_.intel_lists.size());
  for (const IntelList& list : enrichment_.intel_lists) out.push_back(signature_of(list.path));
  return out;
}

EnrichmentLoader::Signatures EnrichmentLoader::geo_asn_signatures() const {
  Signatures out;
  for (const std::string& path : enrichment_.geo_databases) out.push_back(signature_of(path));
  for (const std::string& path : enrichment_.asn_databases) out.push_back(signature_of(path));
  return out;
}

bool EnrichmentLoader::reload_intel_locked(bool initial, std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<IntelList>& lists = enrichment_.intel_lists;
  // What the files look like now: remembered if this attempt fails, so the same broken
  // versions are not read again at every check.
  const Signatures attempt = intel_signatures();
  std::vector<IntelListData> data(lists.size());
  std::string failure;
  size_t failed_list = lists.size();
  for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
    if (!IntelSet::read_list(lists[list_idx], data[list_idx], failure, &cancel_)) {
      failed_list = list_idx;
      break;
    }
  }
  std::shared_ptr<const IntelSet> set;
  if (failed_list == lists.size()) set = IntelSet::from_entries(std::move(data), failure);
  if (cancel_.load(std::memory_order_relaxed)) return true;  // stopping: not a failure

  if (!set) {
    intel_failed_ = attempt;
    error = failure;
    {
      std::lock_guard stats_lock(stats_mu_);
      if (!initial) ++totals_.failures;
      for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
        // A build error (not one list's) is charged to every list.
        if (failed_list != lists.size() && list_idx != failed_list) continue;
        LoaderSourceStats& stats = sources_[list_idx].stats;
        ++stats.failures;
        stats.last_error = failure;
      }
    }
    if (!initial)
      log()->warn("intel lists not reloaded, keeping the previous version: {}", failure);
    return false;
  }

  enricher_.set_intel(set);
  intel_failed_.clear();
  intel_loaded_.clear();
  const int64_t now_ns = wall_now_ns();
  {
    std::lock_guard stats_lock(stats_mu_);
    if (!initial) ++totals_.reloads;
    totals_.intel_prefixes = set->prefix_count();
    totals_.intel_ranges = set->range_count();
    totals_.intel_memory_bytes = set->memory_bytes();
    for (size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
      const IntelListInfo& info = set->lists()[list_idx];
      intel_loaded_.emplace_back(info.file);
      SourceState& source = sources_[list_idx];
      if (source.version != info.file) {
        if (source.version.has_value()) ++source.stats.reloads;
        source.version = info.file;
        source.stats.loaded_at_ns = now_ns;
      }
      source.stats.entries = info.parse.entries;
      source.stats.bad_lines = info.parse.bad_lines;
      source.stats.last_error.clear();
    }
  }
  for (const IntelListInfo& info : set->lists()) {
    const IntelParseStats& parse = info.parse;
    if (parse.bad_lines > 0) {
      log()->warn(
          "intel list has bad lines (skipped) list={} path={} bad_lines={} first_line={} "
          "first_text=\"{}\"",
          info.name, info.path, parse.bad_lines, parse.first_bad_line, parse.first_bad_text);
    }
    if (parse.host_bits + parse.unknown_categories + parse.bad_scores > 0) {
      log()->info(
          "intel list warnings list={} host_bits_cleared={} unknown_categories={} bad_scores={}",
          info.name, parse.host_bits, parse.unknown_categories, parse.bad_scores);
    }
  }
  log()->info(
      "intel lists {} lists={} prefixes={} ranges={} matches={} memory_mb={:.1f} took_ms={}",
      initial ? "loaded" : "reloaded", set->lists().size(), set->prefix_count(), set->range_count(),
      set->match_count(), megabytes(set->memory_bytes()), elapsed_ms(started));
  return true;
}

bool EnrichmentLoader::reload_geo_asn_locked(bool initial, std::string& error) {
  const auto started = std::chrono::steady_clock::now();
  // Taken before reading: a file replaced during the load is then seen as changed at the next
  // check and read again (one extra reload, never a missed one).
  const Signatures attempt = geo_asn_signatures();
  std::string failure;
  const std::shared_ptr<const GeoAsnTable> table = GeoAsnTable::load(enrichment_, failure);
  const size_t first_geo = enrichment_.intel_lists.size();
  if (!table) {
    geo_failed_ = attempt;
    error = failure;
    {
      std::lock_guard stats_lock(stats_mu_);
      if (!initial) ++totals_.failures;
      // The table loads as a whole; charge the files that changed (all of them at start).
      for (size_t source_idx = 0; source_idx < attempt.size(); ++source_idx) {
        const bool changed =
            geo_loaded_.size() != attempt.size() || geo_loaded_[source_idx] != attempt[source_idx];
        if (!changed) continue;
        LoaderSourceStats& stats = sources_[first_geo + source_idx].stats;
        ++stats.failures;
        stats.last_error = failure;
      }
    }
    if (!initial) {
      log()->warn("geo/ASN databases not reloaded, keeping the previous version: {}", failure);
    }
    return false;
  }

  enricher_.set_geo_asn(table);
  geo_loaded_ = attempt;
  geo_failed_.clear();
  const int64_t now_ns = wall_now_ns();
  {
    std::lock_guard stats_lock(stats_mu_);
    if (!initial) ++totals_.reloads;
    totals_.geo_asn_memory_bytes = table->memory_bytes();
    for (size_t source_idx = 0; source_idx < attempt.size(); ++source_idx) {
      SourceState& source = sources_[first_geo + source_idx];
      if (source.version != attempt[source_idx] || !source.version.has_value()) {
        if (source.version.has_value()) ++source.stats.reloads;
        source.version = attempt[source_idx];
        source.stats.loaded_at_ns = now_ns;
      }
      uint64_t ranges = 0;
      uint64_t bad_lines = 0;
      for (const GeoAsnSource& loaded : table->sources()) {
        if (loaded.path != source.stats.path) continue;
        ranges += loaded.ranges;
        bad_lines += loaded.bad_lines;
      }
      source.stats.entries = ranges;
      source.stats.bad_lines = bad_lines;
      source.stats.last_error.clear();
    }
  }
  log()->info("geo/ASN databases {} sources={} memory_mb={:.1f} took_ms={}",
              initial ? "loaded" : "reloaded", attempt.size(), megabytes(table->memory_bytes()),
              elapsed_ms(started));
  return true;
}

void EnrichmentLoader::rebuild_sources() {
  std::vector<SourceState> next;
  auto add = [&](std::string_view kind, const std::string& name, const std::string& path) {
    SourceState state;
    state.stats.kind = std::string(kind);
    state.stats.name = name;
    state.stats.path = path;
    next.push_back(std::move(state));
  };
  for (const IntelList& list : enrichment_.intel_lists) add(kIntel, list.name, list.path);
  for (const std::string& path : enrichment_.geo_databases) add(kGeo, path, path);
  for (const std::string& path : enrichment_.asn_databases) add(kAsn, path, path);

  std::lock_guard stats_lock(stats_mu_);
  for (SourceState& state : next) {
    for (const SourceState& old : sources_) {
      if (old.stats.kind == state.stats.kind && old.stats.name == state.stats.name &&
          old.stats.path == state.stats.path) {
        state = old;
        break;
      }
    }
  }
  sources_ = std::move(next);
}

void EnrichmentLoader::start() {
  if (thread_.joinable()) return;
  {
    std::lock_guard wake_lock(wake_mu_);
    stopping_ = false;
    interval_changed_ = false;
  }
  cancel_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
}

void EnrichmentLoader::stop() {
  {
    std::lock_guard wake_lock(wake_mu_);
    stopping_ = true;
  }
  cancel_.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  cancel_.store(false, std::memory_order_relaxed);
}

void EnrichmentLoader::run() {
  std::unique_lock wake_lock(wake_mu_);
  while (!stopping_) {
    const auto woken = [this] { return stopping_ || interval_changed_; };
    bool was_woken = true;
    if (interval_seconds_ == 0) {
      wake_.wait(wake_lock, woken);
    } else {
      was_woken = wake_.wait_for(wake_lock, std::chrono::seconds(interval_seconds_), woken);
    }
    if (stopping_) break;
    if (was_woken) {
      interval_changed_ = false;  // start a new wait with the new interval
      continue;
    }
    wake_lock.unlock();
    check_now();
    wake_lock.lock();
  }
}

LoaderStats EnrichmentLoader::stats() const {
  std::lock_guard stats_lock(stats_mu_);
  LoaderStats out = totals_;
  out.sources.reserve(sources_.size());
  for (const SourceState& source : sources_) out.sources.push_back(source.stats);
  return out;
}

}  // namespace fathom::transform
