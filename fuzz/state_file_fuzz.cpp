// libFuzzer target: the decoder state file (Decoder::save_state's format) is read back at
// startup from disk, so it is hostile input too. The input is the whole file: it is written to
// a temp file and loaded; when it loads, the templates it brought are exercised by real data
// packets (the probe data sets below), expired, and saved and loaded once more (a file the
// decoder wrote itself must always load back). The same input is also applied as a store
// domain blob, and every domain blob the loaded decoder writes must apply to a fresh one.
//
// Probes: the data packets of the v9/IPFIX "templates + data" seeds, read once at start-up
// from FATHOM_FUZZ_SEEDS_DIR; without them only loading is fuzzed.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "packet_sequence.h"

namespace {

struct Probe {
  std::vector<uint8_t> bytes;
  fathom::flow::SourceProtocol source;
};

std::vector<Probe> load_probes() {
  std::vector<Probe> probes;
  const std::pair<const char*, fathom::flow::SourceProtocol> files[] = {
      {"netflow_v9_fuzz/netflow_v9_templates_data", fathom::flow::SourceProtocol::kNetflowV9},
      {"netflow_v9_fuzz/netflow_v9_sampled100_templates_data",
       fathom::flow::SourceProtocol::kNetflowV9},
      {"ipfix_fuzz/ipfix_templates_data", fathom::flow::SourceProtocol::kIpfix},
      {"ipfix_fuzz/ipfix_biflow_templates_data", fathom::flow::SourceProtocol::kIpfix},
  };
  for (const auto& [name, source] : files) {
    std::ifstream f(std::string(FATHOM_FUZZ_SEEDS_DIR) + "/" + name, std::ios::binary);
    const std::vector<uint8_t> seq((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
    const auto frames = fathom::fuzz::split_frames(seq);
    // Frame 0 holds the templates (which the state file should bring); the rest is data.
    for (size_t frame_idx = 1; frame_idx < frames.size(); ++frame_idx) {
      probes.push_back(
          {{frames[frame_idx].payload.begin(), frames[frame_idx].payload.end()}, source});
    }
  }
  return probes;
}

void decode_probes(fathom::decode::Decoder& decoder, const std::vector<Probe>& probes,
                   fathom::flow::FlowBatch& batch) {
  const auto ctx = fathom::fuzz::context_for(0, fathom::fuzz::kStartNs);
  for (const Probe& probe : probes) {
    fathom::fuzz::decode_copy(decoder, probe.bytes, {}, ctx, batch, probe.source);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Probe> probes = load_probes();
  const std::string path = (fathom::fuzz::temp_dir() / "input.state").string();
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!f) fathom::fuzz::fail("cannot write", path);
  }
  static fathom::flow::FlowBatch batch(256);
  batch.clear();
  const auto exporter = fathom::fuzz::context_for(0, fathom::fuzz::kStartNs).exporter;
  {
    // The same bytes as one domain's blob read from the store (Decoder::apply_domain_state):
    // applied or refused, never a crash, and what was applied decodes the probes.
    fathom::decode::Decoder from_store(fathom::fuzz::fuzz_config());
    const auto* bytes = reinterpret_cast<const std::byte*>(data);
    for (const uint32_t domain : {0u, 1u}) {
      from_store.apply_domain_state(exporter, domain, std::span(bytes, size), 1);
    }
    decode_probes(from_store, probes, batch);
  }
  auto decoder = std::make_unique<fathom::decode::Decoder>(fathom::fuzz::fuzz_config());
  std::string error;
  if (!decoder->load_state(path, error)) return 0;  // refused: the right answer for most inputs

  decode_probes(*decoder, probes, batch);
  {
    // Every domain blob the decoder writes must apply to a fresh decoder.
    std::vector<fathom::decode::DomainState> domains;
    decoder->all_domains(domains);
    fathom::decode::Decoder copy(fathom::fuzz::fuzz_config());
    for (const fathom::decode::DomainState& d : domains) {
      if (copy.apply_domain_state(d.exporter, d.domain, d.blob, d.changed_ns) !=
          fathom::decode::ApplyStatus::kApplied) {
        fathom::fuzz::fail("own domain blob refused", std::to_string(d.domain));
      }
    }
  }
  decoder->expire(fathom::fuzz::kStartNs + 3600'000'000'000);
  fathom::fuzz::state_round_trip(decoder);
  decode_probes(*decoder, probes, batch);
  return 0;
}
