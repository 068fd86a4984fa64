#pragma once

// Shared by the decoder fuzz targets: a small-limit decoder config, exporter contexts, a
// per-process temp directory for state files, exact-size packet copies and output checks.
// Header-only on purpose: every fuzz/<name>_fuzz.cpp is one translation unit (fuzz/CMakeLists).

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "decode/config.h"
#include "decode/decode_status.h"
#include "decode/decoder.h"
#include "decode/packet_context.h"
#include "flow/flow_batch.h"
#include "flow/flow_record.h"
#include "flow/ip_address.h"

namespace fathom::fuzz {

/// Limits far below the defaults, so a short fuzz run reaches the eviction, pending-overflow
/// and exporter-table-full paths that production traffic reaches only after hours.
inline decode::Config fuzz_config() {
  decode::Config config;
  config.max_exporters = 3;  // exporter index 3 (of 0..3) is refused once 0..2 are known
  config.max_templates_per_exporter = 16;
  config.max_pending_bytes_per_exporter = 16 * 1024;
  config.pending_timeout_ns = 60'000'000'000;
  return config;
}

/// 2024-01-15 12:00:00 UTC, the captures' clock, in ns.
inline constexpr int64_t kStartNs = 1'705'320'000'000'000'000;

/// Context of a packet from one of four exporters (two IPv4, one IPv6, one more IPv4).
inline decode::PacketContext context_for(uint8_t exporter_idx, int64_t arrival_ns) {
  decode::PacketContext ctx;
  switch (exporter_idx & 3u) {
    case 0: ctx.exporter = flow::IpAddress::from_v4(0x7f000001); break;   // 127.0.0.1
    case 1: ctx.exporter = flow::IpAddress::from_v4(0x0a000001); break;   // 10.0.0.1
    case 2: ctx.exporter.bytes[15] = 1; break;                            // ::1
    default: ctx.exporter = flow::IpAddress::from_v4(0xc0000201); break;  // 192.0.2.1
  }
  ctx.exporter_port = static_cast<uint16_t>(50000 + (exporter_idx & 3u));
  ctx.arrival_ns = arrival_ns;
  return ctx;
}

/// A private directory for this fuzzer process's state files, removed at exit. libFuzzer may
/// run several processes (-jobs/-workers) in one directory, so names must not collide.
inline const std::filesystem::path& temp_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string tmpl = (std::filesystem::temp_directory_path() / "fathom-fuzz-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) {
        std::perror("fathom fuzz: mkdtemp");
        std::abort();
      }
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

/// Aborts (a finding libFuzzer reports) with a message: for contract violations that are not
/// memory errors, e.g. a state file the decoder wrote itself but cannot load.
[[noreturn]] inline void fail(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "fathom fuzz: %s %s\n", what, detail.c_str());
  std::abort();
}

/// Decodes `payload` from a heap copy of exactly its size, so ASan reports a read even one
/// byte past the datagram (inside the fuzzer's own input it would read the next frame).
/// Overwrites the first `version.size()` bytes with `version` when the payload is that long.
inline decode::DecodeStatus decode_copy(decode::Decoder& decoder, std::span<const uint8_t> payload,
                                        std::span<const uint8_t> version,
                                        const decode::PacketContext& ctx, flow::FlowBatch& batch,
                                        flow::SourceProtocol expected_source) {
  std::vector<std::byte> packet(payload.size());
  if (!payload.empty()) std::memcpy(packet.data(), payload.data(), payload.size());
  if (!version.empty() && packet.size() >= version.size())
    std::memcpy(packet.data(), version.data(), version.size());
  if (batch.full()) batch.clear();
  const size_t before = batch.size();
  const decode::DecodeStatus status = decoder.decode(packet, ctx, batch);
  if (static_cast<size_t>(status) >= decode::kDecodeStatusCount) fail("status out of range");
  for (size_t i = before; i < batch.size(); ++i) {
    const flow::FlowRecord& r = batch[i];
    if (r.source != expected_source) fail("record with a foreign source protocol");
    if (r.exporter != ctx.exporter) fail("record with another exporter's address");
  }
  return status;
}

}  // namespace fathom::fuzz
