#include "decode/decode_status.h"

#include <array>

namespace fathom::decode {
namespace {

constexpr std::array<std::string_view, kDecodeStatusCount> kNames = {
    "ok",
    "truncated",
    "bad_version",
    "unknown_protocol",
    "bad_set_length",
    "bad_message_length",
    "bad_record_count",
    "bad_template",
    "template_too_large",
    "too_many_templates",
    "unknown_template",
    "pending_overflow",
    "pending_expired",
    "template_evicted",
    "bad_field_length",
    "bad_sample",
    "unsupported_header",
    "bad_timestamp",
    "too_many_exporters",
    "bad_line",
};

}  // namespace

std::string_view to_string(DecodeStatus s) noexcept {
  const auto i = static_cast<size_t>(s);
  return i < kNames.size() ? kNames[i] : "invalid";
}

}  // namespace fathom::decode
