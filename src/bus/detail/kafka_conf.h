#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

namespace fathom::bus::detail {

/// Owns an rd_kafka_conf_t until `release` (rd_kafka_new takes it on success).
class KafkaConf {
 public:
  KafkaConf() : conf_(rd_kafka_conf_new()) {}
  ~KafkaConf() {
    if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
  }
  KafkaConf(const KafkaConf&) = delete;
  KafkaConf& operator=(const KafkaConf&) = delete;

  /// Sets one librdkafka property; false with `error` = "kafka property 'name'='value': why"
  /// (librdkafka's own message) for an unknown name or an invalid value.
  bool set(const std::string& name, const std::string& value, std::string& error) {
    char errstr[512];
    if (rd_kafka_conf_set(conf_, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
        RD_KAFKA_CONF_OK)
      return true;
    error = "kafka property '" + name + "'='" + value + "': " + errstr;
    return false;
  }
  rd_kafka_conf_t* get() const noexcept { return conf_; }
  void release() noexcept { conf_ = nullptr; }

 private:
  rd_kafka_conf_t* conf_;
};

}  // namespace fathom::bus::detail
