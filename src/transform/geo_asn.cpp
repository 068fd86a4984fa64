#include "transform/geo_asn.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "transform/detail/geo_asn_sources.h"

namespace fathom::transform {

namespace detail {

uint16_t pack_country(char first, char second) noexcept {
  auto upper = [](char c) -> int {
    if (c >= 'a' && c <= 'z') return c - 'a' + 'A';
    return c >= 'A' && c <= 'Z' ? c : -1;
  };
  const int a = upper(first);
  const int b = upper(second);
  if (a < 0 || b < 0) return 0;
  return static_cast<uint16_t>(a | (b << 8));
}

}  // namespace detail

namespace {

using detail::SourceData;
using detail::SourceRange;
using detail::U128;

/// Ranges with one kind of value (a country, or an AS number; the other field is 0), sorted
/// and disjoint.
using Layer = std::vector<SourceRange>;

/// `high` ∪ (`low` minus what `high` covers): both sorted and disjoint, and so is the result.
Layer overlay(Layer&& high, Layer&& low) {
  if (high.empty()) return std::move(low);
  if (low.empty()) return std::move(high);
  Layer gaps;  // the parts of `low` that `high` leaves uncovered
  gaps.reserve(low.size());
  size_t high_idx = 0;
  for (const SourceRange& run : low) {
    while (high_idx < high.size() && high[high_idx].last < run.first) ++high_idx;
    SourceRange piece = run;
    bool done = false;
    // `high_idx` is not advanced past a run that reaches beyond this one: the next may need it.
    for (size_t idx = high_idx; idx < high.size() && high[idx].first <= run.last; ++idx) {
      if (high[idx].first > piece.first) {
        piece.last = high[idx].first - 1;
        gaps.push_back(piece);
      }
      if (high[idx].last >= run.last) {
        done = true;
        break;
      }
      piece.first = high[idx].last + 1;
    }
    if (!done) {
      piece.last = run.last;
      gaps.push_back(piece);
    }
  }
  Layer out(high.size() + gaps.size());
  std::merge(high.begin(), high.end(), gaps.begin(), gaps.end(), out.begin(),
             [](const SourceRange& a, const SourceRange& b) { return a.first < b.first; });
  return out;
}

/// The layer of `ranges` (taken by value: move in when it is not needed again) with only
/// countries (`country`) or only AS numbers, adjacent equal runs joined. In place.
Layer layer_of(Layer ranges, bool country) {
  size_t kept = 0;
  for (SourceRange r : ranges) {
    if (country) {
      r.asn = 0;
    } else {
      r.country = 0;
    }
    if (r.country == 0 && r.asn == 0) continue;
    if (kept > 0) {
      SourceRange& prev = ranges[kept - 1];
      if (prev.country == r.country && prev.asn == r.asn && prev.last + 1 == r.first &&
          r.first != detail::kV4First && r.first != detail::kV4Last + 1) {
        prev.last = r.last;
        continue;
      }
    }
    ranges[kept++] = r;
  }
  ranges.resize(kept);
  return ranges;
}

/// True when `path` looks like a MaxMind DB: a ".mmdb" name, or the metadata marker
/// "\xAB\xCD\xEFMaxMind.com" in the file's last 128 KiB (where the format puts it).
bool looks_like_mmdb(const std::string& path, uint64_t size) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".mmdb") == 0) return true;
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  constexpr uint64_t kTail = 128 * 1024;
  const uint64_t from = size > kTail ? size - kTail : 0;
  std::string tail(static_cast<size_t>(size - from), '\0');
  const bool ok = std::fseek(file, static_cast<long>(from), SEEK_SET) == 0 &&
                  std::fread(tail.data(), 1, tail.size(), file) == tail.size();
  std::fclose(file);
  static constexpr std::string_view kMarker = "\xAB\xCD\xEFMaxMind.com";
  return ok && tail.find(kMarker) != std::string::npos;
}

/// Reads one source; false with `error` naming the file on failure.
bool read_source(const std::string& path, bool geo, GeoAsnSource& source, SourceData& data,
                 std::string& error) {
  const char* role = geo ? "geo database" : "ASN database";
  source.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = std::string(role) + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  source.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  source.size = static_cast<uint64_t>(st.st_size);
  std::string why;
  bool ok = false;
  if (looks_like_mmdb(path, source.size)) {
    source.kind = "mmdb";
    ok = detail::read_mmdb(path, data, why);
  } else {
    source.kind = "csv";
    ok = detail::read_range_csv(path, geo ? detail::CsvValue::kCountry : detail::CsvValue::kAsn,
                                data, why);
  }
  if (ok && geo && !data.has_country) {
    ok = false;
    why = "no country in any record (an ASN database listed as a geo database?)";
  }
  if (ok && !geo && !data.has_asn) {
    ok = false;
    why = "no AS number in any record (a geo database listed as an ASN database?)";
  }
  if (!ok) {
    error = std::string(role) + " '" + path + "' (" + source.kind + "): " + why;
    return false;
  }
  source.ranges = data.ranges.size();
  source.bad_lines = data.bad_lines;
  return true;
}

}  // namespace

GeoAsnTable::GeoAsnTable() : infos_(1), countries_(1) {}

