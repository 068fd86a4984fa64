// Writes seeds for state_file_fuzz: decodes packet-sequence files (packet_sequence.h format,
// as fuzz/make_seeds.py writes them) with a Decoder and saves its state next to them.
// Usage: fuzz_make_state_seeds OUT_DIR SEQUENCE_FILE...   (run by make_seeds.py --state-tool)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "packet_sequence.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR SEQUENCE_FILE...\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out_dir = argv[1];
  std::filesystem::create_directories(out_dir);
  for (int arg_idx = 2; arg_idx < argc; ++arg_idx) {
    std::ifstream f(argv[arg_idx], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "cannot read %s\n", argv[arg_idx]);
      return 1;
    }
    const std::vector<uint8_t> seq((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
    fathom::decode::Decoder decoder(fathom::fuzz::fuzz_config());
    fathom::flow::FlowBatch batch;
    int64_t now = fathom::fuzz::kStartNs;
    for (const auto& frame : fathom::fuzz::split_frames(seq)) {
      now += (frame.control >> fathom::fuzz::kCtlClockShift) * fathom::fuzz::kClockStepNs;
      const std::vector<std::byte> packet(
          reinterpret_cast<const std::byte*>(frame.payload.data()),
          reinterpret_cast<const std::byte*>(frame.payload.data()) + frame.payload.size());
      decoder.decode(packet,
                     fathom::fuzz::context_for(frame.control & fathom::fuzz::kCtlExporterMask, now),
                     batch);
      batch.clear();
    }
    const auto out =
        out_dir / (std::filesystem::path(argv[arg_idx]).filename().string() + ".state");
    std::string error;
    if (!decoder.save_state(out.string(), error)) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    std::printf("%s\n", out.c_str());
  }
  return 0;
}
