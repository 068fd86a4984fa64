#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace fathom::api {

/// Prometheus metric types Fathom exposes (text format 0.0.4 `# TYPE` values).
enum class MetricType : uint8_t { kCounter, kGauge };

/// "counter" or "gauge".
std::string_view to_string(MetricType type) noexcept;

/// One label of a sample. Views only: `MetricsText` copies what it needs before returning.
struct Label {
  std::string_view name;   ///< [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved)
  std::string_view value;  ///< any UTF-8; escaped on output
};

/// Builds one Prometheus text exposition (format 0.0.4) for a /metrics response.
///
/// Samples are buffered per family, so code in several places may add to the same family and
/// the output still has each family's `# HELP` and `# TYPE` exactly once, followed by all its
/// samples: families in the order of their first `family()` call, samples in the order added.
///
/// Naming conventions (https://prometheus.io/docs/practices/naming/), the caller's to follow:
/// - prefix `fathom_<part>_`, base units (`_seconds`, `_bytes`);
/// - a counter family's name ends in `_total` (`fathom_decode_packets_total`) and is used
///   as is: this writer adds no suffix, so the name in the code is the name in the scrape.
///
/// Invalid input is a programmer error (names are chosen in code, not read from the wire):
/// debug builds assert; release builds still produce a valid exposition, by replacing invalid
/// characters of a name with '_' and dropping a sample that repeats a label name or a series.
/// Label values may be anything (exporter names, reasons) and are escaped.
///
/// Not thread-safe: build one per scrape in the thread serving it.
class MetricsText {
 public:
  /// The samples of one family. Stays valid (same address) for the life of its `MetricsText`.
  class Family {
   public:
    /// Adds a sample `name{labels} value`. Integers are printed exactly (no conversion to
    /// double); doubles in the shortest form that reads back to the same value, NaN as "NaN"
    /// and infinities as "+Inf" / "-Inf". Label order is kept as given. Returns *this.
    template <std::integral T>
    Family& sample(std::initializer_list<Label> labels, T value) {
      return add(labels, format_integer(value));
    }
    Family& sample(std::initializer_list<Label> labels, double value) {
      return add(labels, format_double(value));
    }
    /// The same, for labels built at run time.
    template <std::integral T>
    Family& sample(std::span<const Label> labels, T value) {
      return add(labels, format_integer(value));
    }
    Family& sample(std::span<const Label> labels, double value) {
      return add(labels, format_double(value));
    }

    const std::string& name() const noexcept { return name_; }
    MetricType type() const noexcept { return type_; }
    size_t size() const noexcept { return series_.size(); }

   private:
    friend class MetricsText;
    Family(std::string name, std::string help, MetricType type);

    /// Formatted value: up to 24 characters ("-1.7976931348623157e+308" is 24).
    struct Value {
      char text[32];
      uint8_t size;
    };
    static Value format_double(double value) noexcept;
    static Value format_unsigned(uint64_t value) noexcept;
    static Value format_signed(int64_t value) noexcept;
    template <std::integral T>
    static Value format_integer(T value) noexcept {
      static_assert(!std::same_as<T, bool>, "pass a bool as 0 or 1");
      if constexpr (std::is_signed_v<T>) {
        return format_signed(static_cast<int64_t>(value));
      } else {
        return format_unsigned(static_cast<uint64_t>(value));
      }
    }
    Family& add(std::span<const Label> labels, const Value& value);

    std::string name_;
    std::string help_;
    MetricType type_;
    std::string samples_;  ///< the sample lines, each ending in '\n'
    /// Canonical form (labels sorted by name) of every series added; a repeat would make
    /// Prometheus reject the whole scrape.
    std::unordered_set<std::string> series_;
  };

  MetricsText() = default;
  MetricsText(const MetricsText&) = delete;
  MetricsText& operator=(const MetricsText&) = delete;
  MetricsText(MetricsText&&) noexcept = default;
  MetricsText& operator=(MetricsText&&) noexcept = default;

  /// Returns the family `name`, declaring it on first use. Later calls with the same name
  /// return the same family; their `help` and `type` must match the first (debug-asserted;
  /// release keeps the first). `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's must
  /// end in "_total". `help` is free text (escaped on output).
  Family& family(std::string_view name, std::string_view help, MetricType type);

  /// The exposition: for each family `# HELP`, `# TYPE`, then its samples; every line ends in
  /// '\n'. Empty if no family was declared. Serve as "text/plain; version=0.0.4".
  std::string str() const;

 private:
  std::vector<std::unique_ptr<Family>> families_;  ///< in declaration order
  std::unordered_map<std::string, Family*> by_name_;
};

/// True if `name` is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name) noexcept;

/// True if `name` is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__".
bool is_valid_label_name(std::string_view name) noexcept;

/// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629 §4), 0 if there is
/// none (empty, stray continuation byte, overlong form, surrogate, above U+10FFFF, truncated).
/// Used for label values here and for log fields in app/logging.cpp.
size_t utf8_sequence_length(std::string_view s) noexcept;

}  // namespace fathom::api
