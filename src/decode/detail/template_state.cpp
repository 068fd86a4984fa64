// Persistence and housekeeping of TemplateState: the state file's per-exporter blob, the
// store's per-domain blob, change marks, and the expiry of parked data sets.

#include "decode/detail/template_state.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>

#include "decode/byte_reader.h"
#include "decode/detail/protocols.h"
#include "decode/detail/template_engine.h"

namespace fathom::decode::detail {
namespace {

// Blob layout (all big-endian):
//   u8 'T', u8 version
//   u32 templates; each: u8 protocol (9|10), u8 is_options, u32 domain, u16 id, u16 scope
//       count, u16 field count, then per field u16 id (IPFIX: enterprise bit kept), u16
//       length, u32 enterprise number (0 unless the IPFIX enterprise bit is set)
//   u32 samplers;  each: u32 domain, u32 sampler id, u32 rate, u8 algorithm
//   u32 domains;   each: u32 domain, u8 bits (1 system init, 2 default rate), i64 init ms,
//       u32 default rate, u8 default algorithm
constexpr uint8_t kBlobMagic = 'T';
constexpr uint8_t kBlobVersion = 1;

class BlobWriter {
 public:
  explicit BlobWriter(std::vector<std::byte>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(std::byte(v)); }
  void u16(uint16_t v) {
    u8(uint8_t(v >> 8));
    u8(uint8_t(v));
  }
  void u32(uint32_t v) {
    u16(uint16_t(v >> 16));
    u16(uint16_t(v));
  }
  void u64(uint64_t v) {
    u32(uint32_t(v >> 32));
    u32(uint32_t(v));
  }

