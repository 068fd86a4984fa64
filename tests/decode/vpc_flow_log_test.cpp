#include "decode/vpc_flow_log.h"

#include <string>

#include <gtest/gtest.h>

#include "flow/flow_batch.h"

namespace fathom::decode {
namespace {

using flow::FlowBatch;

// From the AWS VPC User Guide, "Flow log record examples".
constexpr std::string_view kAccepted =
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
    "1418530010 1418530070 ACCEPT OK";
constexpr std::string_view kRejected =
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
    "1418530010 1418530070 REJECT OK";
constexpr std::string_view kNoData =
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA";
constexpr std::string_view kSkipData =
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA";

TEST(VpcFlowLog, DefaultFormatRecord) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  ASSERT_EQ(parser.parse_line(kAccepted, batch, 42), DecodeStatus::kOk);
  ASSERT_EQ(batch.size(), 1u);
  const flow::FlowRecord& r = batch[0];
  EXPECT_EQ(r.src.to_string(), "172.31.16.139");
  EXPECT_EQ(r.dst.to_string(), "172.31.16.21");
  EXPECT_EQ(r.src_port, 20641);
  EXPECT_EQ(r.dst_port, 22);
  EXPECT_EQ(r.ip_protocol, 6);
  EXPECT_EQ(r.packets, 20u);
  EXPECT_EQ(r.bytes, 4249u);
  EXPECT_EQ(r.start_ns, 1418530010'000000000);
  EXPECT_EQ(r.end_ns, 1418530070'000000000);
  EXPECT_EQ(r.arrival_ns, 42);
  EXPECT_EQ(r.forwarding_status, 0x40);  // forwarded
  EXPECT_EQ(r.exporter_direction, 0xff);
  EXPECT_EQ(r.source, flow::SourceProtocol::kVpcFlowLog);
  EXPECT_EQ(r.device_sampling_rate, 1u);
  EXPECT_EQ(r.sampling_rate, 1.0);
  EXPECT_EQ(r.flags, 0);
  EXPECT_EQ(parser.stats().records, 1u);

  ASSERT_EQ(parser.parse_line(kRejected, batch), DecodeStatus::kOk);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1].forwarding_status, 0x80);  // dropped
  EXPECT_EQ(batch[1].dst_port, 3389);
}

TEST(VpcFlowLog, NoDataAndSkipDataAreCountedWithoutRecords) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  EXPECT_EQ(parser.parse_line(kNoData, batch), DecodeStatus::kOk);
  EXPECT_EQ(parser.parse_line(kSkipData, batch), DecodeStatus::kOk);
  EXPECT_EQ(parser.parse_line("", batch), DecodeStatus::kOk);
  EXPECT_EQ(parser.parse_line("   \r", batch), DecodeStatus::kOk);
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(parser.counts().no_data, 1u);
  EXPECT_EQ(parser.counts().skip_data, 1u);
  EXPECT_EQ(parser.counts().blank_lines, 2u);
  EXPECT_EQ(parser.counts().lines, 4u);
  EXPECT_EQ(parser.counts().bad_lines, 0u);
  EXPECT_EQ(parser.stats().records, 0u);
}

TEST(VpcFlowLog, CustomFormatFromHeader) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  // v5 fields in a custom order, with one name AWS may add later (skipped).
  const std::string_view header =
      "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr "
      "srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action "
      "tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service "
      "pkt-dst-aws-service flow-direction traffic-path future-field";
  ASSERT_EQ(parser.parse_line(header, batch), DecodeStatus::kOk);
  EXPECT_EQ(parser.counts().header_lines, 1u);
  EXPECT_EQ(parser.counts().unknown_fields, 1u);
  const std::string_view record =
      "5 vpc-0a1b subnet-aa i-01 eni-01 123456789012 IPv4 10.0.1.5 10.0.0.220 39812 80 "
      "203.0.113.9 10.0.0.220 6 1200 4 1616729292 1616729349 ACCEPT 19 OK us-east-1 use1-az1 "
      "- - - S3 ingress 1 whatever";
  ASSERT_EQ(parser.parse_line(record, batch, 7), DecodeStatus::kOk);
  ASSERT_EQ(batch.size(), 1u);
  const flow::FlowRecord& r = batch[0];
  EXPECT_EQ(r.src.to_string(), "203.0.113.9");  // pkt-srcaddr wins over srcaddr
  EXPECT_EQ(r.dst.to_string(), "10.0.0.220");
  EXPECT_EQ(r.src_port, 39812);
  EXPECT_EQ(r.dst_port, 80);
  EXPECT_EQ(r.bytes, 1200u);
  EXPECT_EQ(r.packets, 4u);
  EXPECT_EQ(r.tcp_flags, 19);
  EXPECT_EQ(r.exporter_direction, 0);  // ingress
  EXPECT_EQ(r.start_ns, 1616729292'000000000);

  // pkt-* absent ('-'): srcaddr/dstaddr are used; IPv6 addresses parse.
  const std::string_view v6 =
      "5 vpc-0a1b subnet-aa - eni-01 123456789012 IPv6 2001:db8::1 2001:db8::2 443 51000 - - 6 "
      "99 1 1616729292 1616729349 REJECT 2 OK us-east-1 use1-az1 - - - - egress -  extra";
  ASSERT_EQ(parser.parse_line(v6, batch), DecodeStatus::kOk);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1].src.to_string(), "2001:db8::1");
  EXPECT_EQ(batch[1].exporter_direction, 1);
  EXPECT_EQ(batch[1].forwarding_status, 0x80);

  // The header's field count now rules: a default-format line is a bad line.
  EXPECT_EQ(parser.parse_line(kAccepted, batch), DecodeStatus::kBadLine);
  parser.reset_format();
  EXPECT_EQ(parser.parse_line(kAccepted, batch), DecodeStatus::kOk);
  EXPECT_EQ(batch.size(), 3u);
}

