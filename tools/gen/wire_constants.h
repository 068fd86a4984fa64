#pragma once

// Wire-format numbers the encoders write: protocol versions, set ids and information element
// ids, each from its RFC or vendor document. Written out here rather than borrowed from
// src/decode so the generator and the decoders stay independent implementations.

#include <cstdint>

namespace fathom::gen::wire {

// --- NetFlow v5 (Cisco "NetFlow Export Datagram Format", version 5) ---------------------------
inline constexpr uint16_t kV5Version = 5;
inline constexpr size_t kV5HeaderLen = 24;
inline constexpr size_t kV5RecordLen = 48;
inline constexpr size_t kV5MaxRecords = 30;          // Cisco's limit per datagram
inline constexpr uint16_t kV5ModeDeterministic = 1;  // top 2 bits of sampling_interval
inline constexpr uint16_t kV5ModeRandom = 2;

// --- NetFlow v9 (RFC 3954) ----------------------------------------------------------------------
inline constexpr uint16_t kV9Version = 9;
inline constexpr size_t kV9HeaderLen = 20;
inline constexpr uint16_t kV9TemplateFlowsetId = 0;  // RFC 3954 §5.2
inline constexpr uint16_t kV9OptionsFlowsetId = 1;   // RFC 3954 §6.1
inline constexpr uint16_t kV9ScopeInterface = 2;     // RFC 3954 §6.1 scope field types

// --- IPFIX (RFC 7011) ---------------------------------------------------------------------------
inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr size_t kIpfixHeaderLen = 16;
inline constexpr uint16_t kIpfixTemplateSetId = 2;         // RFC 7011 §3.3.2
inline constexpr uint16_t kIpfixOptionsTemplateSetId = 3;  // RFC 7011 §3.3.2
inline constexpr uint16_t kSelectorSystematicCount = 1;    // RFC 5477 selectorAlgorithm
inline constexpr uint16_t kSelectorRandomNofN = 3;

// Template ids the generator uses (>= 256, RFC 7011 §3.4.1 / RFC 3954 §5.2).
inline constexpr uint16_t kTemplateV4 = 256;
inline constexpr uint16_t kTemplateV6 = 257;
inline constexpr uint16_t kTemplateOptions = 258;

// Information elements (IANA IPFIX registry; ids 1..127 shared with NetFlow v9).
namespace ie {
inline constexpr uint16_t kOctetDeltaCount = 1;
inline constexpr uint16_t kPacketDeltaCount = 2;
inline constexpr uint16_t kProtocolIdentifier = 4;
inline constexpr uint16_t kIpClassOfService = 5;
inline constexpr uint16_t kTcpControlBits = 6;
inline constexpr uint16_t kSourceTransportPort = 7;
inline constexpr uint16_t kSourceIpv4Address = 8;
inline constexpr uint16_t kIngressInterface = 10;
inline constexpr uint16_t kDestinationTransportPort = 11;
inline constexpr uint16_t kDestinationIpv4Address = 12;
inline constexpr uint16_t kEgressInterface = 14;
inline constexpr uint16_t kLastSwitched = 21;   // v9: sysUptime ms of the last packet
inline constexpr uint16_t kFirstSwitched = 22;  // v9: sysUptime ms of the first packet
inline constexpr uint16_t kSourceIpv6Address = 27;
inline constexpr uint16_t kDestinationIpv6Address = 28;
inline constexpr uint16_t kSamplingInterval = 34;   // v9 / deprecated in IPFIX
inline constexpr uint16_t kSamplingAlgorithm = 35;  // v9: 1 deterministic, 2 random
inline constexpr uint16_t kFlowEndReason = 136;
inline constexpr uint16_t kMeteringProcessId = 143;
inline constexpr uint16_t kFlowStartMilliseconds = 152;
inline constexpr uint16_t kFlowEndMilliseconds = 153;
inline constexpr uint16_t kSelectorAlgorithm = 304;
inline constexpr uint16_t kSamplingPacketInterval = 305;
inline constexpr uint16_t kSamplingPacketSpace = 306;
inline constexpr uint16_t kSamplingSize = 309;
inline constexpr uint16_t kSamplingPopulation = 310;
}  // namespace ie

// --- sFlow v5 (sflow.org sflow_version_5.txt) ---------------------------------------------------
inline constexpr uint32_t kSflowVersion = 5;
inline constexpr uint32_t kSflowAddressV4 = 1;
inline constexpr uint32_t kSflowAddressV6 = 2;
inline constexpr uint32_t kSflowFlowSample = 1;       // enterprise 0, format 1
inline constexpr uint32_t kSflowRawPacketHeader = 1;  // flow record enterprise 0, format 1
inline constexpr uint32_t kSflowHeaderEthernet = 1;   // header_protocol ETHERNET-ISO88023
inline constexpr uint32_t kSflowFcsBytes = 4;         // "stripped": the frame check sequence
inline constexpr uint32_t kSflowCounterSample = 2;    // enterprise 0, format 2 (compact)
inline constexpr uint32_t kSflowGenericInterfaceCounters = 1;  // counter record format 1
inline constexpr size_t kSflowGenericInterfaceCountersLen = 88;

// --- Ethernet / IP ------------------------------------------------------------------------------
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr size_t kEthernetHeaderLen = 14;

/// Largest UDP payload an encoder produces (fits a 1500-byte MTU with IPv6 headers).
inline constexpr size_t kMaxDatagram = 1400;

}  // namespace fathom::gen::wire
