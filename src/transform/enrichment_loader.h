#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "transform/config.h"
#include "transform/enricher.h"
#include "transform/intel_list.h"
#include "transform/tenant_networks.h"

namespace fathom::transform {

/// One enrichment source file as the loader sees it, for metrics and the API.
struct LoaderSourceStats {
  std::string name;  ///< the intel list's name; the path for geo/ASN databases
  std::string path;
  std::string kind;          ///< "intel", "geo" (a geo_databases entry) or "asn"
  uint64_t entries = 0;      ///< intel: blocks loaded; geo/ASN: ranges (0 when unknown)
  uint64_t bad_lines = 0;    ///< lines skipped in the version in use (intel lists, CSVs)
  int64_t loaded_at_ns = 0;  ///< wall clock when the version in use was read; 0 = never
  uint64_t reloads = 0;      ///< new versions swapped in after the first load
  uint64_t failures = 0;     ///< failed loads (the previous version stayed in use)
  std::string last_error;    ///< the latest failure's message; empty after a success
};

/// A copy of the loader's counters, taken under its lock (cheap; for /metrics and the API).
struct LoaderStats {
  /// Intel lists in configuration order, then geo_databases, then asn_databases.
  std::vector<LoaderSourceStats> sources;
  uint64_t checks = 0;    ///< change checks run (timer, SIGHUP, `check_now`)
  uint64_t reloads = 0;   ///< snapshots (intel set or geo/ASN table) swapped in after start
  uint64_t failures = 0;  ///< failed reloads; the previous snapshot stayed in use
  size_t intel_prefixes = 0;
  size_t intel_ranges = 0;
  size_t intel_memory_bytes = 0;
  size_t geo_asn_memory_bytes = 0;
  size_t tenant_networks_memory_bytes = 0;
};

/// Loads the enrichment sources of a transform::Config into an Enricher and keeps them fresh.
///
/// - `load_all` at start: every source must load (the caller exits with the message if not).
/// - `apply_config` on SIGHUP: tenant networks and `asn_overrides_exporter` apply at once;
///   sources whose configuration changed, or whose files changed, are reloaded.
/// - `start` runs a background thread that every `reload_check_seconds` compares each source
///   file's mtime, size and inode with the version loaded and reloads what changed (`0`: no
///   timer). Loading happens on that thread, off the hot path; the new snapshot is swapped in
///   atomically, so a batch is always enriched against one whole version. A failed reload keeps
///   the old snapshot, is logged (logger "transform") and counted; the same failing file
///   versions are not retried until a file changes again.
///
/// Intel lists are reloaded together (one IntelSet); geo and ASN databases together (one
/// GeoAsnTable). Thread-safe: loads are serialised (a call may wait for a reload in progress);
/// `stats` never waits for a load.
class EnrichmentLoader {
 public:
  /// Keeps `enricher` by reference: it must outlive the loader. Loads nothing yet.
  EnrichmentLoader(const Config& config, Enricher& enricher);
  ~EnrichmentLoader();  ///< stops the thread
  EnrichmentLoader(const EnrichmentLoader&) = delete;
  EnrichmentLoader& operator=(const EnrichmentLoader&) = delete;

  /// Loads tenant networks and every source into the enricher. Returns false with `error`
  /// naming the failing source (file, reason); the caller is expected to exit then (the
  /// enricher may hold the sources loaded before the failure).
  bool load_all(std::string& error);

  /// Applies a new configuration (SIGHUP): tenant networks and the ASN policy at once, then
  /// reloads sources whose settings or files changed. Failures are logged and counted, the
  /// previous snapshots stay. Also applies a new `reload_check_seconds` to the thread.
  void apply_config(const Config& config);

  /// Checks every source file now and reloads changed ones (what the timer does).
  void check_now();

  /// Starts the background check thread (no-op when running).
  void start();
  /// Stops it promptly: wakes it, cancels an intel list being read (a geo/ASN load in
  /// progress cannot be cut short: about 2 s for the ip-location-db data), joins. Safe to
  /// call twice; `start` may follow.
  void stop();

  LoaderStats stats() const;

 private:
  /// Signatures of a group's files in configuration order; nullopt = cannot stat.
  using Signatures = std::vector<std::optional<FileSignature>>;

  void run();
  void check_locked();
  /// Reloads all intel lists of `enrichment_`; true on success (or cancel).
  bool reload_intel_locked(bool initial, std::string& error);
  bool reload_geo_asn_locked(bool initial, std::string& error);
  Signatures intel_signatures() const;
  Signatures geo_asn_signatures() const;
  /// Rebuilds the source list for `enrichment_`, carrying counters over from sources with the
  /// same kind, name and path.
  void rebuild_sources();

  /// A source's counters and the file version in use.
  struct SourceState {
    LoaderSourceStats stats;
    std::optional<FileSignature> version;  ///< nullopt: never loaded
  };

  Enricher& enricher_;
  std::shared_ptr<const TenantNetworks> initial_networks_;  ///< from the constructor's config

  mutable std::mutex reload_mu_;  // serialises loads; guards the fields below
  Enrichment enrichment_;
  Signatures intel_loaded_;  ///< files of the intel set in use (empty: none loaded)
  Signatures intel_failed_;  ///< files of the last failed attempt (empty: none)
  Signatures geo_loaded_;    ///< geo_databases then asn_databases, as loaded
  Signatures geo_failed_;

  mutable std::mutex stats_mu_;  // guards the fields below; never held during a load
  std::vector<SourceState> sources_;
  LoaderStats totals_;  ///< checks, reloads, failures (sources are filled in by `stats`)

  std::mutex wake_mu_;  // guards stopping_, interval_seconds_, interval_changed_
  std::condition_variable wake_;
  bool stopping_ = false;
  bool interval_changed_ = false;
  uint32_t interval_seconds_ = 0;
  std::atomic<bool> cancel_{false};  ///< makes a list read in progress give up (stop)
  std::thread thread_;
};

}  // namespace fathom::transform
