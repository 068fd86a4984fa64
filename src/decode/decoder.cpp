#include "decode/decoder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "decode/byte_reader.h"
#include "decode/detail/protocols.h"
#include "decode/detail/template_state.h"

namespace fathom::decode {
namespace {

// State file: magic, format version, then per exporter: 16-byte address, u32 blob length, blob.
constexpr char kStateMagic[8] = {'F', 'A', 'T', 'H', 'S', 'T', 'A', 'T'};
constexpr uint32_t kStateVersion = 1;

void put_u32(std::vector<std::byte>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::byte(v >> shift));
}

}  // namespace

ExporterState::ExporterState(const flow::IpAddress& addr) : address(addr) {}
ExporterState::~ExporterState() = default;
ExporterState::ExporterState(ExporterState&&) noexcept = default;
ExporterState& ExporterState::operator=(ExporterState&&) noexcept = default;

Decoder::Decoder(Config config) : config_(config) {}
Decoder::~Decoder() = default;

ExporterState* Decoder::exporter_for(const flow::IpAddress& addr) noexcept {
  if (last_exporter_ != nullptr && last_exporter_->address == addr) return last_exporter_;
  auto it = exporters_.find(addr);
  if (it != exporters_.end()) return last_exporter_ = &it->second;
  if (exporters_.size() >= config_.max_exporters) return nullptr;
  return last_exporter_ = &exporters_.try_emplace(addr, addr).first->second;
}

DecodeStatus Decoder::decode(std::span<const std::byte> packet, const PacketContext& ctx,
                             flow::FlowBatch& out) noexcept {
  ExporterState* exporter = exporter_for(ctx.exporter);
  if (exporter == nullptr) {
    ++overflow_.packets;
    overflow_.bytes += packet.size();
    overflow_.count(DecodeStatus::kTooManyExporters);
    return DecodeStatus::kTooManyExporters;
  }
  ExporterStats& stats = exporter->stats;
  ++stats.packets;
  stats.bytes += packet.size();
  stats.last_seen_ns = ctx.arrival_ns;

  DecodeStatus status = DecodeStatus::kUnknownProtocol;
  if (packet.size() < 4) {
    status = DecodeStatus::kTruncated;
    stats.count(status);
    return status;
  }
  // NetFlow/IPFIX start with a 16-bit version; sFlow with a 32-bit version (0,0,0,5).
  const uint16_t version16 = ByteReader::load_be16(packet.data());
  const uint32_t version32 = ByteReader::load_be32(packet.data());
  if (version16 == 5) {
    stats.last_version = 5;
    status = detail::decode_netflow_v5(packet, ctx, *exporter, out);
  } else if (version16 == 9) {
    stats.last_version = 9;
    status = detail::decode_netflow_v9(packet, ctx, config_, *exporter, out);
  } else if (version16 == 10) {
    stats.last_version = 10;
    status = detail::decode_ipfix(packet, ctx, config_, *exporter, out);
  } else if (version32 == 5) {
    stats.last_version = 0x50;
    status = detail::decode_sflow_v5(packet, ctx, *exporter, out);
  } else {
    stats.count(DecodeStatus::kUnknownProtocol);
  }
  if (status == DecodeStatus::kOk) ++stats.packets_ok;
  return status;
}

void Decoder::expire(int64_t now_ns) noexcept {
  for (auto& [addr, exporter] : exporters_) detail::expire_pending(exporter, config_, now_ns);
}

void Decoder::for_each_exporter(const std::function<void(const ExporterState&)>& fn) const {
  for (const auto& [addr, exporter] : exporters_) fn(exporter);
}

bool Decoder::save_state(const std::string& path, std::string& error) const {
  const Decoder* self = this;
  return save_state(path, std::span(&self, 1), error);
}

