// Placeholder translation unit: the collect library gains its pcap and UDP sources next.
namespace fathom::collect {}
