#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analyze/autoscaler.h"
#include "analyze/load_shedder.h"
#include "analyze/window_engine.h"
#include "bus/bus.h"
#include "detect/beacon.h"
#include "detect/incident.h"
#include "detect/rules.h"
#include "transform/sampler.h"

namespace fathom::app {

/// Counters of an AnalyzeStage (any thread).
struct AnalyzeStageStats {
  analyze::EngineStats engine;
  detect::RuleStats rules;
  detect::IncidentStats incidents;
  detect::BeaconStats beacons;
  uint64_t incident_events_written = 0;
  uint64_t write_errors = 0;      ///< failed writes of incident events (each loses one line)
  uint64_t slides = 0;            ///< micro-batches (closed slides) analysed
  double last_utilisation = 0.0;  ///< running time of the latest slide / slide interval
  double mean_utilisation_10m = 0.0;
  uint32_t workers = 1;          ///< analysis threads running
  uint32_t desired_workers = 1;  ///< what the autoscaling policy asks for
  uint64_t overruns = 0;         ///< slides whose analysis took longer than the slide
  double load_factor = 1.0;      ///< what the load shedder multiplies sampling by (1 = none)
  uint64_t shed_slides = 0;      ///< slides after which it tightened sampling
  /// Live: wall clock at the end of the latest slide's analysis minus the slide's end.
  double lag_seconds = 0.0;
};

/// The analysis stage of the embedded pipeline (DESIGN.md "analyze"): a bus consumer thread
/// that feeds every batch to the sliding windows, runs the rules and the beaconing detector
/// on every closed window, merges detections into incidents and writes the incident stream
/// (open, update, close) as JSON lines. Each slide's analysis time feeds the autoscaling
/// policy, whose decision is exported (`desired_workers`).
class AnalyzeStage {
 public:
  struct Options {
    analyze::AnalyzeConfig windows;
    detect::RulesConfig rules;
    detect::BeaconConfig beacon;
    detect::IncidentConfig incidents;
    analyze::AutoscalerConfig autoscale;
    /// Live: slides close on the wall clock too. Replay: on record time and at the end.
    bool live = true;
    /// JSON lines of incident events: a path (appended to), "-" for stdout, or "".
    std::string output;
    /// Tightened by the load shedder when micro-batches overrun (may be null: no shedding).
    std::shared_ptr<transform::AdaptiveSampler> sampler;
  };

  /// Subscribes to `bus` and starts the thread; nullptr and `error` when the output cannot
  /// be opened or the options are invalid.
  static std::unique_ptr<AnalyzeStage> start(bus::Bus& bus, size_t queue_batches, Options options,
                                             std::string& error);
  ~AnalyzeStage();
  AnalyzeStage(const AnalyzeStage&) = delete;
  AnalyzeStage& operator=(const AnalyzeStage&) = delete;

  /// Returns once the bus is closed and everything is analysed, windows flushed and open
  /// incidents closed.
  void join();
  AnalyzeStageStats stats() const;
  /// Open incidents now (a copy), for the API and the exit summary.
  std::vector<detect::Incident> open_incidents() const;
  /// Every incident event so far, kind and incident (bounded to the latest 10000).
  std::vector<detect::IncidentEvent> recent_events() const;

 private:
  AnalyzeStage(Options options, std::FILE* file, std::shared_ptr<bus::Subscription> sub);
  void run();
  void on_window(const analyze::TenantWindow& window);
  void on_contacts(std::span<const analyze::Contact> contacts, int64_t slide_end_ns);
  void after_slide(int64_t slide_end_ns, int64_t busy_ns);
  void emit(std::vector<detect::IncidentEvent> events);

  const Options options_;
  std::FILE* file_;
  const bool owns_file_;
  std::shared_ptr<bus::Subscription> sub_;
  // Owned by the thread:
  analyze::AnalysisEngine engine_;
  detect::RuleEngine rules_;
  detect::BeaconDetector beacons_;
  detect::IncidentTracker incidents_;
  analyze::Autoscaler autoscaler_;
  analyze::LoadShedder shedder_;
  std::vector<detect::Detection> detections_;
  std::string line_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards the fields below
  AnalyzeStageStats stats_;
  std::vector<detect::Incident> open_;
  std::vector<detect::IncidentEvent> events_;
};

/// Appends one incident event as a JSON object (no newline): `"type":"incident"`, the event,
/// the incident's id, version, state, tenant, detection type, subject, times, severities and
/// its latest evidence with intervals.
void append_incident_json(const detect::IncidentEvent& event, std::string& out);

}  // namespace fathom::app
