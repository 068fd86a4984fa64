// fathom-mock-kafka: librdkafka's mock cluster (in-process brokers on loopback TCP listeners) as a
// process of its own, so that `fathom collect` and `fathom analyze` processes can share it
// (bench/cluster/run). Prints the bootstrap servers on the first line of stdout once the topic
// exists, then serves until SIGINT or SIGTERM.
//
//   fathom-mock-kafka --brokers 3 --topic fathom.flows --partitions 6
//
// The mock cluster keeps messages in memory and does no replication over a network: it is a
// stand-in for measuring Fathom's side of the bus, not a Kafka benchmark.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int usage() {
  std::fprintf(stderr, "usage: fathom-mock-kafka [--brokers N] [--topic NAME] [--partitions N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  int partitions = 6;
  std::string topic = "fathom.flows";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    if (arg == "--brokers") {
      brokers = std::atoi(argv[++i]);
    } else if (arg == "--partitions") {
      partitions = std::atoi(argv[++i]);
    } else if (arg == "--topic") {
      topic = argv[++i];
    } else {
      return usage();
    }
  }
  if (brokers < 1 || brokers > 16 || partitions < 1 || partitions > 1024) return usage();

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // the brokers' threads inherit the mask

  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "fathom-mock-kafka: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    std::fprintf(stderr, "fathom-mock-kafka: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  if (rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, brokers) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "fathom-mock-kafka: cannot create topic %s\n", topic.c_str());
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 1;
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