bool Decoder::save_state(const std::string& path, std::span<const Decoder* const> decoders,
                         std::string& error) {
  std::vector<std::byte> out;
  out.insert(out.end(), reinterpret_cast<const std::byte*>(kStateMagic),
             reinterpret_cast<const std::byte*>(kStateMagic) + sizeof(kStateMagic));
  put_u32(out, kStateVersion);
  std::vector<std::byte> blob;
  uint32_t count = 0;
  const size_t count_pos = out.size();
  put_u32(out, 0);
  for (const Decoder* decoder : decoders) {
    for (const auto& [addr, exporter] : decoder->exporters_) {
      if (!exporter.templates) continue;
      blob.clear();
      detail::serialize_template_state(exporter, blob);
      out.insert(out.end(), reinterpret_cast<const std::byte*>(addr.bytes.data()),
                 reinterpret_cast<const std::byte*>(addr.bytes.data()) + 16);
      put_u32(out, static_cast<uint32_t>(blob.size()));
      out.insert(out.end(), blob.begin(), blob.end());
      ++count;
    }
  }
  for (int i = 0; i < 4; ++i) out[count_pos + i] = std::byte(count >> (24 - 8 * i));

  // Written to a temporary file, synced, then renamed over the old one: a crash or a full
  // disk leaves the previous state intact, never a half-written file.
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = "cannot open " + tmp + " for writing: " + std::strerror(errno);
    return false;
  }
  size_t written = 0;
  while (written < out.size()) {
    const ssize_t n = ::write(fd, out.data() + written, out.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = "cannot write " + tmp + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = "cannot write " + tmp + ": " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool Decoder::load_state(const std::string& path, std::string& error,
                         const std::function<bool(const flow::IpAddress&)>& keep) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return true;  // no state yet: a first start
  std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ByteReader r(std::as_bytes(std::span(raw)));
  char magic[8] = {};
  if (!r.read_bytes(magic, sizeof(magic)) || std::memcmp(magic, kStateMagic, 8) != 0) {
    error = path + ": not a Fathom decoder state file";
    return false;
  }
  const uint32_t version = r.u32();
  if (!r.ok() || version != kStateVersion) {
    error = path + ": unsupported state file version " + std::to_string(version);
    return false;
  }
  const uint32_t count = r.u32();
  std::unordered_map<flow::IpAddress, ExporterState, flow::IpAddressHash> loaded;
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    flow::IpAddress addr;
    r.read_bytes(addr.bytes.data(), 16);
    const uint32_t len = r.u32();
    ByteReader blob = r.sub(len);
    if (!r.ok()) break;
    if (keep && !keep(addr)) continue;
    if (loaded.size() >= config_.max_exporters) break;
    ExporterState state(addr);
    if (!detail::deserialize_template_state(blob.rest(), config_, state)) {
      error = path + ": corrupt template state for exporter " + addr.to_string();
      return false;
    }
    loaded.insert_or_assign(addr, std::move(state));
  }
  if (!r.ok()) {
    error = path + ": truncated state file";
    return false;
  }
  struct stat st {};
  const int64_t mtime_ns = ::stat(path.c_str(), &st) == 0
                               ? int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec
                               : 0;
  for (auto& [addr, state] : loaded) {
    ExporterState* exporter = exporter_for(addr);
    if (exporter == nullptr) continue;
    exporter->templates = std::move(state.templates);
    for (const uint32_t domain : detail::domains_with_state(*exporter->templates)) {
      detail::note_domain_change(*exporter->templates, domain, mtime_ns);
      auto it = exporter->templates->changes.find(domain);
      if (it != exporter->templates->changes.end()) it->second.dirty = false;
    }
  }
  return true;
}

void Decoder::take_changed_domains(std::vector<DomainState>& out) {
  for (auto& [addr, exporter] : exporters_) {
    if (!exporter.templates) continue;
    TemplateState& state = *exporter.templates;
    for (auto& [domain, change] : state.changes) {
      if (!change.dirty) continue;
      change.dirty = false;
      DomainState& d = out.emplace_back();
      d.exporter = addr;
      d.domain = domain;
      d.changed_ns = change.changed_ns;
      detail::serialize_domain_state(state, domain, d.blob);
    }
  }
}

void Decoder::all_domains(std::vector<DomainState>& out) const {
  for (const auto& [addr, exporter] : exporters_) {
    if (!exporter.templates) continue;
    const TemplateState& state = *exporter.templates;
    for (const uint32_t domain : detail::domains_with_state(state)) {
      DomainState& d = out.emplace_back();
      d.exporter = addr;
      d.domain = domain;
      if (auto it = state.changes.find(domain); it != state.changes.end()) {
        d.changed_ns = it->second.changed_ns;
      }
      detail::serialize_domain_state(state, domain, d.blob);
    }
  }
}

ApplyStatus Decoder::apply_domain_state(const flow::IpAddress& exporter_addr, uint32_t domain,
                                        std::span<const std::byte> blob, int64_t changed_ns) {
  auto found = exporters_.find(exporter_addr);
  if (found == exporters_.end()) {
    // A new exporter enters the table only with a blob that decodes.
    ExporterState fresh(exporter_addr);
    if (!detail::apply_domain_state(blob, domain, changed_ns, config_, fresh)) {
      return ApplyStatus::kCorrupt;
    }
    if (exporters_.size() >= config_.max_exporters) return ApplyStatus::kNoRoom;
    exporters_.emplace(exporter_addr, std::move(fresh));
    return ApplyStatus::kApplied;
  }
  ExporterState& exporter = found->second;
  if (exporter.templates) {
    const auto& changes = exporter.templates->changes;
    if (auto it = changes.find(domain); it != changes.end() && it->second.changed_ns > changed_ns) {
      return ApplyStatus::kOlder;
    }
  }
  if (!detail::apply_domain_state(blob, domain, changed_ns, config_, exporter)) {
    return ApplyStatus::kCorrupt;
  }
  return ApplyStatus::kApplied;
}

}  // namespace fathom::decode
