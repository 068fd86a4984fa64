#pragma once

// Information element (IE) id → FlowRecord target, valid wire widths and priority, as one
// constexpr table shared by the NetFlow v9 and IPFIX decoders (RFC 3954 §8 field types are the
// same numbers as RFC 7012 IEs for everything Fathom reads).

#include <cstddef>
#include <cstdint>

namespace fathom::decode::detail {

/// What a template field feeds. `kSkip` fields are stepped over by their length.
enum class Target : uint8_t {
  kSkip = 0,
  kBytes,                ///< IE 1 (85, 23 as fallbacks)
  kPackets,              ///< IE 2 (86, 24 as fallbacks)
  kProtocol,             ///< IE 4
  kTos,                  ///< IE 5
  kTcpFlags,             ///< IE 6, 1 or 2 bytes
  kSrcPort,              ///< IE 7
  kDstPort,              ///< IE 11
  kSrcV4,                ///< IE 8
  kDstV4,                ///< IE 12
  kSrcV6,                ///< IE 27
  kDstV6,                ///< IE 28
  kSrcMask,              ///< IE 9 / 29
  kDstMask,              ///< IE 13 / 30
  kInputIf,              ///< IE 10
  kOutputIf,             ///< IE 14
  kNextHopV4,            ///< IE 15 (18 as fallback)
  kNextHopV6,            ///< IE 62 (63 as fallback)
  kSrcAs,                ///< IE 16
  kDstAs,                ///< IE 17
  kEndUptime,            ///< IE 21 flowEndSysUpTime (ms)
  kStartUptime,          ///< IE 22 flowStartSysUpTime (ms)
  kIcmpTypeCode,         ///< IE 32 / 139: type << 8 | code
  kIcmpType,             ///< IE 176 / 178
  kIcmpCode,             ///< IE 177 / 179
  kSamplingInterval,     ///< IE 34 (v9 / IPFIX deprecated), IE 50 samplerRandomInterval
  kSamplingAlgo,         ///< IE 35 / 49: 1 deterministic, 2 random
  kSelectorAlgo,         ///< IE 304 selectorAlgorithm (RFC 5477)
  kSamplerId,            ///< IE 48 samplerId / IE 302 selectorId
  kSrcMac,               ///< IE 56 (81 as fallback)
  kDstMac,               ///< IE 80 (57 as fallback)
  kVlan,                 ///< IE 58
  kDirection,            ///< IE 61
  kForwardingStatus,     ///< IE 89
  kEndReason,            ///< IE 136
  kStartSec,             ///< IE 150
  kEndSec,               ///< IE 151
  kStartMs,              ///< IE 152
  kEndMs,                ///< IE 153
  kStartNtp,             ///< IE 154 / 156 (NTP timestamp, RFC 7011 §6.1.9/§6.1.10)
  kEndNtp,               ///< IE 155 / 157
  kStartDeltaUs,         ///< IE 158: µs before the export time
  kEndDeltaUs,           ///< IE 159
  kSystemInitMs,         ///< IE 160 systemInitTimeMilliseconds (options)
  kPacketInterval,       ///< IE 305 samplingPacketInterval
  kPacketSpace,          ///< IE 306 samplingPacketSpace
  kSamplingSize,         ///< IE 309
  kSamplingPopulation,   ///< IE 310
  kSamplingProbability,  ///< IE 311 (float64, or float32 reduced-size)
  // RFC 5103 reverse elements (PEN 29305).
  kRevBytes,
  kRevPackets,
  kRevTcpFlags,
  kRevTos,
  kCount
};

inline constexpr size_t kTargetCount = static_cast<size_t>(Target::kCount);

/// How one IE is read: its target, the inclusive range of valid wire widths (reduced-size
/// encoding, RFC 7011 §6.2, makes integers valid at any width up to their full size), and a
/// rank: when a template carries several IEs for one target, the lowest rank wins and the others
/// are skipped (octetDeltaCount over octetTotalCount over postOctetDeltaCount).
struct IeInfo {
  Target target = Target::kSkip;
  uint8_t min_len = 0;
  uint8_t max_len = 0;
  uint8_t rank = 0;
};

/// Private Enterprise Number of RFC 5103 reverse information elements.
inline constexpr uint32_t kReversePen = 29305;

/// Info for an IANA IE (or NetFlow v9 field type); `Target::kSkip` when Fathom ignores it.
const IeInfo& ie_info(uint16_t id) noexcept;

/// Info for an RFC 5103 reverse IE (enterprise 29305, id without the enterprise bit).
const IeInfo& reverse_ie_info(uint16_t id) noexcept;

}  // namespace fathom::decode::detail
