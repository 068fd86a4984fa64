#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "app/record_format.h"

namespace fathom::app {

/// Options of `fathom decode`.
struct DecodeOptions {
  std::vector<std::string> files;  ///< paths; "-" is stdin
  OutputFormat format = OutputFormat::kJson;
  bool stats = false;       ///< print per-exporter and per-file counters to `err` at the end
  uint64_t limit = 0;       ///< stop after this many flow records (0: no limit)
  bool no_reverse = false;  ///< drop RFC 5103 reverse-direction records
};

/// Runs `fathom decode`: reads each file — a pcap/pcapng capture of export packets (any UDP
/// port, protocol recognised from the payload) or an AWS VPC flow log (default or custom
/// format), either possibly gzip-compressed, recognised by content — decodes it with one
/// shared Decoder and writes one record per line to `out`. A file that cannot be opened, is of
/// no known format or fails mid-way is reported on `err` by name and the others still run.
/// Returns 0 when every file was read, 1 otherwise.
int run_decode(const DecodeOptions& options, std::FILE* out, std::FILE* err);

}  // namespace fathom::app
