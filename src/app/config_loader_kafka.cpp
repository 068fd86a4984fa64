// The `kafka` section of fathom.yaml (docs/configuration.md "kafka", docs/scaling.md).
#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "app/detail/config_reader.h"

namespace fathom::app::detail {
namespace {

constexpr std::array<std::string_view, 5> kCompressions = {"none", "gzip", "snappy", "lz4", "zstd"};

/// Properties the named keys (or the roles themselves) own: setting them through
/// `kafka.properties` would silently undo a guarantee (idempotence, explicit commits).
constexpr std::array<std::string_view, 6> kReservedProperties = {
    "enable.idempotence", "enable.auto.commit", "enable.auto.offset.store",
    "partitioner",        "group.id",           "bootstrap.servers"};

}  // namespace

void Loader::load_kafka(const YAML::Node& node, Config::Kafka& out) {
  const std::string path = "kafka";
  if (!check_map(node, path, path)) return;
  read_string(node, path, "brokers", false, out.brokers);
  read_string(node, path, "topic", false, out.topic);
  if (read_string(node, path, "flows_json_topic", true, out.flows_json_topic) &&
      out.flows_json_topic == out.topic) {
    // The analyzers would read the JSON messages as corrupt batches.
    error(node["flows_json_topic"].Mark(), "kafka.flows_json_topic",
          "must differ from kafka.topic ('" + out.topic + "')");
    out.flows_json_topic.clear();
  }
  read_string(node, path, "client_id", false, out.client_id);
  std::string compression;
  if (read_string(node, path, "compression", false, compression)) {
    if (std::find(kCompressions.begin(), kCompressions.end(), compression) == kCompressions.end()) {
      error(node["compression"].Mark(), "kafka.compression",
            "'" + compression + "' is not one of none, gzip, snappy, lz4, zstd");
    } else {
      out.compression = compression;
    }
  }
  read_uint_into(node, path, "linger_ms", 0, 60'000, out.linger_ms);
  read_uint_into(node, path, "buffer_max_messages", 1, 10'000'000, out.buffer_max_messages);
  uint64_t mb = 0;
  // librdkafka's queue.buffering.max.kbytes is an int of KiB.
  if (read_uint(node, path, "buffer_max_mb", 1, 2'097'151, mb)) {
    out.buffer_max_kbytes = static_cast<int>(mb * 1024);
  }
  read_uint_into(node, path, "message_timeout_ms", 1'000, 3'600'000, out.message_timeout_ms);
  read_string(node, path, "group_id", false, out.group_id);
  read_uint_into(node, path, "session_timeout_ms", 1'000, 3'600'000, out.session_timeout_ms);
  read_uint_into(node, path, "commit_interval_ms", 10, 600'000, out.commit_interval_ms);
  read_uint_into(node, path, "idle_partition_seconds", 0, 86'400, out.idle_partition_seconds);
  if (const YAML::Node props = child(node, "properties", path)) {
    const std::string p = "kafka.properties";
    if (!props.IsMap()) {
      error(props.Mark(), p, "expected a mapping of librdkafka property: value");
    } else {
      for (const auto& pair : props) {
        std::string name;
        std::string value;
        if (!scalar(pair.first, p, name) || !scalar(pair.second, join_key(p, name), value)) {
          continue;
        }
        if (std::find(kReservedProperties.begin(), kReservedProperties.end(), name) !=
            kReservedProperties.end()) {
          error(pair.first.Mark(), join_key(p, name),
                "is set by Fathom (use the kafka keys; idempotence and explicit commits are "
                "not optional)");
          continue;
        }
        out.properties[name] = value;
      }
    }
  }
}

}  // namespace fathom::app::detail
