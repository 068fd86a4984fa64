#include "alert/sink.h"

#include "alert/json_lines_sink.h"
#include "alert/kafka_sink.h"
#include "alert/syslog_sink.h"
#include "alert/webhook_sink.h"

namespace fathom::alert {

std::unique_ptr<Sink> make_sink(const SinkConfig& config, std::string& error) {
  switch (config.kind) {
    case SinkKind::kWebhook: return WebhookSink::create(config, error);
    case SinkKind::kSyslog: return std::make_unique<SyslogSink>(config);
    case SinkKind::kJsonLines: return std::make_unique<JsonLinesSink>(config.path);
    case SinkKind::kKafka: return KafkaSink::create(config, error);
  }
  error = "alert sink '" + config.name + "': unknown kind";
  return nullptr;
}

}  // namespace fathom::alert