std::shared_ptr<const GeoAsnTable> GeoAsnTable::load(const Enrichment& config, std::string& error) {
  std::shared_ptr<GeoAsnTable> table(new GeoAsnTable());
  Layer countries;
  Layer asns;
  Layer geo_asns;  // AS numbers from geo sources: used only where no ASN source has one
  for (int pass = 0; pass < 2; ++pass) {
    const bool geo = pass == 0;
    for (const std::string& path : geo ? config.geo_databases : config.asn_databases) {
      GeoAsnSource source;
      SourceData data;
      if (!read_source(path, geo, source, data, error)) return nullptr;
      table->sources_.push_back(std::move(source));
      if (geo) {
        if (data.has_asn) geo_asns = overlay(std::move(geo_asns), layer_of(data.ranges, false));
        countries = overlay(std::move(countries), layer_of(std::move(data.ranges), true));
      } else {
        asns = overlay(std::move(asns), layer_of(std::move(data.ranges), false));
      }
    }
  }
  asns = overlay(std::move(asns), std::move(geo_asns));

  // Packed values when they fit (they do for real data: about 250 countries, public AS
  // numbers below 2^24): country index << 24 | ASN, so a lookup needs no second table read.
  std::vector<uint8_t> country_index(65536, 0);
  uint32_t max_asn = 0;
  for (const SourceRange& r : countries) {
    if (country_index[r.country] == 0 && table->countries_.size() <= 255) {
      country_index[r.country] = static_cast<uint8_t>(table->countries_.size());
      table->countries_.push_back(
          {static_cast<char>(r.country & 0xff), static_cast<char>(r.country >> 8)});
    }
    if (country_index[r.country] == 0) break;  // more than 255 countries: not packed
  }
  for (const SourceRange& r : asns) max_asn = std::max(max_asn, r.asn);
  table->packed_ = max_asn < (uint32_t{1} << 24) &&
                   std::all_of(countries.begin(), countries.end(),
                               [&](const SourceRange& r) { return country_index[r.country] != 0; });
  if (!table->packed_) table->countries_.resize(1);

  // Cut the two layers into pieces with one (country, ASN) each; pieces get the packed pair or
  // index the distinct pairs (value 0 stays "unknown").
  std::unordered_map<uint64_t, uint32_t> pair_index;
  std::vector<AddressRange> ranges;
  ranges.reserve(countries.size() + asns.size());
  uint64_t last_key = 0;
  uint32_t last_value = 0;
  auto emit = [&](U128 first, U128 last, uint32_t country, uint32_t asn) {
    const uint64_t key = (uint64_t{country} << 32) | asn;
    if (table->packed_) {
      last_value = (uint32_t{country_index[country]} << 24) | asn;
    } else if (key != last_key) {  // neighbours often share a pair: skip the hash lookup
      auto [it, inserted] =
          pair_index.try_emplace(key, static_cast<uint32_t>(table->infos_.size()));
      if (inserted) {
        GeoAsnInfo info;
        info.country = {static_cast<char>(country & 0xff), static_cast<char>(country >> 8)};
        info.asn = asn;
        table->infos_.push_back(info);
      }
      last_key = key;
      last_value = it->second;
    }
    if (!ranges.empty() && ranges.back().value == last_value &&
        detail::to_u128(ranges.back().last) + 1 == first && first != detail::kV4First &&
        first != detail::kV4Last + 1) {
      ranges.back().last = detail::from_u128(last);
      return;
    }
    ranges.push_back({detail::from_u128(first), detail::from_u128(last), last_value});
  };
  size_t c_idx = 0;
  size_t a_idx = 0;
  while (c_idx < countries.size() || a_idx < asns.size()) {
    SourceRange* c = c_idx < countries.size() ? &countries[c_idx] : nullptr;
    SourceRange* a = a_idx < asns.size() ? &asns[a_idx] : nullptr;
    if (a == nullptr || (c != nullptr && c->last < a->first)) {
      emit(c->first, c->last, c->country, 0);
      ++c_idx;
      continue;
    }
    if (c == nullptr || a->last < c->first) {
      emit(a->first, a->last, 0, a->asn);
      ++a_idx;
      continue;
    }
    // They overlap: emit the part before the later start, then the common part.
    if (c->first < a->first) {
      emit(c->first, a->first - 1, c->country, 0);
      c->first = a->first;
    } else if (a->first < c->first) {
      emit(a->first, c->first - 1, 0, a->asn);
      a->first = c->first;
    }
    const U128 end = std::min(c->last, a->last);
    emit(c->first, end, c->country, a->asn);
    if (c->last == end) {
      ++c_idx;
    } else {
      c->first = end + 1;
    }
    if (a->last == end) {
      ++a_idx;
    } else {
      a->first = end + 1;
    }
  }
  countries = {};
  asns = {};
  if (!RangeTable::from_sorted(ranges, table->table_)) {
    error = "geo/ASN: internal error: overlaid ranges are not disjoint";  // a bug, not input
    return nullptr;
  }
  table->infos_.shrink_to_fit();
  return table;
}

size_t GeoAsnTable::memory_bytes() const noexcept {
  return table_.memory_bytes() + infos_.capacity() * sizeof(GeoAsnInfo) +
         countries_.capacity() * sizeof(countries_[0]);
}

}  // namespace fathom::transform
