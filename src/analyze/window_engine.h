#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "analyze/host_table.h"
#include "analyze/sketch.h"
#include "estimate/record_model.h"
#include "estimate/window_result.h"
#include "flow/flow_batch.h"

namespace fathom::analyze {

/// One window level: every `slide_ns` a window of the last `window_ns` closes (a multiple of
/// the slide). Level 0's slide is the micro-batch interval S; every further level's slide is
/// a multiple of the previous level's, and its buckets are merged from that level's closed
/// slides, never from records.
struct WindowLevel {
  int64_t slide_ns = 2'000'000'000;
  int64_t window_ns = 10'000'000'000;
  friend bool operator==(const WindowLevel&, const WindowLevel&) = default;
};

/// Settings of the analysis windows (fathom.yaml `analyze`, docs/configuration.md).
struct AnalyzeConfig {
  /// Level 0 (S = 2 s, W = 10 s) for floods and fast scans; 1 min for scans and brute force
  /// under sampling; 5 min and 1 h for slow scans, brute force and exfiltration under heavy
  /// sampling (docs/features.md "Windows").
  std::vector<WindowLevel> levels = {{2'000'000'000, 10'000'000'000},
                                     {10'000'000'000, 60'000'000'000},
                                     {60'000'000'000, 300'000'000'000},
                                     {300'000'000'000, 3'600'000'000'000}};
  /// Hosts tracked per tenant per bucket (slide or window), internal and external; beyond
  /// that one-off hosts are evicted or new ones not tracked, counted (HostTable).
  uint32_t max_internal_hosts = 65'536;
  uint32_t max_external_hosts = 16'384;
  /// Internal hosts whose peer history (for the new-peer share) is kept per tenant.
  uint32_t max_history_hosts = 65'536;
  /// Tenants analysed; records of more are counted and skipped.
  uint32_t max_tenants = 4096;
  /// Heavy-hitter counters per tenant bucket (top talkers, destinations, ports).
  uint32_t heavy_hitters = 64;
  /// Outbound (internal → external) contacts handed to the beaconing detector per slide;
  /// beyond it they are counted and dropped.
  uint32_t max_contacts_per_slide = 262'144;
  estimate::ModelOptions model;
};

/// Empty when `config` is usable, else what is wrong ("levels[1].slide_ns must be a
/// multiple of levels[0].slide_ns").
std::string validate(const AnalyzeConfig& config);

/// Tenant-wide sums of one bucket.
struct TenantTotals {
  estimate::TrafficTotals total;
  /// By `flow::Direction` (index = enum value).
  std::array<estimate::TrafficTotals, 5> by_direction;
  /// TCP, UDP, ICMP (v4 and v6), other.
  std::array<estimate::TrafficTotals, 4> by_protocol;
  uint64_t records = 0;
  int64_t first_arrival_ns = 0;

  void merge(const TenantTotals& other) noexcept;
};

/// "tcp", "udp", "icmp", "other": the names of `TenantTotals::by_protocol`.
std::string_view protocol_class_name(size_t idx) noexcept;

/// What one tenant did in one slide, or a window merged from slides.
struct TenantBucket {
  TenantBucket(const AnalyzeConfig& config);
  TenantTotals totals;
  SpaceSaving top_sources;       ///< by estimated bytes sent
  SpaceSaving top_destinations;  ///< by estimated bytes received
  /// By estimated bytes; key = IpAddress::from_v4(protocol << 16 | service port).
  SpaceSaving top_ports;
  HostTable hosts;
  /// Per-record port bytes are summed here first (a direct-mapped cache of 256 ports) and
  /// reach `top_ports` once per port and slide, or when another port takes the slot: most
  /// traffic is on a few ports, so the sketch sees a fraction of the records.
  std::array<uint32_t, 256> port_keys{};  ///< protocol << 16 | port, + 1 (0 = empty)
  std::array<double, 256> port_bytes{};
  std::array<double, 256> port_var{};  ///< their Horvitz–Thompson variance terms
  /// The external side's country and origin AS, by estimated bytes (both directions): key =
  /// IpAddress::from_v4(first letter << 8 | second letter) ("ZZ" unknown), and from_v4(AS
  /// number) (0 unknown). Summed first in direct-mapped caches like the ports.
  SpaceSaving top_countries;
  SpaceSaving top_asns;
  std::array<uint64_t, 64> country_keys{};  ///< code + 1 (0 = empty)
  std::array<double, 64> country_bytes{};
  std::array<double, 64> country_var{};
  std::array<uint64_t, 64> asn_keys{};  ///< AS number + 1 (0 = empty)
  std::array<double, 64> asn_bytes{};
  std::array<double, 64> asn_var{};

  /// Adds `bytes` (an estimate with sampling variance `var`) to (protocol, port).
  void add_port(uint8_t protocol, uint16_t port, double bytes, double var) noexcept;
  /// Adds `bytes` to the external side's country and AS (inbound: the source, outbound: the
  /// destination; other directions have no external side).
  void add_geo(const flow::FlowRecord& r, double bytes, double var) noexcept;
  /// Moves the cached port sums into `top_ports`, and every host's bytes into
  /// `top_sources` / `top_destinations` (once per host and slide, not per record).
  void seal();

  void merge(const TenantBucket& other);
  void clear() noexcept;
  /// Becomes a packed, read-only copy of sealed `src` (a closed slide kept in a ring).
  void pack_from(const TenantBucket& src);
};

/// The key of `TenantBucket::top_ports` for a (protocol, port).
flow::IpAddress port_key(uint8_t protocol, uint16_t port) noexcept;

/// One closed window of one tenant at one level: read-only, valid during the callback.
struct TenantWindow {
  uint32_t tenant_id = 0;
  size_t level = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t slide_ns = 0;  ///< the level's slide: the next window of this level ends then
  const TenantBucket* bucket = nullptr;
  /// Peer history of internal hosts before this window (level 0 only; null elsewhere).
  const std::unordered_map<flow::IpAddress, PeerBits, flow::IpAddressHash>* history = nullptr;

  double seconds() const noexcept { return static_cast<double>(end_ns - start_ns) * 1e-9; }
  /// The host's history bits, or null.
  const PeerBits* history_of(const flow::IpAddress& host) const;
};

/// An outbound contact of an internal host with an external peer (for beaconing).
struct Contact {
  uint32_t tenant_id = 0;
  uint16_t port = 0;         ///< the peer's port
  uint16_t client_port = 0;  ///< the host's port (a new one = a new connection)
  flow::IpAddress host;
  flow::IpAddress peer;
  int64_t time_ns = 0;
};

/// Cumulative counters of an AnalysisEngine.
struct EngineStats {
  uint64_t records = 0;  ///< offered to `add`
  uint64_t records_analysed = 0;
  uint64_t records_no_tenant = 0;  ///< tenant_id 0
  uint64_t records_bad_rate = 0;   ///< sampling_rate not finite >= 1
  uint64_t records_tenant_overflow = 0;
  uint64_t records_late = 0;  ///< arrival time in a closed slide: counted in the open one
  /// Analysed records flagged kNotCounted (de-duplication): peers, ports, flags and intel
  /// contacts only, no volumes.
  uint64_t records_not_counted = 0;
  uint64_t hosts_evicted = 0;   ///< one-off hosts replaced (HostTable)
  uint64_t hosts_rejected = 0;  ///< records of hosts not tracked, tables full
  uint64_t contacts = 0;
  uint64_t contacts_dropped = 0;  ///< over `max_contacts_per_slide`
  uint64_t slides_closed = 0;
  uint64_t windows_closed = 0;
  uint64_t slides_skipped = 0;  ///< empty slides skipped over a gap in time
  uint64_t tenants = 0;         ///< tenants this engine analyses (as of the latest slide)
  uint64_t history_hosts = 0;
  /// Records of tenants another worker owns (multi-worker analysis: every worker sees every
  /// batch and keeps its own tenants').
  uint64_t records_other_worker = 0;
  uint64_t tenants_exported = 0;  ///< tenant states handed to another worker
  uint64_t tenants_imported = 0;  ///< tenant states taken over from another worker
  uint64_t memory_bytes = 0;      ///< host-table memory held, all tenants and levels
  uint64_t flows_captured = 0;    ///< sampled records kept for incidents (`capture`)
  /// `capture` calls refused: the tenant already captures `kMaxCapturesPerTenant` subjects.
  uint64_t captures_refused = 0;
};

/// A sampled record kept as evidence of a detection: the record as it reached the analysis
/// (tenant, enrichment, sampling rate), and the subject it was kept for.
struct CapturedFlow {
  flow::IpAddress subject;
  flow::FlowRecord record;
};

/// Adds `from`'s counters to `into` (several workers' engines; gauges such as `tenants` and
/// `memory_bytes` add up too).
void accumulate(EngineStats& into, const EngineStats& from) noexcept;

/// Sliding windows over micro-batches (DESIGN.md "analyze"): records go into the current
/// slide's bucket of their tenant (per-host slots and tenant totals); each time a slide
/// closes, every level whose slide ends there closes a window merged from its buckets, and
/// `on_window` is called with it (rules and features read it there). Time is arrival time;
/// a record newer than the open slide closes it (replays close on record time), `advance`
/// closes on the clock (live). One thread owns an engine; no lock, no allocation per record
/// once tables have grown.
class AnalysisEngine {
 public:
  using WindowSink = std::function<void(const TenantWindow&)>;
  using ContactSink = std::function<void(std::span<const Contact>, int64_t slide_end_ns)>;
  /// Whether this engine analyses a tenant (multi-worker: tenants are partitioned over
  /// engines). Asked once per tenant, when the engine first sees it.
  using OwnerFilter = std::function<bool(uint32_t tenant_id)>;
  /// Called after every slide closes (and when the first record opens the first slide) with
  /// the index of the slide now open: where a worker hands tenants over (`export_tenant`,
  /// `import_tenant`) so that each tenant's records of a slide are all in one engine.
  using SlideHook = std::function<void(int64_t open_slide_index)>;

  struct TenantState;
  /// One tenant's whole window state, moved between engines at a slide boundary.
  class TenantHandoff {
   public:
    explicit TenantHandoff(std::unique_ptr<TenantState> state);
    ~TenantHandoff();
    TenantHandoff(const TenantHandoff&) = delete;
    TenantHandoff& operator=(const TenantHandoff&) = delete;

   private:
    friend class AnalysisEngine;
    std::unique_ptr<TenantState> state_;
  };

  AnalysisEngine(const AnalyzeConfig& config, WindowSink on_window, ContactSink on_contacts = {});
  ~AnalysisEngine();
  AnalysisEngine(const AnalysisEngine&) = delete;
  AnalysisEngine& operator=(const AnalysisEngine&) = delete;

  /// Adds a batch's records (closing slides that their arrival times have passed).
  void add(const flow::FlowBatch& batch);
  /// Closes every slide that ends at or before `now_ns`.
  void advance(int64_t now_ns);
  /// Closes the open slide and then every window that still holds data (end of a replay,
  /// shutdown): each level emits its windows until its buckets are empty.
  void flush();

  /// End of the open slide (0 before the first record).
  int64_t open_slide_end_ns() const noexcept;
  /// Index of the open slide (arrival / slide); meaningful once `started()`.
  int64_t open_slide_index() const noexcept { return slide_index_; }
  bool started() const noexcept { return started_; }

  void set_owner_filter(OwnerFilter owns) { owns_ = std::move(owns); }
  void set_slide_hook(SlideHook hook) { slide_hook_ = std::move(hook); }
  /// True when this engine analyses `tenant_id` (it has the tenant's state).
  bool owns(uint32_t tenant_id) const;
  /// Removes the tenant's state and returns it (null when this engine does not own it); the
  /// tenant's later records here are skipped. Call between slides (from the slide hook).
  std::unique_ptr<TenantHandoff> export_tenant(uint32_t tenant_id);
  /// Takes over a tenant exported by another engine at the same open slide: its windows go on
  /// where they were. Call between slides (from the slide hook).
  void import_tenant(std::unique_ptr<TenantHandoff> state);
  /// Starts owning `tenant_id` with empty windows (a tenant no engine had yet).
  void adopt_tenant(uint32_t tenant_id);

  /// At most this many subjects of one tenant are captured at a time.
  static constexpr size_t kMaxCapturesPerTenant = 32;
  /// Keeps the tenant's next sampled records that have `subject` as source or destination, up
  /// to `budget` of them in all for this subject (a later call for the same subject while it
  /// is captured extends `until_ns` but adds no budget), and none arriving after `until_ns`:
  /// the raw flows of an incident (the rules call it as they detect). A spent capture is kept
  /// until `until_ns`, so a subject yields at most `budget` records per such period. A tenant this
  /// engine does not own, or a budget of 0, captures nothing. Costs the per-record loop one test of
  /// an empty vector while nothing is captured.
  void capture(uint32_t tenant_id, const flow::IpAddress& subject, uint32_t budget,
               int64_t until_ns);
  /// The records captured since the last call (moves them out).
  std::vector<CapturedFlow> take_captured();
  const EngineStats& stats() const noexcept { return stats_; }
  const AnalyzeConfig& config() const noexcept { return config_; }
  /// Tenants with state, sorted.
  std::vector<uint32_t> tenants() const;

 private:
  /// The tenant's state, created on first sight (a placeholder that analyses nothing when the owner
  /// filter says another engine owns it); null over `max_tenants`.
  TenantState* tenant(uint32_t tenant_id);
  std::unique_ptr<TenantState> new_tenant_state(uint32_t tenant_id, bool owned);
  /// `hs`, `hd`: hash_address of the record's source and destination.
  void add_record(TenantState& state, const flow::FlowRecord& r, uint64_t hs, uint64_t hd);
  /// Keeps `r` for each of the tenant's captures it matches (some are captured).
  void capture_record(TenantState& state, const flow::FlowRecord& r);
  /// Closes slides up to (not including) `index`, or flushes and jumps over a long gap.
  void move_to_slide(int64_t index);
  void close_slide();
  /// Adds a closed slide to `level`'s ring, emits that level's window, and passes the slide
  /// on to the next level when that level's slide ends too.
  void push_slide(TenantState& state, size_t level, std::unique_ptr<TenantBucket> slide,
                  int64_t end_ns);
  /// Adds the internal hosts' peers of a slide leaving level 0 to the tenant's history.
  void remember_peers(TenantState& state, const TenantBucket& bucket);
  bool holds_data() const noexcept;
  int64_t max_pending_slides() const noexcept;
  /// A cleared bucket: a hash table (`packed` false) or a packed one for a ring.
  std::unique_ptr<TenantBucket> acquire(bool packed = false);
  void recycle(std::unique_ptr<TenantBucket> bucket);
  /// A packed copy of `table`, which is cleared for reuse.
  std::unique_ptr<TenantBucket> pack(TenantBucket& table);
  void update_memory_stats();

  AnalyzeConfig config_;
  WindowSink on_window_;
  ContactSink on_contacts_;
  OwnerFilter owns_;
  SlideHook slide_hook_;
  EngineStats stats_;
  std::vector<CapturedFlow> captured_;  ///< since the last take_captured
  int64_t slide_index_ = 0;             ///< index of the open level-0 slide (arrival / slide_ns)
  bool started_ = false;
  std::unordered_map<uint32_t, std::unique_ptr<TenantState>> tenants_;
  uint32_t last_tenant_id_ = 0;
  TenantState* last_tenant_ = nullptr;
  std::vector<Contact> contacts_;
  std::vector<uint64_t> contact_filter_;  ///< recent (host, peer) pair hashes, direct-mapped
  std::vector<std::unique_ptr<TenantBucket>> spare_;         ///< recycled table buckets
  std::vector<std::unique_ptr<TenantBucket>> spare_packed_;  ///< recycled packed buckets
  std::vector<std::unique_ptr<TenantBucket>> scratch_;       ///< per level: the merged window
};

}  // namespace fathom::analyze
