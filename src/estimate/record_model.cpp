#include "estimate/record_model.h"

#include <algorithm>
#include <cmath>

namespace fathom::estimate {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kDccp = 33;
constexpr uint8_t kSctp = 132;

// Σ size² of the c packets behind `bytes`, as the model assumes it (docs/estimation.md "Bytes").
double packet_size_second_moment(double bytes, double c, bool exact,
                                 const ModelOptions& options) noexcept {
  if (exact || c <= 1.0) return bytes * bytes;
  const double mean = bytes / c;
  const double mean_size = bytes * mean;  // c · mean², the smallest possible Σ size²
  if (options.byte_variance == ByteVarianceModel::kMeanSize) return mean_size;
  // The largest Σ size² that c sizes in [a, b] summing to B allow. Σ size² is convex, so the
  // maximum is at a vertex of that polytope: k packets of b, one of r in [a, b], the rest a.
  // (It meets the Bhatia–Davis bound c(m² + (m − a)(b − m)) when r is a or b.) The bounds
  // widen to include the mean, so a jumbo or tiny mean still has a feasible split.
  const double a = std::min(options.min_packet_bytes, mean);
  const double b = std::max(options.max_packet_bytes, mean);
  if (!(b > a)) return mean_size;
  const double k = std::clamp(std::floor((bytes - c * a) / (b - a)), 0.0, c - 1.0);
  const double r = std::clamp(bytes - k * b - (c - k - 1.0) * a, a, b);
  const double extreme = k * b * b + r * r + (c - k - 1.0) * a * a;
  return std::clamp(extreme, mean_size, bytes * bytes);
}

}  // namespace

RecordTerms record_terms(const flow::FlowRecord& record, const ModelOptions& options) noexcept {
  RecordTerms out;
  const double w = record.sampling_rate;
  if (!(std::isfinite(w) && w >= 1.0)) return out;
  out.valid = true;
  out.weight = w;
  // N <= w always (p <= 1); a device rate above the effective one is a stale announcement.
  out.device_rate = std::clamp(static_cast<double>(record.device_sampling_rate), 1.0, w);
  out.keep_probability = out.device_rate / w;
  const double n = out.device_rate;
  const double p = out.keep_probability;

  const double c = static_cast<double>(std::max<uint64_t>(record.packets, 1));
  const double bytes = static_cast<double>(record.bytes);
  const bool packet_sample = (record.flags & flow::record_flags::kPacketSample) != 0;

  // Derivation in docs/estimation.md "Variance": first stage binomial thinning of each
  // packet (exact variance term w(N−1)·Σ y_i² per record, y_i the unit's value), second
  // stage a Bernoulli(p) keep of the whole record ((1−p)(w·y)²).
  out.packets.raw = c;
  out.packets.units = static_cast<uint64_t>(c);
  out.packets.weighted = w * c;
  out.packets.variance = w * (n - 1.0) * c + (1.0 - p) * (w * c) * (w * c);
  // Kept or dropped as a whole (p < 1), the record is one unit of the gamma interval.
  out.packets.unit_weight = p < 1.0 ? w * c : w;

  const double q = packet_size_second_moment(bytes, c, packet_sample, options);
  out.bytes.raw = bytes;
  out.bytes.units = out.packets.units;
  out.bytes.weighted = w * bytes;
  out.bytes.variance = w * (n - 1.0) * q + (1.0 - p) * (w * bytes) * (w * bytes);
  // The gamma interval's "one more unit" for bytes: an unseen packet may be as large as the
  // largest plausible packet, whatever sizes happened to be sampled (a few sampled ACKs say
  // nothing about the 1500-byte packets beside them). A record kept as a whole (p < 1) is
  // one unit of its own weight, if larger.
  const double largest_packet = std::max({options.max_packet_bytes, bytes / c, 1.0});
  out.bytes.unit_weight = std::max(w * largest_packet, p < 1.0 ? w * bytes : 0.0);

  if (record.ip_protocol == kTcp && (record.tcp_flags & tcp_flag::kSyn) != 0 &&
      !(packet_sample && (record.tcp_flags & tcp_flag::kAck) != 0)) {
    out.tcp_flow_arrival = true;
    out.flows.raw = 1.0;
    out.flows.units = 1;
    out.flows.weighted = w;
    out.flows.variance = w * (w - 1.0);  // = w(N−1)·1 + (1−p)w²: one unit of value 1
    out.flows.unit_weight = w;
  }
  return out;
}

uint16_t service_port(const flow::FlowRecord& record) noexcept {
  const uint8_t proto = record.ip_protocol;
  if (proto != kTcp && proto != kUdp && proto != kSctp && proto != kDccp) return 0;
  const uint16_t src = record.src_port;
  const uint16_t dst = record.dst_port;
  constexpr uint16_t kWellKnown = 1024;
  const bool src_low = src < kWellKnown;
  const bool dst_low = dst < kWellKnown;
  if (src_low && !dst_low) return src;
  if (dst_low) return dst;  // only the destination, or both (NTP 123 ↔ 123, DNS 53 ↔ 53)
  return std::min(src, dst);
}

}  // namespace fathom::estimate
