#include "decode/detail/ie_table.h"

#include <array>

namespace fathom::decode::detail {
namespace {

struct IeRow {
  uint16_t id;
  IeInfo info;
};

// IANA IPFIX registry ids (RFC 7012 / RFC 5102); NetFlow v9 (RFC 3954 §8) uses the same numbers
// for every field here. Widths: integers accept reduced-size encoding (RFC 7011 §6.2) from 1
// byte up; addresses, MACs and timestamps must be exactly their size.
constexpr IeRow kIanaRows[] = {
    {1, {Target::kBytes, 1, 8, 0}},
    {2, {Target::kPackets, 1, 8, 0}},
    {4, {Target::kProtocol, 1, 1, 0}},
    {5, {Target::kTos, 1, 1, 0}},
    {6, {Target::kTcpFlags, 1, 2, 0}},
    {7, {Target::kSrcPort, 1, 2, 0}},
    {8, {Target::kSrcV4, 4, 4, 0}},
    {9, {Target::kSrcMask, 1, 1, 0}},
    {10, {Target::kInputIf, 1, 4, 0}},
    {11, {Target::kDstPort, 1, 2, 0}},
    {12, {Target::kDstV4, 4, 4, 0}},
    {13, {Target::kDstMask, 1, 1, 0}},
    {14, {Target::kOutputIf, 1, 4, 0}},
    {15, {Target::kNextHopV4, 4, 4, 0}},
    {16, {Target::kSrcAs, 1, 4, 0}},
    {17, {Target::kDstAs, 1, 4, 0}},
    {18, {Target::kNextHopV4, 4, 4, 1}},
    {21, {Target::kEndUptime, 1, 4, 0}},
    {22, {Target::kStartUptime, 1, 4, 0}},
    {23, {Target::kBytes, 1, 8, 2}},
    {24, {Target::kPackets, 1, 8, 2}},
    {27, {Target::kSrcV6, 16, 16, 0}},
    {28, {Target::kDstV6, 16, 16, 0}},
    {29, {Target::kSrcMask, 1, 1, 0}},
    {30, {Target::kDstMask, 1, 1, 0}},
    {32, {Target::kIcmpTypeCode, 2, 2, 0}},
    {34, {Target::kSamplingInterval, 1, 4, 0}},
    {35, {Target::kSamplingAlgo, 1, 1, 0}},
    {48, {Target::kSamplerId, 1, 4, 0}},
    {49, {Target::kSamplingAlgo, 1, 1, 1}},
    {50, {Target::kSamplingInterval, 1, 4, 1}},
    {56, {Target::kSrcMac, 6, 6, 0}},
    {57, {Target::kDstMac, 6, 6, 1}},
    {58, {Target::kVlan, 1, 2, 0}},
    {61, {Target::kDirection, 1, 1, 0}},
    {62, {Target::kNextHopV6, 16, 16, 0}},
    {63, {Target::kNextHopV6, 16, 16, 1}},
    {80, {Target::kDstMac, 6, 6, 0}},
    {81, {Target::kSrcMac, 6, 6, 1}},
    {85, {Target::kBytes, 1, 8, 1}},
    {86, {Target::kPackets, 1, 8, 1}},
    {89, {Target::kForwardingStatus, 1, 4, 0}},
    {136, {Target::kEndReason, 1, 1, 0}},
    {139, {Target::kIcmpTypeCode, 2, 2, 0}},
    {150, {Target::kStartSec, 1, 4, 0}},
    {151, {Target::kEndSec, 1, 4, 0}},
    {152, {Target::kStartMs, 1, 8, 0}},
    {153, {Target::kEndMs, 1, 8, 0}},
    {154, {Target::kStartNtp, 8, 8, 0}},
    {155, {Target::kEndNtp, 8, 8, 0}},
    {156, {Target::kStartNtp, 8, 8, 0}},
    {157, {Target::kEndNtp, 8, 8, 0}},
    {158, {Target::kStartDeltaUs, 1, 4, 0}},
    {159, {Target::kEndDeltaUs, 1, 4, 0}},
    {160, {Target::kSystemInitMs, 1, 8, 0}},
    {176, {Target::kIcmpType, 1, 1, 0}},
    {177, {Target::kIcmpCode, 1, 1, 0}},
    {178, {Target::kIcmpType, 1, 1, 0}},
    {179, {Target::kIcmpCode, 1, 1, 0}},
    {302, {Target::kSamplerId, 1, 8, 1}},
    {304, {Target::kSelectorAlgo, 1, 2, 0}},
    {305, {Target::kPacketInterval, 1, 4, 0}},
    {306, {Target::kPacketSpace, 1, 4, 0}},
    {309, {Target::kSamplingSize, 1, 4, 0}},
    {310, {Target::kSamplingPopulation, 1, 4, 0}},
    {311, {Target::kSamplingProbability, 4, 8, 0}},
};

// RFC 5103 §6.1: reverse IEs carry enterprise 29305 and the forward element's id.
constexpr IeRow kReverseRows[] = {
    {1, {Target::kRevBytes, 1, 8, 0}},  {2, {Target::kRevPackets, 1, 8, 0}},
    {5, {Target::kRevTos, 1, 1, 0}},    {6, {Target::kRevTcpFlags, 1, 2, 0}},
    {85, {Target::kRevBytes, 1, 8, 1}}, {86, {Target::kRevPackets, 1, 8, 1}},
};

inline constexpr size_t kTableSize = 320;  // one past the largest id in either table

template <size_t N>
constexpr std::array<IeInfo, kTableSize> build(const IeRow (&rows)[N]) {
  std::array<IeInfo, kTableSize> table{};
  for (const IeRow& row : rows) table[row.id] = row.info;
  return table;
}

constexpr std::array<IeInfo, kTableSize> kIana = build(kIanaRows);
constexpr std::array<IeInfo, kTableSize> kReverse = build(kReverseRows);
constexpr IeInfo kUnknown{};

}  // namespace

const IeInfo& ie_info(uint16_t id) noexcept {
  return id < kTableSize ? kIana[id] : kUnknown;
}

const IeInfo& reverse_ie_info(uint16_t id) noexcept {
  return id < kTableSize ? kReverse[id] : kUnknown;
}

}  // namespace fathom::decode::detail
