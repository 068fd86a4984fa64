#include "estimate/record_model.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace fathom::estimate {
namespace {

flow::FlowRecord flow_record(uint64_t packets, uint64_t bytes, uint32_t n, double p = 1.0) {
  flow::FlowRecord r;
  r.packets = packets;
  r.bytes = bytes;
  r.device_sampling_rate = n;
  r.sampling_rate = n / p;
  r.ip_protocol = 17;
  return r;
}

// Binomial(k, q) probabilities, by the recurrence (k is small in these tests).
std::vector<double> binomial_pmf(int k, double q) {
  std::vector<double> pmf(static_cast<size_t>(k) + 1);
  pmf[0] = std::pow(1 - q, k);
  for (int c = 1; c <= k; ++c) pmf[c] = pmf[c - 1] * (k - c + 1) / c * q / (1 - q);
  return pmf;
}

// The variance terms are unbiased: averaged exactly over every outcome of the two sampling
// stages (c ~ Binomial(K, 1/N) sampled packets, then a Bernoulli(p) keep), the estimated
// variance equals the true variance K(N−1)/p + K²(1−p)/p of the packet estimate.
TEST(RecordModel, PacketVarianceIsUnbiasedExactly) {
  struct Case {
    int k;
    uint32_t n;
    double p;
  };
  for (const Case& tc : {Case{37, 10, 0.3}, Case{5, 2, 1.0}, Case{60, 100, 0.2}, Case{1, 7, 0.5}}) {
    const double q = 1.0 / tc.n;
    const std::vector<double> pmf = binomial_pmf(tc.k, q);
    double mean = 0;
    double mean_var_estimate = 0;
    double second_moment = 0;
    for (int c = 1; c <= tc.k; ++c) {
      const RecordTerms t = record_terms(flow_record(c, 100 * c, tc.n, tc.p), {});
      mean += tc.p * pmf[c] * t.packets.weighted;
      second_moment += tc.p * pmf[c] * t.packets.weighted * t.packets.weighted;
      mean_var_estimate += tc.p * pmf[c] * t.packets.variance;
    }
    const double true_var = second_moment - mean * mean;
    EXPECT_NEAR(mean, tc.k, 1e-9 * tc.k) << tc.k;
    EXPECT_NEAR(true_var, tc.k * (tc.n - 1) / tc.p + tc.k * tc.k * (1 - tc.p) / tc.p,
                1e-9 * true_var);
    EXPECT_NEAR(mean_var_estimate, true_var, 1e-9 * true_var) << tc.k << " " << tc.n;
  }
}

// Bytes: a flow of k1 packets of 40 bytes and k2 of 1500. Its sizes sit at the bounds of the
// size-bounds model, which is then exact, so the variance estimate is unbiased too; the
// mean-size model underestimates it.
TEST(RecordModel, ByteVarianceAtTheSizeBoundsIsUnbiased) {
  const int k1 = 9;
  const int k2 = 14;
  const uint32_t n = 4;
  const std::vector<double> pmf1 = binomial_pmf(k1, 1.0 / n);
  const std::vector<double> pmf2 = binomial_pmf(k2, 1.0 / n);
  ModelOptions mean_size;
  mean_size.byte_variance = ByteVarianceModel::kMeanSize;
  for (double p : {1.0, 0.5}) {
    double mean = 0, second = 0, bounds_var = 0, mean_size_var = 0;
    for (int c1 = 0; c1 <= k1; ++c1) {
      for (int c2 = 0; c2 <= k2; ++c2) {
        if (c1 + c2 == 0) continue;
        const double pr = p * pmf1[c1] * pmf2[c2];
        const flow::FlowRecord r = flow_record(c1 + c2, 40 * c1 + 1500 * c2, n, p);
        const RecordTerms t = record_terms(r, {});
        mean += pr * t.bytes.weighted;
        second += pr * t.bytes.weighted * t.bytes.weighted;
        bounds_var += pr * t.bytes.variance;
        mean_size_var += pr * record_terms(r, mean_size).bytes.variance;
      }
    }
    const double truth = 40.0 * k1 + 1500.0 * k2;
    const double true_var = second - mean * mean;
    EXPECT_NEAR(mean, truth, 1e-9 * truth) << p;
    EXPECT_NEAR(bounds_var, true_var, 1e-9 * true_var) << p;
    EXPECT_LT(mean_size_var, true_var) << p;
    // Without secondary sampling all the variance is the packet sizes': mean-size misses
    // a large part of it.
    if (p == 1.0) {
      EXPECT_LT(mean_size_var, 0.8 * true_var);
    }
  }
}

TEST(RecordModel, SizeBoundsByHand) {
  // 4 packets, 2000 bytes (mean 500), bounds [40, 1500]: at most one packet of 1500, one of
  // 420 and two of 40: Σs² <= 2,250,000 + 176,400 + 3,200 = 2,429,600 (the Bhatia–Davis
  // bound (40 + 1500)·2000 − 4·40·1500 = 2,840,000 is looser; mean-size: 4·500² = 1,000,000).
  const flow::FlowRecord r = flow_record(4, 2000, 100);
  const RecordTerms t = record_terms(r, {});
  EXPECT_DOUBLE_EQ(t.bytes.variance, 100.0 * 99.0 * 2'429'600.0);
  // 3 packets, 300 bytes: 220 + 40 + 40, Σs² = 51,600 (below B² = 90,000).
  EXPECT_DOUBLE_EQ(record_terms(flow_record(3, 300, 100), {}).bytes.variance,
                   100.0 * 99.0 * 51'600.0);
  ModelOptions mean_size;
  mean_size.byte_variance = ByteVarianceModel::kMeanSize;
  EXPECT_DOUBLE_EQ(record_terms(r, mean_size).bytes.variance, 100.0 * 99.0 * 1'000'000.0);
  // Jumbo mean (9000 bytes a packet): above the bound, so every packet is the mean.
  EXPECT_DOUBLE_EQ(record_terms(flow_record(2, 18000, 10), {}).bytes.variance,
                   10.0 * 9.0 * 2 * 9000.0 * 9000.0);
  // One packet (or an sFlow sample) is exact: Σs² = B².
  EXPECT_DOUBLE_EQ(record_terms(flow_record(1, 700, 10), {}).bytes.variance, 90.0 * 490000.0);
  EXPECT_DOUBLE_EQ(t.bytes.weighted, 200000.0);
  EXPECT_DOUBLE_EQ(t.packets.weighted, 400.0);
  EXPECT_EQ(t.packets.units, 4u);
  EXPECT_EQ(t.bytes.units, 4u);
}

TEST(RecordModel, WeightsAndBadRates) {
  flow::FlowRecord r = flow_record(2, 100, 100, 0.25);
  r.flags |= flow::record_flags::kSecondarySampled;
  RecordTerms t = record_terms(r, {});
  ASSERT_TRUE(t.valid);
  EXPECT_EQ(t.weight, 400.0);
  EXPECT_EQ(t.device_rate, 100.0);
  EXPECT_EQ(t.keep_probability, 0.25);
  // Kept or dropped as a whole, the record is one unit of weight w·c.
  EXPECT_EQ(t.packets.unit_weight, 800.0);

  // A device rate above the effective one (a stale announcement) is capped: p stays <= 1.
  r = flow_record(1, 100, 1000);
  r.sampling_rate = 10;
  t = record_terms(r, {});
  EXPECT_EQ(t.device_rate, 10.0);
  EXPECT_EQ(t.keep_probability, 1.0);

  // Zero packets is read as one.
  t = record_terms(flow_record(0, 64, 10), {});
  EXPECT_EQ(t.packets.raw, 1.0);
  EXPECT_EQ(t.packets.units, 1u);

  for (double bad : {0.0, 0.5, -3.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    r = flow_record(1, 100, 1);
    r.sampling_rate = bad;
    EXPECT_FALSE(record_terms(r, {}).valid) << bad;
  }
}

TEST(RecordModel, TcpFlowArrivals) {
  flow::FlowRecord r = flow_record(10, 5000, 100);
  r.ip_protocol = 6;
  r.tcp_flags = tcp_flag::kSyn | tcp_flag::kAck;  // a flow record: OR of all its packets
  RecordTerms t = record_terms(r, {});
  EXPECT_TRUE(t.tcp_flow_arrival);
  EXPECT_EQ(t.flows.weighted, 100.0);
  EXPECT_EQ(t.flows.variance, 100.0 * 99.0);
  EXPECT_EQ(t.flows.units, 1u);

  r.tcp_flags = tcp_flag::kAck;
  EXPECT_FALSE(record_terms(r, {}).tcp_flow_arrival);

  // sFlow packet samples carry the packet's own flags: a SYN-ACK is not a new connection.
  r.flags |= flow::record_flags::kPacketSample;
  r.packets = 1;
  r.tcp_flags = tcp_flag::kSyn | tcp_flag::kAck;
  EXPECT_FALSE(record_terms(r, {}).tcp_flow_arrival);
  r.tcp_flags = tcp_flag::kSyn;
  EXPECT_TRUE(record_terms(r, {}).tcp_flow_arrival);

  // Not TCP: no arrivals whatever the flag bits say.
  r.ip_protocol = 17;
  EXPECT_FALSE(record_terms(r, {}).tcp_flow_arrival);

  // Secondary sampling: w(w−1) still (a single unit of weight w = N/p).
  r = flow_record(1, 60, 100, 0.5);
  r.ip_protocol = 6;
  r.tcp_flags = tcp_flag::kSyn;
  EXPECT_EQ(record_terms(r, {}).flows.variance, 200.0 * 199.0);
}

TEST(RecordModel, ServicePort) {
  flow::FlowRecord r;
  r.ip_protocol = 6;
  auto port = [&](uint16_t src, uint16_t dst) {
    r.src_port = src;
    r.dst_port = dst;
    return service_port(r);
  };
  EXPECT_EQ(port(51515, 443), 443);  // request
  EXPECT_EQ(port(443, 51515), 443);  // response
  EXPECT_EQ(port(123, 123), 123);
  EXPECT_EQ(port(53, 853), 853);       // both well-known: the destination
  EXPECT_EQ(port(40000, 8080), 8080);  // neither: the lower
  EXPECT_EQ(port(5432, 60001), 5432);
  r.ip_protocol = 17;
  EXPECT_EQ(port(33000, 53), 53);
  r.ip_protocol = 132;  // SCTP
  EXPECT_EQ(port(2905, 40000), 2905);
  r.ip_protocol = 1;  // ICMP: no ports
  EXPECT_EQ(port(0, 771), 0);
  r.ip_protocol = 50;  // ESP
  EXPECT_EQ(port(1, 2), 0);
}

}  // namespace
}  // namespace fathom::estimate