TEST(VpcFlowLog, CloudWatchHeaderSpelling) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  ASSERT_EQ(parser.parse_line("${srcaddr} ${dstaddr} ${bytes}", batch), DecodeStatus::kOk);
  ASSERT_EQ(parser.parse_line("10.0.0.1 10.0.0.2 77", batch), DecodeStatus::kOk);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].bytes, 77u);
  // No start/end in the format: the record says so and carries the arrival time.
  EXPECT_NE(batch[0].flags & flow::record_flags::kNoFlowTimes, 0);
}

TEST(VpcFlowLog, BadLinesAreCountedNotFatal) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  const std::string_view bad_lines[] = {
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 ACCEPT OK",  // 13
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK "
      "extra",
      "2 123 eni-1 172.31.16.300 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 70000 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 x20 4249 1418530010 1418530070 ACCEPT OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 256 20 4249 1418530010 1418530070 ACCEPT "
      "OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 MAYBE OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT "
      "WHAT",
      "2 123 eni-1 - 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
      "2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 -4249 1418530010 1418530070 ACCEPT OK",
      "\x01\x02\xff binary garbage",
  };
  for (std::string_view line : bad_lines) {
    SCOPED_TRACE(std::string(line));
    EXPECT_EQ(parser.parse_line(line, batch), DecodeStatus::kBadLine);
  }
  // Far beyond what int64 nanoseconds can hold.
  EXPECT_EQ(parser.parse_line("2 123 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
                              "99999999999 99999999999 ACCEPT OK",
                              batch),
            DecodeStatus::kBadTimestamp);
  const auto n = static_cast<uint64_t>(std::size(bad_lines));
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(parser.counts().bad_lines, n + 1);
  EXPECT_EQ(parser.stats().reason(DecodeStatus::kBadLine), n);
  EXPECT_EQ(parser.stats().reason(DecodeStatus::kBadTimestamp), 1u);
  // A good line after all that still parses.
  EXPECT_EQ(parser.parse_line(kAccepted, batch), DecodeStatus::kOk);
  EXPECT_EQ(batch.size(), 1u);
}

TEST(VpcFlowLog, TooManyFieldsIsABadLine) {
  VpcFlowLogParser parser;
  FlowBatch batch;
  std::string line;
  for (size_t i = 0; i < VpcFlowLogParser::kMaxFields + 5; ++i) line += "1 ";
  EXPECT_EQ(parser.parse_line(line, batch), DecodeStatus::kBadLine);
  std::string header;
  for (size_t i = 0; i < VpcFlowLogParser::kMaxFields + 5; ++i) header += "srcaddr ";
  EXPECT_FALSE(VpcFlowLogParser::is_header(header));
  EXPECT_EQ(parser.stats().reason(DecodeStatus::kBadLine), 1u);
}

TEST(VpcFlowLog, Detection) {
  EXPECT_TRUE(VpcFlowLogParser::is_default_record(kAccepted));
  EXPECT_TRUE(VpcFlowLogParser::is_default_record(kNoData));
  EXPECT_FALSE(VpcFlowLogParser::is_default_record("3 123 eni-1"));
  EXPECT_TRUE(VpcFlowLogParser::is_header(
      "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
      "start end action log-status"));
  EXPECT_TRUE(VpcFlowLogParser::is_header("srcaddr dstaddr\r"));
  EXPECT_FALSE(VpcFlowLogParser::is_header("hello world"));  // no documented name
  EXPECT_FALSE(VpcFlowLogParser::is_header(kAccepted));
  EXPECT_FALSE(VpcFlowLogParser::is_header(""));
  EXPECT_EQ(vpc_field_from_name("pkt-dstaddr"), VpcField::kPktDstAddr);
  EXPECT_EQ(vpc_field_from_name("${tcp-flags}"), VpcField::kTcpFlags);
  EXPECT_EQ(vpc_field_from_name("region"), VpcField::kIgnored);
  EXPECT_EQ(vpc_field_from_name("nope"), VpcField::kUnknown);
}

}  // namespace
}  // namespace fathom::decode