 private:
  std::vector<std::byte>& out_;
};

bool valid_algorithm(uint8_t v) noexcept {
  return v <= 2;
}

}  // namespace

namespace {

/// The blob of `state` (null: empty), restricted to `only_domain` when given.
void serialize_state(const TemplateState* state, const uint32_t* only_domain,
                     std::vector<std::byte>& out) {
  BlobWriter w(out);
  w.u8(kBlobMagic);
  w.u8(kBlobVersion);
  if (state == nullptr) {
    w.u32(0);
    w.u32(0);
    w.u32(0);
    return;
  }
  const auto wanted = [only_domain](uint32_t domain) {
    return only_domain == nullptr || *only_domain == domain;
  };
  std::vector<const Template*> templates;
  state->cache.for_each([&](const Template& t) {
    if (wanted(t.domain)) templates.push_back(&t);
  });
  w.u32(static_cast<uint32_t>(templates.size()));
  for (const Template* t : templates) {
    w.u8(static_cast<uint8_t>(t->protocol));
    w.u8(t->is_options ? 1 : 0);
    w.u32(t->domain);
    w.u16(t->id);
    w.u16(t->scope_count);
    w.u16(static_cast<uint16_t>(t->fields.size()));
    for (const FieldSpec& f : t->fields) {
      w.u16(f.id);
      w.u16(f.length);
      w.u32(f.pen);
    }
  }
  uint32_t samplers = 0;
  for (const auto& [key, rate] : state->samplers) samplers += wanted(uint32_t(key >> 32)) ? 1 : 0;
  w.u32(samplers);
  for (const auto& [key, rate] : state->samplers) {
    if (!wanted(uint32_t(key >> 32))) continue;
    w.u32(static_cast<uint32_t>(key >> 32));
    w.u32(static_cast<uint32_t>(key));
    w.u32(rate.rate);
    w.u8(static_cast<uint8_t>(rate.algorithm));
  }
  uint32_t domains = 0;
  for (const auto& [domain, d] : state->domains) domains += wanted(domain) ? 1 : 0;
  w.u32(domains);
  for (const auto& [domain, d] : state->domains) {
    if (!wanted(domain)) continue;
    w.u32(domain);
    w.u8(static_cast<uint8_t>((d.has_system_init ? 1 : 0) | (d.has_default_rate ? 2 : 0)));
    w.u64(static_cast<uint64_t>(d.system_init_ms));
    w.u32(d.default_rate.rate);
    w.u8(static_cast<uint8_t>(d.default_rate.algorithm));
  }
}

}  // namespace

void serialize_template_state(const ExporterState& exporter, std::vector<std::byte>& out) {
  serialize_state(exporter.templates.get(), nullptr, out);
}

void serialize_domain_state(const TemplateState& state, uint32_t domain,
                            std::vector<std::byte>& out) {
  serialize_state(&state, &domain, out);
}

std::vector<uint32_t> domains_with_state(const TemplateState& state) {
  std::vector<uint32_t> out;
  state.cache.for_each([&](const Template& t) { out.push_back(t.domain); });
  for (const auto& [key, rate] : state.samplers) out.push_back(uint32_t(key >> 32));
  for (const auto& [domain, d] : state.domains) out.push_back(domain);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void note_domain_change(TemplateState& state, uint32_t domain, int64_t now_ns) {
  auto it = state.changes.find(domain);
  if (it == state.changes.end()) {
    if (state.changes.size() >= TemplateState::kMaxTrackedDomains) {
      // Templates evicted or withdrawn leave entries of domains without state behind (a
      // spoofer cycling domain ids would fill the table): those go first.
      const std::vector<uint32_t> live = domains_with_state(state);
      for (auto c = state.changes.begin(); c != state.changes.end();) {
        c = std::binary_search(live.begin(), live.end(), c->first) ? std::next(c)
                                                                   : state.changes.erase(c);
      }
      if (state.changes.size() >= TemplateState::kMaxTrackedDomains) return;
    }
    it = state.changes.try_emplace(domain).first;
  }
  it->second.changed_ns = now_ns;
  it->second.dirty = true;
}

bool apply_domain_state(std::span<const std::byte> blob, uint32_t domain, int64_t changed_ns,
                        const Config& config, ExporterState& exporter) {
  ExporterState loaded(exporter.address);
  if (!deserialize_template_state(blob, config, loaded)) return false;
  const TemplateState& in = *loaded.templates;
  bool foreign = false;
  in.cache.for_each([&](const Template& t) { foreign = foreign || t.domain != domain; });
  for (const auto& [key, rate] : in.samplers) foreign = foreign || uint32_t(key >> 32) != domain;
  for (const auto& [d, info] : in.domains) foreign = foreign || d != domain;
  if (foreign) return false;

  TemplateState& state = template_state(exporter);
  for (const WireProtocol protocol : {WireProtocol::kNetflowV9, WireProtocol::kIpfix}) {
    state.cache.erase_domain(protocol, domain, false);
    state.cache.erase_domain(protocol, domain, true);
  }
  for (auto it = state.samplers.begin(); it != state.samplers.end();) {
    it = uint32_t(it->first >> 32) == domain ? state.samplers.erase(it) : std::next(it);
  }
  state.domains.erase(domain);
  uint64_t evicted = 0;
  in.cache.for_each([&](const Template& t) {
    Template copy = t;
    state.cache.put(std::move(copy), config.max_templates_per_exporter, evicted);
  });
  for (uint64_t i = 0; i < evicted; ++i) exporter.stats.count(DecodeStatus::kTemplateEvicted);
  for (const auto& [key, rate] : in.samplers) {
    if (state.samplers.size() < TemplateState::kMaxSamplers) state.samplers.emplace(key, rate);
  }
  for (const auto& [d, info] : in.domains) {
    if (state.domains.size() < TemplateState::kMaxDomains) state.domains.emplace(d, info);
  }
  exporter.stats.templates_active = state.cache.size();
  note_domain_change(state, domain, changed_ns);
  if (auto it = state.changes.find(domain); it != state.changes.end()) it->second.dirty = false;
  return true;
}

bool deserialize_template_state(std::span<const std::byte> in, const Config& config,
                                ExporterState& exporter) {
  ByteReader r(in);
  if (r.u8() != kBlobMagic || r.u8() != kBlobVersion || !r.ok()) return false;
  auto state = std::make_unique<TemplateState>();

  const uint32_t template_count = r.u32();
  if (!r.ok() || template_count > config.max_templates_per_exporter) return false;
  for (uint32_t i = 0; i < template_count; ++i) {
    Template t;
    const uint8_t protocol = r.u8();
    const uint8_t is_options = r.u8();
    t.domain = r.u32();
    t.id = r.u16();
    t.scope_count = r.u16();
    const uint16_t field_count = r.u16();
    if (!r.ok() || (protocol != 9 && protocol != 10) || is_options > 1 || t.id < 256 ||
        field_count > kMaxFieldsPerTemplate || !r.has(size_t{field_count} * 8)) {
      return false;
    }
    t.protocol = static_cast<WireProtocol>(protocol);
    t.is_options = is_options == 1;
    t.fields.resize(field_count);
    for (FieldSpec& f : t.fields) {
      f.id = r.u16();
      f.length = r.u16();
      f.pen = r.u32();
      // Only IPFIX enterprise elements (bit 0x8000 set) carry an enterprise number.
      const bool enterprise = t.protocol == WireProtocol::kIpfix && (f.id & kEnterpriseBit) != 0;
      if (!enterprise && f.pen != 0) return false;
    }
    if (compile_template(t) != DecodeStatus::kOk) return false;
    if (state->cache.peek(t.key()) != nullptr) return false;  // duplicate
    uint64_t evicted = 0;
    state->cache.put(std::move(t), config.max_templates_per_exporter, evicted);
    if (evicted != 0) return false;
  }

  const uint32_t sampler_count = r.u32();
  if (!r.ok() || sampler_count > TemplateState::kMaxSamplers) return false;
  for (uint32_t i = 0; i < sampler_count; ++i) {
    const uint32_t domain = r.u32();
    const uint32_t sampler = r.u32();
    SamplerRate rate;
    rate.rate = r.u32();
    const uint8_t algorithm = r.u8();
    if (!r.ok() || rate.rate == 0 || !valid_algorithm(algorithm)) return false;
    rate.algorithm = static_cast<flow::SamplingAlgorithm>(algorithm);
    if (!state->samplers.emplace(TemplateState::sampler_key(domain, sampler), rate).second) {
      return false;
    }
  }

  const uint32_t domain_count = r.u32();
  if (!r.ok() || domain_count > TemplateState::kMaxDomains) return false;
  for (uint32_t i = 0; i < domain_count; ++i) {
    const uint32_t domain = r.u32();
    const uint8_t bits = r.u8();
    DomainInfo d;
    d.system_init_ms = static_cast<int64_t>(r.u64());
    d.default_rate.rate = r.u32();
    const uint8_t algorithm = r.u8();
    if (!r.ok() || bits > 3 || !valid_algorithm(algorithm) || d.system_init_ms < 0 ||
        d.system_init_ms > INT64_MAX / 1'000'000 || d.default_rate.rate == 0) {
      return false;
    }
    d.has_system_init = (bits & 1) != 0;
    d.has_default_rate = (bits & 2) != 0;
    d.default_rate.algorithm = static_cast<flow::SamplingAlgorithm>(algorithm);
    if (!state->domains.emplace(domain, d).second) return false;
  }
  if (r.remaining() != 0) return false;

  exporter.templates = std::move(state);
  exporter.stats.templates_active = exporter.templates->cache.size();
  return true;
}

void expire_pending(ExporterState& exporter, const Config& config, int64_t now_ns) noexcept {
  if (!exporter.templates) return;
  const size_t expired = exporter.templates->pending.expire(now_ns - config.pending_timeout_ns);
  for (size_t i = 0; i < expired; ++i) exporter.stats.count(DecodeStatus::kPendingExpired);
}

}  // namespace fathom::decode::detail
