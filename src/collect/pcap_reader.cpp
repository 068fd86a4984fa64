// PLACEHOLDER until the pcap reader lands: open() always fails, so the tree links.
#include "collect/pcap_reader.h"

namespace fathom::collect {

std::unique_ptr<PcapReader> PcapReader::open(const std::string& path, std::string& error) {
  error = path + ": pcap reading is not built yet";
  return nullptr;
}

}  // namespace fathom::collect
