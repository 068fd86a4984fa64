#pragma once

// Input format of the NetFlow v9 and IPFIX fuzzers: a sequence of export packets decoded in
// order by one Decoder, so templates learned from one packet meet data sets in later ones (and
// data sets parked before their template meet it when it comes). Each frame is
//
//   u16 length (big endian) | u8 control | payload[length]
//
// A final frame shorter than its length takes what is left. Control bits:
//   0-1  exporter index (fuzz::context_for): several exporters, one template space each
//   2    call Decoder::expire() after the packet
//   3    before the packet: save_state, load_state into a fresh Decoder, continue with that one
//        (the state file is hostile input too; our own file must always load back)
//   4-7  advance the arrival clock by this many × 16 s before the packet (reaches the pending
//        timeout of fuzz_config(): 60 s)
// fuzz/make_seeds.py writes seeds in this format from the captures.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz_support.h"

namespace fathom::fuzz {

inline constexpr uint8_t kCtlExporterMask = 0x03;
inline constexpr uint8_t kCtlExpire = 0x04;
inline constexpr uint8_t kCtlStateRoundTrip = 0x08;
inline constexpr int kCtlClockShift = 4;
inline constexpr int64_t kClockStepNs = 16'000'000'000;
/// File I/O dominates an execution that does it; a few round trips per input are plenty.
inline constexpr int kMaxRoundTripsPerInput = 3;
/// Bounds the work per input (a 64 KiB input of empty frames would be 21,845 packets).
inline constexpr size_t kMaxFramesPerInput = 256;

/// The frames of a sequence input: (control byte, payload) pairs, at most kMaxFramesPerInput.
struct Frame {
  uint8_t control = 0;
  std::span<const uint8_t> payload;
};

inline std::vector<Frame> split_frames(std::span<const uint8_t> rest) {
  std::vector<Frame> frames;
  while (frames.size() < kMaxFramesPerInput && rest.size() >= 3) {
    const size_t length = (size_t{rest[0]} << 8) | rest[1];
    Frame frame;
    frame.control = rest[2];
    rest = rest.subspan(3);
    frame.payload = rest.first(std::min(length, rest.size()));
    rest = rest.subspan(frame.payload.size());
    frames.push_back(frame);
  }
  return frames;
}

/// Saves `decoder`'s state and loads it into a fresh decoder, which replaces it.
inline void state_round_trip(std::unique_ptr<decode::Decoder>& decoder) {
  const std::string path = (temp_dir() / "state").string();
  std::string error;
  if (!decoder->save_state(path, error)) fail("save_state failed:", error);
  auto reloaded = std::make_unique<decode::Decoder>(decoder->config());
  if (!reloaded->load_state(path, error)) fail("own state file does not load:", error);
  decoder = std::move(reloaded);
}

/// Decodes every frame of `data` with the packets' version field forced to `version`.
inline void run_packet_sequence(const uint8_t* data, size_t size, std::span<const uint8_t> version,
                                flow::SourceProtocol expected_source) {
  auto decoder = std::make_unique<decode::Decoder>(fuzz_config());
  // Small, so the clear-when-full path runs too; reused across inputs (no mmap per input).
  static flow::FlowBatch batch(256);
  batch.clear();
  int64_t now = kStartNs;
  int round_trips = 0;
  for (const Frame& frame : split_frames({data, size})) {
    const uint8_t control = frame.control;
    now += (control >> kCtlClockShift) * kClockStepNs;
    if ((control & kCtlStateRoundTrip) != 0 && round_trips < kMaxRoundTripsPerInput) {
      ++round_trips;
      state_round_trip(decoder);
    }
    const decode::PacketContext ctx = context_for(control & kCtlExporterMask, now);
    decode_copy(*decoder, frame.payload, version, ctx, batch, expected_source);
    if ((control & kCtlExpire) != 0) decoder->expire(now);
  }
  // Whatever the sequence left behind must survive a final round trip.
  if (round_trips > 0) state_round_trip(decoder);
}

}  // namespace fathom::fuzz
