#include "app/record_format.h"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "app/mini_json.h"

namespace fathom::app {
namespace {

using fathom::testing::MiniJson;

flow::FlowRecord known_record() {
  flow::FlowRecord r;
  r.source = flow::SourceProtocol::kIpfix;
  r.exporter = flow::IpAddress::from_v4(0x7f000001);
  r.exporter_port = 40000;
  r.observation_domain = 7;
  r.arrival_ns = 1705320183'000000000;
  r.start_ns = 1705320000'061600000;
  r.end_ns = 1705320001'053000000;
  r.src = flow::IpAddress::from_v4(0x0a0a0571);  // 10.10.5.113
  r.dst = *flow::IpAddress::parse("2001:db8::18");
  r.src_port = 41208;
  r.dst_port = 80;
  r.ip_protocol = 6;
  r.bytes = 14518;
  r.packets = 18;
  r.device_sampling_rate = 100;
  r.sampling_rate = 100.0;
  r.sampling_algorithm = flow::SamplingAlgorithm::kDeterministic;
  r.tcp_flags = 0x1b;
  r.tos = 0x10;
  r.input_if = 3;
  r.output_if = 4;
  r.src_mac = {0x02, 0, 0, 0, 0, 0xab};
  r.flags = flow::record_flags::kBiflowReverse | flow::record_flags::kDecodedLate;
  return r;
}

TEST(RecordFormat, JsonOfKnownRecord) {
  std::string out;
  append_json(known_record(), 12, out);
  const auto obj = MiniJson::parse_object(out);
  ASSERT_TRUE(obj.has_value()) << out;
  const auto& m = *obj;
  EXPECT_EQ(m.at("type"), "flow");
  EXPECT_EQ(m.at("frame"), "12");
  EXPECT_EQ(m.at("source"), "ipfix");
  EXPECT_EQ(m.at("exporter"), "127.0.0.1");
  EXPECT_EQ(m.at("exporter_port"), "40000");
  EXPECT_EQ(m.at("observation_domain"), "7");
  EXPECT_EQ(m.at("start_ns"), "1705320000061600000");
  EXPECT_EQ(m.at("end_ns"), "1705320001053000000");
  EXPECT_EQ(m.at("src"), "10.10.5.113");
  EXPECT_EQ(m.at("dst"), "2001:db8::18");
  EXPECT_EQ(m.at("src_port"), "41208");
  EXPECT_EQ(m.at("dst_port"), "80");
  EXPECT_EQ(m.at("proto"), "6");
  EXPECT_EQ(m.at("bytes"), "14518");
  EXPECT_EQ(m.at("packets"), "18");
  EXPECT_EQ(m.at("device_sampling_rate"), "100");
  EXPECT_EQ(m.at("sampling_rate"), "100");
  EXPECT_EQ(m.at("sampling_algorithm"), "1");
  EXPECT_EQ(m.at("tcp_flags"), "27");
  EXPECT_EQ(m.at("tos"), "16");
  EXPECT_EQ(m.at("input_if"), "3");
  EXPECT_EQ(m.at("next_hop"), "::");
  EXPECT_EQ(m.at("src_mac"), "02:00:00:00:00:ab");
  EXPECT_EQ(m.at("flags"), R"(["biflow_reverse","decoded_late"])");
}

TEST(RecordFormat, JsonFlagsEmptyArray) {
  std::string out;
  append_json(flow::FlowRecord{}, 0, out);
  const auto obj = MiniJson::parse_object(out);
  ASSERT_TRUE(obj.has_value()) << out;
  EXPECT_EQ(obj->at("flags"), "[]");
  EXPECT_EQ(obj->at("source"), "unknown");
}

TEST(RecordFormat, GoflowJsonOfKnownRecord) {
  flow::FlowRecord r = known_record();
  r.src_mask = 20;  // 10.10.5.113/20 -> 10.10.0.0/20
  r.dst_mask = 32;
  r.tenant_id = 4;
  r.sampling_rate = 400.0;  // the device's 100 times Fathom's own 1 in 4
  r.vlan = 12;
  r.direction = flow::Direction::kOutbound;
  r.src_country = {'D', 'E'};
  std::string out;
  append_goflow_json(r, out);
  const auto obj = MiniJson::parse_object(out);
  ASSERT_TRUE(obj.has_value()) << out;
  const auto& m = *obj;
  EXPECT_EQ(m.at("type"), "IPFIX");
  EXPECT_EQ(m.at("time_received_ns"), "1705320183000000000");
  EXPECT_EQ(m.at("sampling_rate"), "100");
  EXPECT_EQ(m.at("sampler_address"), "127.0.0.1");
  EXPECT_EQ(m.at("time_flow_start_ns"), "1705320000061600000");
  EXPECT_EQ(m.at("time_flow_end_ns"), "1705320001053000000");
  EXPECT_EQ(m.at("bytes"), "14518");
  EXPECT_EQ(m.at("packets"), "18");
  EXPECT_EQ(m.at("src_addr"), "10.10.5.113");
  EXPECT_EQ(m.at("dst_addr"), "2001:db8::18");
  EXPECT_EQ(m.at("etype"), "IPv4");
  EXPECT_EQ(m.at("proto"), "TCP");
  EXPECT_EQ(m.at("src_port"), "41208");
  EXPECT_EQ(m.at("in_if"), "3");
  EXPECT_EQ(m.at("out_if"), "4");
  EXPECT_EQ(m.at("src_mac"), "02:00:00:00:00:ab");
  EXPECT_EQ(m.at("vlan_id"), "12");
  EXPECT_EQ(m.at("src_vlan"), "12");
  EXPECT_EQ(m.at("ip_tos"), "16");
  EXPECT_EQ(m.at("tcp_flags"), "27");
  EXPECT_EQ(m.at("next_hop"), "");
  EXPECT_EQ(m.at("src_net"), "10.10.0.0/20");
  EXPECT_EQ(m.at("dst_net"), "2001:db8::/32");  // an IPv6 length of 32: the first 32 bits
  EXPECT_EQ(m.at("observation_domain_id"), "7");
  EXPECT_EQ(m.at("tenant_id"), "4");
  EXPECT_EQ(m.at("effective_sampling_rate"), "400");
  EXPECT_EQ(m.at("direction"), "outbound");
  EXPECT_EQ(m.at("src_country"), "DE");
  EXPECT_EQ(m.at("dst_country"), "");
  EXPECT_EQ(m.at("flags"), R"(["biflow_reverse","decoded_late"])");
  EXPECT_EQ(m.count("sequence_num"), 0u);  // not carried by a FlowRecord: left out
}

TEST(RecordFormat, GoflowJsonRendersUnknownValuesWithoutLosingThem) {
  flow::FlowRecord r;
  r.src = *flow::IpAddress::parse("2001:db8:1::5");
  r.ip_protocol = 47;  // GRE: GoFlow2 has no name for it
  r.device_sampling_rate = 1;
  r.flags = flow::record_flags::kSamplingRateUnknown;
  r.next_hop = flow::IpAddress::from_v4(0x0a000001);
  std::string out;
  append_goflow_json(r, out);
  const auto obj = MiniJson::parse_object(out);
  ASSERT_TRUE(obj.has_value()) << out;
  EXPECT_EQ(obj->at("type"), "FLOWUNKNOWN");
  EXPECT_EQ(obj->at("etype"), "IPv6");
  EXPECT_EQ(obj->at("proto"), "47");
  EXPECT_EQ(obj->at("sampling_rate"), "0");  // not announced: GoFlow2's 0
  EXPECT_EQ(obj->at("src_net"), "::/0");
  EXPECT_EQ(obj->at("next_hop"), "10.0.0.1");
}

TEST(RecordFormat, CsvOfKnownRecordMatchesHeader) {
  std::string header;
  append_csv_header(header);
  ASSERT_EQ(header.back(), '\n');
  std::string row;
  append_csv(known_record(), 12, row);
  EXPECT_EQ(row,
            "12,127.0.0.1,ipfix,7,10.10.5.113,2001:db8::18,41208,80,6,14518,18,1705320000.062,"
            "1705320001.053,0x1b,0x10,100,1,3,4,0,0,,0,0,0,biflow_reverse|decoded_late");
  const auto count = [](const std::string& s) { return std::count(s.begin(), s.end(), ','); };
  EXPECT_EQ(count(header), count(row));
}

TEST(RecordFormat, CsvTimesRoundToMillisecondsLikeTheReferenceCsv) {
  flow::FlowRecord r;
  r.start_ns = 1'999'500'000;  // 1.9995 s rounds up to 2.000
  r.end_ns = 62'000'000;       // 0.062
  std::string row;
  append_csv(r, 0, row);
  EXPECT_NE(row.find(",2.000,0.062,"), std::string::npos) << row;
  EXPECT_NE(row.find(",0x00,0x00,"), std::string::npos) << row;  // tcp_flags, tos
}

TEST(RecordFormat, InterfaceCountersJson) {
  flow::InterfaceCounters c;
  c.exporter = flow::IpAddress::from_v4(0x7f000001);
  c.agent = flow::IpAddress::from_v4(0x0a000001);
  c.if_index = 5;
  c.in_octets = 123456789012ULL;
  std::string out;
  append_json(c, 3, out);
  const auto obj = MiniJson::parse_object(out);
  ASSERT_TRUE(obj.has_value()) << out;
  EXPECT_EQ(obj->at("type"), "if_counters");
  EXPECT_EQ(obj->at("agent"), "10.0.0.1");
  EXPECT_EQ(obj->at("if_index"), "5");
  EXPECT_EQ(obj->at("in_octets"), "123456789012");
}

TEST(MiniJson, RejectsBrokenJson) {
  // The checker the other tests rely on must be able to say no.
  EXPECT_FALSE(MiniJson::parse_object(R"({"a":1,})").has_value());
  EXPECT_FALSE(MiniJson::parse_object(R"({"a":01})").has_value());
  EXPECT_FALSE(MiniJson::parse_object(R"({"a":"x"} extra)").has_value());
  EXPECT_FALSE(MiniJson::parse_object(R"({"a":1,"a":2})").has_value());
  EXPECT_FALSE(MiniJson::parse_object(R"({"a":[1,2})").has_value());
  EXPECT_TRUE(MiniJson::parse_object(R"({"a":[1,{"b":null}],"c":-1.5e3,"d":"\u00e9"})"));
}

}  // namespace
}  // namespace fathom::app
