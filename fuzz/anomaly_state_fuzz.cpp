// libFuzzer target: the autoencoder's model file (load_model) and a tenant's anomaly state
// (AnomalyDetector::import_tenant) come back from the store, so they are hostile input too.
// Both end in an FNV-1a checksum a fuzzer would almost never match, so the input is the file
// *without* it: byte 0 picks the format (even: model, odd: tenant state), the rest is the body
// and the checksum is appended here, so mutations reach the parser behind it. Whatever loads
// must score, and save back to bytes that load again and re-save identically.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "detect/anomaly_detector.h"
#include "detect/autoencoder.h"

namespace {

using namespace fathom::detect;

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::byte> with_checksum(const uint8_t* data, size_t size) {
  detail::ByteWriter w;
  w.bytes(std::span(reinterpret_cast<const std::byte*>(data), size));
  w.checksum();
  return std::move(w.data());
}

AnomalyDetector& detector() {
  static const std::unique_ptr<AnomalyDetector> det = [] {
    std::string error;
    AnomalyConfig config;
    config.history_capacity = 64;
    config.learning_min_samples = 16;
    return AnomalyDetector::create(config, make_model(AutoencoderShape{}, 1), error);
  }();
  return *det;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<std::byte> bytes = with_checksum(data + 1, size - 1);
  std::string error;
  fathom::analyze::FeatureVector v{};
  for (size_t f = 0; f < v.size(); ++f) v[f] = static_cast<float>(f * 10);
  if (data[0] % 2 == 0) {
    Model model;
    if (!load_model(bytes, model, error)) {
      check(!error.empty());
      return 0;
    }
    Autoencoder::Matrix x(model.net.inputs(), 1), e, g;
    x.setConstant(0.5f);
    Autoencoder::Workspace ws;
    model.net.squared_errors(x, e, ws);
    group_losses(model, e, g);
    const auto saved = save_model(model);
    Model again;
    check(load_model(saved, again, error));
    check(save_model(again) == saved);
    return 0;
  }
  AnomalyDetector& det = detector();
  if (!det.import_tenant(1, bytes, error)) {
    check(!error.empty());
    return 0;
  }
  fathom::detect::HostSample s;
  s.features = v;
  det.score(1, std::span(&s, 1));
  const auto saved = det.export_tenant(1);
  check(det.import_tenant(2, saved, error));
  check(det.export_tenant(2) == saved);
  det.forget_tenant(1);
  det.forget_tenant(2);
  return 0;
}
