#include "app/decoder_state.h"

#include <charconv>
#include <utility>

#include "app/logging.h"

namespace fathom::app {
namespace {

/// `a + b` for b >= 0, saturating at INT64_MAX (an interval of "never").
int64_t later(int64_t a, int64_t b) noexcept {
  return a > INT64_MAX - b ? INT64_MAX : a + b;
}

}  // namespace

std::string decoder_state_key(const flow::IpAddress& exporter, uint32_t domain) {
  std::string key(kDecoderKeyPrefix);
  key += exporter.to_string();
  key += '/';
  key += std::to_string(domain);
  return key;
}

bool parse_decoder_state_key(std::string_view key, flow::IpAddress& exporter, uint32_t& domain) {
  if (!key.starts_with(kDecoderKeyPrefix)) return false;
  key.remove_prefix(kDecoderKeyPrefix.size());
  // The domain follows the last '/' (IPv6 addresses hold ':' but never '/').
  const size_t slash = key.rfind('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view number = key.substr(slash + 1);
  if (number.empty() || number.size() > 10) return false;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || value > UINT32_MAX) {
    return false;
  }
  const std::optional<flow::IpAddress> addr = flow::IpAddress::parse(key.substr(0, slash));
  if (!addr) return false;
  exporter = *addr;
  domain = static_cast<uint32_t>(value);
  return true;
}

DecoderStateStats snapshot(const DecoderStateCounters& c) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  return {c.restored.load(kRelaxed), c.older.load(kRelaxed), c.corrupt.load(kRelaxed),
          c.no_room.load(kRelaxed),  c.saved.load(kRelaxed), c.refused.load(kRelaxed)};
}

store::StoreResult<std::vector<store::StateEntry>> read_decoder_states(store::Database& db) {
  auto [status, rows] = db.list_state(kCollectorTenant);
  if (!status.ok) return {status, {}};
  std::vector<store::StateEntry> out;
  for (store::StateEntry& row : rows) {
    if (row.key.starts_with(kDecoderKeyPrefix)) out.push_back(std::move(row));
  }
  return {status, std::move(out)};
}

void apply_decoder_states(std::span<const store::StateEntry> rows, decode::Decoder& decoder,
                          const std::function<bool(const flow::IpAddress&)>& keep,
                          DecoderStateCounters& counters) {
  uint64_t applied = 0, older = 0, corrupt = 0, no_room = 0;
  std::string first_corrupt;
  for (const store::StateEntry& row : rows) {
    flow::IpAddress exporter;
    uint32_t domain = 0;
    if (!parse_decoder_state_key(row.key, exporter, domain)) {
      if (first_corrupt.empty()) first_corrupt = row.key + " (key)";
      ++corrupt;
      continue;
    }
    if (keep && !keep(exporter)) continue;
    const std::span<const std::byte> blob(reinterpret_cast<const std::byte*>(row.value.data()),
                                          row.value.size());
    switch (decoder.apply_domain_state(exporter, domain, blob, row.updated_ns)) {
      case decode::ApplyStatus::kApplied: ++applied; break;
      case decode::ApplyStatus::kOlder: ++older; break;
      case decode::ApplyStatus::kNoRoom: ++no_room; break;
      case decode::ApplyStatus::kCorrupt:
        if (first_corrupt.empty()) first_corrupt = row.key;
        ++corrupt;
        break;
    }
  }
  counters.restored.fetch_add(applied, std::memory_order_relaxed);
  counters.older.fetch_add(older, std::memory_order_relaxed);
  counters.corrupt.fetch_add(corrupt, std::memory_order_relaxed);
  counters.no_room.fetch_add(no_room, std::memory_order_relaxed);
  if (corrupt + no_room > 0) {
    logger("store")->warn(
        "decoder state: {} stored domain state(s) ignored as corrupt (first: {}), {} for want of "
        "room (decode.max_exporters); {} restored",
        corrupt, first_corrupt.empty() ? "-" : first_corrupt, no_room, applied);
  } else if (applied + older > 0) {
    logger("store")->info(
        "decoder state: {} domain state(s) restored from the store ({} older than the state "
        "file's, kept)",
        applied, older);
  }
}

DecoderStateSaver::DecoderStateSaver(store::StoreWriter& writer, DecoderStateCounters& counters,
                                     Options options)
    : writer_(writer), counters_(counters), options_(options) {}

void DecoderStateSaver::queue(std::vector<decode::DomainState>& states) {
  for (decode::DomainState& s : states) {
    store::StateEntry entry;
    entry.tenant_id = kCollectorTenant;
    entry.key = decoder_state_key(s.exporter, s.domain);
    entry.value.assign(reinterpret_cast<const char*>(s.blob.data()), s.blob.size());
    entry.updated_ns = s.changed_ns;
    std::string key = entry.key;
    // A newer state of a domain replaces one still waiting: only the latest matters.
    pending_.insert_or_assign(std::move(key), std::move(entry));
  }
  states.clear();
}

void DecoderStateSaver::submit_pending() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!writer_.submit_state(it->second)) {
      // Queue full (or the writer stopped): keep the rest for the next check.
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counters_.saved.fetch_add(1, std::memory_order_relaxed);
    it = pending_.erase(it);
  }
}

void DecoderStateSaver::tick(decode::Decoder& decoder, int64_t monotonic_ns) {
  if (monotonic_ns < next_check_ns_) return;
  next_check_ns_ = later(monotonic_ns, options_.check_interval_ns);
  if (next_full_ns_ == 0) next_full_ns_ = later(monotonic_ns, options_.full_interval_ns);
  if (monotonic_ns >= next_full_ns_) {
    next_full_ns_ = later(monotonic_ns, options_.full_interval_ns);
    std::vector<decode::DomainState> ignored;
    decoder.take_changed_domains(ignored);  // clears the marks: all_domains has them
    decoder.all_domains(scratch_);
  } else {
    decoder.take_changed_domains(scratch_);
  }
  queue(scratch_);
  submit_pending();
}

void DecoderStateSaver::save_all(decode::Decoder& decoder) {
  std::vector<decode::DomainState> ignored;
  decoder.take_changed_domains(ignored);
  decoder.all_domains(scratch_);
  queue(scratch_);
  submit_pending();
  if (!pending_.empty()) {
    logger("store")->warn(
        "decoder state: {} domain state(s) not saved at stop: the store writer's queue is full",
        pending_.size());
  }
}

}  // namespace fathom::app
