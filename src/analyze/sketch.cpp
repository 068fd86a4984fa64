#include "analyze/sketch.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "flow/hash_mix.h"

namespace fathom::analyze {

namespace {

__extension__ using U128 = unsigned __int128;

/// 64x64 -> 128-bit multiply folded to 64 bits (the wyhash "mum" step).
uint64_t mum(uint64_t a, uint64_t b) noexcept {
  const U128 r = static_cast<U128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t load64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

using flow::fmix64;

constexpr uint64_t kP0 = 0xa0761d6478bd642full;  // wyhash's secrets (all odd)
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbull;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ull;
constexpr uint64_t kP3 = 0x589965cc75374cc3ull;
constexpr uint64_t kPortSeed = 0x1d8e4e27c47d124full;  // wyhash's fifth secret, ports only
constexpr uint64_t kPortMul = 0x9e3779b97f4a7c15ull;   // 2^64 / golden ratio, odd

constexpr size_t kMaxCapacity = size_t{1} << 24;

/// Heaviest first, then by key: a total order, so selections and listings are deterministic.
template <typename T>
bool heavier(const T& a, const T& b) noexcept {
  if (a.weight != b.weight) return a.weight > b.weight;
  return a.key < b.key;
}

}  // namespace

uint64_t hash_address(const flow::IpAddress& addr) noexcept {
  const uint64_t hi = load64(addr.bytes.data());
  const uint64_t lo = load64(addr.bytes.data() + 8);
  // Each multiply takes one data-dependent operand and one fixed odd constant. wyhash's
  // mum(a ^ k, b ^ k') is zero for every b once a == k, so an attacker choosing a /64 could
  // make all its addresses collide; a product with an odd constant never erases its input.
  const uint64_t h = mum(hi ^ kP0, kP1);
  return fmix64(mum(h ^ lo ^ kP2, kP3));
}

uint64_t hash_port(uint16_t port) noexcept {
  // Constants unused by hash_address, so the two families are unrelated. The fold of a 16-bit
  // value times an odd constant is injective here (tests check all 65536 ports), and fmix64 is
  // a bijection.
  return fmix64(mum(uint64_t{port} ^ kPortSeed, kPortMul));
}

// --- SpaceSaving -----------------------------------------------------------------------------

SpaceSaving::SpaceSaving(size_t capacity)
    : capacity_(std::clamp<size_t>(capacity, 1, kMaxCapacity)) {
  counters_.reserve(capacity_);
  // Load <= 1/2 keeps linear-probing runs short and guarantees an empty slot.
  index_.assign(std::bit_ceil(2 * capacity_), kEmpty);
  mask_ = index_.size() - 1;
}

SpaceSaving::SpaceSaving(const SpaceSaving& other)
    : capacity_(other.capacity_),
      total_(other.total_),
      ignored_(other.ignored_),
      mask_(other.mask_),
      index_(other.index_) {
  counters_.reserve(capacity_);  // a plain vector copy would drop the reserve
  counters_.assign(other.counters_.begin(), other.counters_.end());
}

SpaceSaving& SpaceSaving::operator=(const SpaceSaving& other) {
  if (this == &other) return *this;
  capacity_ = other.capacity_;
  total_ = other.total_;
  ignored_ = other.ignored_;
  mask_ = other.mask_;
  index_ = other.index_;
  counters_.reserve(capacity_);
  counters_.assign(other.counters_.begin(), other.counters_.end());
  return *this;
}

size_t SpaceSaving::find_slot(const flow::IpAddress& key, uint64_t hash) const noexcept {
  size_t slot = hash & mask_;
  while (true) {
    const int32_t pos = index_[slot];
    if (pos == kEmpty) return slot;
    const Counter& c = counters_[static_cast<size_t>(pos)];
    if (c.hash == hash && c.key == key) return slot;
    slot = (slot + 1) & mask_;
  }
}

int32_t SpaceSaving::find(const flow::IpAddress& key, uint64_t hash) const noexcept {
  return index_[find_slot(key, hash)];
}

void SpaceSaving::erase_slot(size_t hole) noexcept {
  // Backward-shift deletion (Knuth vol. 3, 6.4 algorithm R): an entry after the hole moves
  // into it when the hole lies on its probe path, i.e. between its home slot and where it is.
  size_t next = (hole + 1) & mask_;
  while (index_[next] != kEmpty) {
    Counter& c = counters_[static_cast<size_t>(index_[next])];
    const size_t home = c.hash & mask_;
    if (((next - home) & mask_) >= ((next - hole) & mask_)) {
      index_[hole] = index_[next];
      c.slot = static_cast<uint32_t>(hole);
      hole = next;
    }
    next = (next + 1) & mask_;
  }
  index_[hole] = kEmpty;
}

void SpaceSaving::sift_down(size_t pos) noexcept {
  const size_t n = counters_.size();
  const Counter moving = counters_[pos];
  while (true) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && counters_[child + 1].weight < counters_[child].weight) ++child;
    if (!(counters_[child].weight < moving.weight)) break;
    counters_[pos] = counters_[child];
    place(pos);
    pos = child;
  }
  counters_[pos] = moving;
  place(pos);
}

