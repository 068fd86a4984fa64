#pragma once

#include <cstddef>
#include <cstdint>

namespace fathom::decode {

/// Limits and switches for the decoders. Every limit bounds memory an exporter can make Fathom
/// hold, because lengths, counts and template ids all come from the (spoofable) network.
struct Config {
  /// Distinct exporter addresses tracked; packets from further exporters are counted
  /// (`too_many_exporters`) and dropped.
  size_t max_exporters = 4096;
  /// Templates (data + options, all observation domains) one exporter may hold. A new template
  /// beyond this evicts the least recently used one (counted as `template_evicted`).
  size_t max_templates_per_exporter = 1024;
  /// Bytes of data sets parked per exporter while waiting for their template.
  size_t max_pending_bytes_per_exporter = 256 * 1024;
  /// How long a parked data set waits for its template before it is counted as expired.
  int64_t pending_timeout_ns = 120'000'000'000;
  /// Emit the reverse direction of RFC 5103 biflows as a record of its own.
  bool emit_biflow_reverse = true;
};

/// Hard caps that hold whatever the config says (RFC limits or sanity bounds).
inline constexpr size_t kMaxFieldsPerTemplate = 512;
inline constexpr size_t kMaxScopeFields = 32;

}  // namespace fathom::decode