void SpaceSaving::sift_up(size_t pos) noexcept {
  const Counter moving = counters_[pos];
  while (pos > 0) {
    const size_t parent = (pos - 1) / 2;
    if (!(moving.weight < counters_[parent].weight)) break;
    counters_[pos] = counters_[parent];
    place(pos);
    pos = parent;
  }
  counters_[pos] = moving;
  place(pos);
}

double SpaceSaving::absent_bound() const noexcept {
  return counters_.size() == capacity_ ? counters_.front().weight : 0.0;
}

void SpaceSaving::add(const flow::IpAddress& key, double weight, double variance) noexcept {
  // Also rejects NaN (every comparison false) and +inf, which would poison the total.
  if (!(weight > 0.0) || !std::isfinite(weight)) {
    ++ignored_;
    return;
  }
  total_ += weight;
  if (!(variance >= 0.0) || !std::isfinite(variance)) variance = 0.0;
  const uint64_t hash = hash_address(key);
  const size_t slot = find_slot(key, hash);
  if (index_[slot] != kEmpty) {
    const auto pos = static_cast<size_t>(index_[slot]);
    counters_[pos].weight += weight;
    counters_[pos].variance += variance;
    sift_down(pos);  // heavier: it can only move towards the leaves
    return;
  }
  if (counters_.size() < capacity_) {
    counters_.push_back(Counter{key, weight, 0.0, variance, hash, static_cast<uint32_t>(slot)});
    sift_up(counters_.size() - 1);
    return;
  }
  // Full: the smallest counter is handed to the new key, which may have weighed up to that
  // much before (Metwally et al. 2005, Algorithm 1).
  Counter& root = counters_.front();
  erase_slot(root.slot);
  root.slot = static_cast<uint32_t>(find_slot(key, hash));  // the shift may have moved slots
  root.key = key;
  root.hash = hash;
  root.error = root.weight;
  root.weight += weight;
  root.variance = variance;
  sift_down(0);
}

void SpaceSaving::merge(const SpaceSaving& other) {
  if (&other == this) {
    const SpaceSaving copy(*this);
    merge(copy);
    return;
  }
  // A key one summary lacks weighed at most that summary's smallest counter there (0 when the
  // summary is not full: it then holds every key it saw), and at least 0.
  const double own_absent = absent_bound();
  const double other_absent = other.absent_bound();
  std::vector<Counter> combined;
  combined.reserve(counters_.size() + other.counters_.size());
  for (const Counter& c : counters_) {
    Counter m = c;
    const int32_t pos = other.find(c.key, c.hash);
    if (pos != kEmpty) {
      const Counter& o = other.counters_[static_cast<size_t>(pos)];
      m.weight += o.weight;
      m.error += o.error;
      m.variance += o.variance;
    } else {
      m.weight += other_absent;
      m.error += other_absent;  // its lower bound stays c.weight − c.error
    }
    combined.push_back(m);
  }
  for (const Counter& o : other.counters_) {
    if (find(o.key, o.hash) != kEmpty) continue;
    Counter m = o;
    m.weight += own_absent;
    m.error += own_absent;
    combined.push_back(m);
  }
  if (combined.size() > capacity_) {
    std::nth_element(combined.begin(), combined.begin() + static_cast<ptrdiff_t>(capacity_) - 1,
                     combined.end(), heavier<Counter>);
    combined.resize(capacity_);
  }
  // Min-heap on weight: std's heap keeps the comparator's "largest" in front.
  std::make_heap(combined.begin(), combined.end(),
                 [](const Counter& a, const Counter& b) { return a.weight > b.weight; });
  counters_.assign(combined.begin(), combined.end());  // within the reserved capacity
  std::fill(index_.begin(), index_.end(), kEmpty);
  for (size_t pos = 0; pos < counters_.size(); ++pos) {
    counters_[pos].slot = static_cast<uint32_t>(find_slot(counters_[pos].key, counters_[pos].hash));
    place(pos);
  }
  total_ += other.total_;
  ignored_ += other.ignored_;
}

std::vector<HeavyHitter> SpaceSaving::top(size_t n) const {
  std::vector<HeavyHitter> out;
  out.reserve(counters_.size());
  for (const Counter& c : counters_)
    out.push_back(HeavyHitter{c.key, c.weight, c.error, c.variance});
  n = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(n), out.end(),
                    heavier<HeavyHitter>);
  out.resize(n);
  return out;
}

void SpaceSaving::clear() noexcept {
  counters_.clear();
  std::fill(index_.begin(), index_.end(), kEmpty);
  total_ = 0.0;
  ignored_ = 0;
}

}  // namespace fathom::analyze
