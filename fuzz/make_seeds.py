#!/usr/bin/env python3
"""Regenerates the fuzz seed corpora in fuzz/seeds/<target>/ from the reference captures.

Usage: fuzz/make_seeds.py [--captures DIR] [--out DIR] [--state-tool BINARY]

Python 3 standard library only; parses classic pcap (and the link types Fathom's own reader
handles: Ethernet with 802.1Q tags, raw IP, Linux SLL, BSD loopback) itself, so it needs no
build. Seeds are small on purpose (a handful of real datagrams per target, ~200 KB in all):
libFuzzer mutates them, it does not need the whole capture.

Input formats (they must match the fuzz targets):
  netflow_v5_fuzz, sflow_fuzz   one UDP payload per file, as captured.
  netflow_v9_fuzz, ipfix_fuzz   a sequence of frames, each `u16 length (big endian), u8 control,
                                payload[length]`, decoded in order by one Decoder; the control
                                byte is described in fuzz/packet_sequence.h.
  pcap_reader_fuzz              small capture files: the first frames of the captures rewritten
                                to each link type the reader handles (Ethernet, 802.1Q, raw IP,
                                SLL, SLL2, BSD loopback), IPv6, an IP fragment, and pcapng.
  vpc_flow_log_fuzz             VPC flow log text: default format, custom headers (S3 and
                                CloudWatch spellings), NODATA/SKIPDATA lines.
  wire_format_fuzz              Kafka bus messages (docs/wire-format.md), built here: v1
                                batches of 0..3 records and interface counters.
  state_file_fuzz               state files written by Decoder::save_state after decoding the
                                v9/IPFIX seeds; only the decoder can write them, so this needs
                                --state-tool build/fuzz/fuzz/fuzz_make_state_seeds (built by the
                                fuzz preset); without it the state seeds are left as they are.
"""

import argparse
import hashlib
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Control byte bits of a sequence frame (fuzz/packet_sequence.h).
CTL_EXPIRE = 0x04  # call Decoder::expire() after the packet
CTL_STATE_ROUND_TRIP = 0x08  # save_state, load_state into a fresh Decoder, continue with it


def read_pcap_udp_payloads(path):
    """Yields the UDP payloads of a classic pcap file, in frame order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: too short for a pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a classic pcap file (pcapng is not supported here)")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, incl_len, _ = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        frame = data[off : off + incl_len]
        off += incl_len
        payload = udp_payload(frame, linktype)
        if payload is not None:
            yield payload


def udp_payload(frame, linktype):
    """Returns the UDP payload of one link-layer frame, or None when it is not UDP."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        ethertype = struct.unpack(">H", frame[12:14])[0]
        off = 14
        while ethertype in (0x8100, 0x88A8) and off + 4 <= len(frame):
            ethertype = struct.unpack(">H", frame[off + 2 : off + 4])[0]
            off += 4
        return ip_udp_payload(frame[off:], ethertype)
    if linktype in (101, 12, 14):  # raw IP
        if not frame:
            return None
        return ip_udp_payload(frame, 0x0800 if frame[0] >> 4 == 4 else 0x86DD)
    if linktype == 113:  # Linux cooked capture v1
        if len(frame) < 16:
            return None
        return ip_udp_payload(frame[16:], struct.unpack(">H", frame[14:16])[0])
    if linktype == 0:  # BSD loopback: 4-byte host-order address family
        if len(frame) < 4:
            return None
        return ip_udp_payload(frame[4:], 0x0800 if frame[4] >> 4 == 4 else 0x86DD)
    return None


def ip_udp_payload(packet, ethertype):
    if ethertype == 0x0800 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        frag = struct.unpack(">H", packet[6:8])[0]
        if packet[9] != 17 or frag & 0x3FFF or len(packet) < ihl + 8:
            return None
        udp = packet[ihl:]
    elif ethertype == 0x86DD and len(packet) >= 48:
        if packet[6] != 17:  # extension headers are not expected in the captures
            return None
        udp = packet[40:]
    else:
        return None
    udp_len = struct.unpack(">H", udp[4:6])[0]
    if udp_len < 8:
        return None
    return bytes(udp[8:udp_len])


def read_pcap_frames(path, limit):
    """The first `limit` link-layer frames of a classic pcap file, and its link type."""
    with open(path, "rb") as f:
        data = f.read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    frames, off = [], 24
    while off + 16 <= len(data) and len(frames) < limit:
        incl_len = struct.unpack(endian + "I", data[off + 8 : off + 12])[0]
        frames.append(data[off + 16 : off + 16 + incl_len])
        off += 16 + incl_len
    return linktype, frames


def write_pcap(linktype, frames, ts=1705320000):
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
    for idx, frame in enumerate(frames):
        out += struct.pack("<IIII", ts, idx, len(frame), len(frame)) + frame
    return bytes(out)


def write_pcapng(linktype, frames, ts_us=1705320000 * 1000000):
    def block(block_type, body):
        body += b"\0" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for idx, frame in enumerate(frames):
        t = ts_us + idx
        out += block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame))
                     + frame)
    return out


def ipv4_to_ipv6_udp(ip):
    """Rewrites an IPv4/UDP packet as IPv6/UDP (::1 to ::1) with the same UDP payload."""
    ihl = (ip[0] & 0x0F) * 4
    udp = ip[ihl:]
    addr = b"\0" * 15 + b"\1"
    return struct.pack(">IHBB", 0x60000000, len(udp), 17, 64) + addr + addr + udp


def pcap_variants(eth_frames):
    """(name, file bytes) of the same frames over every link type the reader handles."""
    ip = [f[14:] for f in eth_frames]
    vlan = [f[:12] + b"\x81\x00\x00\x64" + f[12:] for f in eth_frames]
    sll = [struct.pack(">HHH8sH", 0, 772, 6, b"\0" * 8, 0x0800) + p for p in ip]
    sll2 = [struct.pack(">HHIHBB8s", 0x0800, 0, 1, 772, 0, 6, b"\0" * 8) + p for p in ip]
    loop = [struct.pack("<I", 2) + p for p in ip]
    ip6 = [f[:12] + b"\x86\xdd" + ipv4_to_ipv6_udp(f[14:]) for f in eth_frames]
    frag = bytearray(eth_frames[0])
    frag[14 + 6] |= 0x20  # IPv4 "more fragments": the reader must skip it
    return [
        ("ethernet.pcap", write_pcap(1, eth_frames)),
        ("vlan.pcap", write_pcap(1, vlan)),
        ("raw_ip.pcap", write_pcap(101, ip)),
        ("sll.pcap", write_pcap(113, sll)),
        ("sll2.pcap", write_pcap(276, sll2)),
        ("loopback.pcap", write_pcap(0, loop)),
        ("ipv6.pcap", write_pcap(1, ip6)),
        ("fragment.pcap", write_pcap(1, [bytes(frag)] + eth_frames[1:])),
        ("ethernet.pcapng", write_pcapng(1, eth_frames)),
    ]


# VPC flow log lines (AWS VPC User Guide, "Flow log records"; addresses from documentation
# ranges). Text, so the fuzzer's seeds stay readable.
VPC_SEEDS = {
    "default_v2.log": [
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        "1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
        "1418530010 1418530070 REJECT OK",
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
    ],
    "custom_v5.log": [
        "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr "
        "srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action "
        "tcp-flags log-status region az-id sublocation-type sublocation-id pkt-src-aws-service "
        "pkt-dst-aws-service flow-direction traffic-path",
        "5 vpc-0a1b subnet-aa i-01 eni-01 123456789012 IPv4 10.0.1.5 10.0.0.220 39812 80 "
        "203.0.113.9 10.0.0.220 6 1200 4 1616729292 1616729349 ACCEPT 19 OK us-east-1 use1-az1 "
        "- - - S3 ingress 1",
        "5 vpc-0a1b subnet-aa - eni-01 123456789012 IPv6 2001:db8::1 2001:db8::2 443 51000 - - 6 "
        "99 1 1616729292 1616729349 REJECT 2 OK us-east-1 use1-az1 - - - - egress -",
    ],
    "cloudwatch.log": [
        "${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${bytes} ${packets} ${start} "
        "${end} ${action} ${log-status}",
        "10.0.0.1\t10.0.0.2\t443\t50000\t6\t77\t1\t1616729292\t1616729349\tACCEPT\tOK\r",
        "",
        "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 ACCEPT OK",
    ],
}


def sequence(frames):
    """Encodes [(payload, control)] in the length-prefixed format of the v9/IPFIX fuzzers."""
    out = bytearray()
    for payload, control in frames:
        out += struct.pack(">HB", len(payload), control) + payload
    return bytes(out)


def sflow_sample_kinds(payload):
    """Set of sFlow v5 sample types (enterprise 0) in one datagram, for picking varied seeds."""
    kinds = set()
    if len(payload) < 28:
        return kinds
    addr_type = struct.unpack(">I", payload[4:8])[0]
    off = 8 + (16 if addr_type == 2 else 4) + 12
    if off + 4 > len(payload):
        return kinds
    count = struct.unpack(">I", payload[off : off + 4])[0]
    off += 4
    for _ in range(min(count, 64)):
        if off + 8 > len(payload):
            break
        fmt, length = struct.unpack(">II", payload[off : off + 8])
        kinds.add(fmt)
        off += 8 + length
    return frozenset(kinds)


def wire_batch(tenant, records, counters):
    """A v1 bus message (docs/wire-format.md) of `records` and `counters` simple entries."""
    out = b"FTHB" + struct.pack("<HHHHHHIIIIq", 1, 0, 40, 192, 144, 0, tenant, records,
                                counters, 0, 1705320000 * 10**9)
    for i in range(records):
        t = 1705320000 * 10**9 + i
        rec = struct.pack("<qqqQQd", t, t - 10**9, t, 1500 * (i + 1), i + 1, 100.0)
        rec += bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])  # exporter 192.0.2.1
        rec += bytes(10) + b"\xff\xff" + bytes([10, 0, 0, i + 1])  # src
        rec += bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 7])  # dst
        rec += bytes(16)  # next hop absent
        rec += struct.pack("<IIIIIIII", 0, 100, tenant, 1, 2, 64512, 15169, 0)
        rec += struct.pack("<HHHHHHHHH", 0, 0, 2055, 40000 + i, 443, 0x12, 0, 0, 0)
        rec += bytes([6, 0, 0, 0, 24, 24, 0, 0x40, 0, 3, 1, i % 5, 0, 0])
        rec += bytes(12) + b"DEUS"
        assert len(rec) == 192
        out += rec
    for i in range(counters):
        c = struct.pack("<q", 1705320000 * 10**9) + bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])
        c += bytes(16) + struct.pack("<IIIII", 0, i, 1, i + 1, 6) + struct.pack("<QII", 10**10, 1, 3)
        c += struct.pack("<QIIIIII", 10**9, 1, 2, 3, 4, 5, 6) + struct.pack("<QIIIII", 10**9, 1, 2, 3, 4, 5)
        c += struct.pack("<II", 0, tenant)
        assert len(c) == 144
        out += c
    return out


def write(out_dir, target, name, data, written):
    d = os.path.join(out_dir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written.append((target, name, len(data)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", default=os.path.join(HERE, "..", "..", "shared", "captures"))
    ap.add_argument("--out", default=os.path.join(HERE, "seeds"))
    ap.add_argument("--state-tool", help="fuzz_make_state_seeds binary (writes state seeds)")
    args = ap.parse_args()

    def payloads(name, limit=None):
        result = []
        for p in read_pcap_udp_payloads(os.path.join(args.captures, name + ".pcap")):
            result.append(p)
            if limit is not None and len(result) >= limit:
                break
        return result

    written = []

    # Kafka bus messages: no capture needed, the layout is Fathom's own.
    for name, (records, counters) in {"empty": (0, 0), "records_3": (3, 0),
                                      "counters_2": (0, 2), "mixed": (2, 1)}.items():
        write(args.out, "wire_format_fuzz", name, wire_batch(7, records, counters), written)

    # NetFlow v5: the first datagrams (full, 30 records) and the last one (a partial count).
    for cap in ("netflow_v5", "netflow_v5_sampled100"):
        pkts = payloads(cap)
        for idx in (0, 1):
            write(args.out, "netflow_v5_fuzz", f"{cap}_{idx + 1}", pkts[idx], written)
        write(args.out, "netflow_v5_fuzz", f"{cap}_last", pkts[-1], written)

    # sFlow: datagrams with different mixes of sample types (flow, counter, expanded).
    for cap, limit in (("sflow", 4), ("sflow_sampled100", 2)):
        seen = {}
        for idx, p in enumerate(payloads(cap, 2000)):
            kinds = sflow_sample_kinds(p)
            if kinds not in seen:
                seen[kinds] = (idx, p)
        for kinds, (idx, p) in sorted(seen.items(), key=lambda kv: kv[1][0])[:limit]:
            write(args.out, "sflow_fuzz", f"{cap}_{idx + 1}", p, written)

    # NetFlow v9 / IPFIX: sequences. softflowd puts templates and the options record (sampling
    # interval) in datagram 1 and again every 16 datagrams.
    seq_caps = {
        "netflow_v9_fuzz": ("netflow_v9", "netflow_v9_sampled100"),
        "ipfix_fuzz": ("ipfix", "ipfix_sampled100", "ipfix_biflow"),
    }
    for target, caps in seq_caps.items():
        for cap in caps:
            p = payloads(cap, 4)
            write(args.out, target, f"{cap}_templates", sequence([(p[0], 0)]), written)
            write(args.out, target, f"{cap}_templates_data",
                  sequence([(p[0], 0), (p[1], 0)]), written)
        p = payloads(caps[0], 4)
        # Data before its template (a collector starting mid-stream): parked, then decoded.
        write(args.out, target, f"{caps[0]}_data_first",
              sequence([(p[1], 0), (p[0], 0), (p[2], 0)]), written)
        # Templates, a state file round trip, data decoded from the reloaded templates, expiry.
        write(args.out, target, f"{caps[0]}_state_round_trip",
              sequence([(p[0], CTL_STATE_ROUND_TRIP), (p[1], 0xF0 | CTL_EXPIRE)]), written)
        # Two exporters (control bits 0-1) sharing nothing.
        write(args.out, target, f"{caps[0]}_two_exporters",
              sequence([(p[0], 0), (p[1], 1), (p[2], 0)]), written)

    # pcap reader: two frames of each export protocol, over every link type.
    for cap in ("netflow_v9", "sflow"):
        linktype, frames = read_pcap_frames(os.path.join(args.captures, cap + ".pcap"), 2)
        if linktype != 1:
            raise ValueError(f"{cap}.pcap: expected Ethernet captures")
        for name, data in pcap_variants(frames):
            write(args.out, "pcap_reader_fuzz", f"{cap}_{name}", data, written)

    for name, lines in VPC_SEEDS.items():
        write(args.out, "vpc_flow_log_fuzz", name, ("\n".join(lines) + "\n").encode(), written)

    if args.state_tool:
        state_dir = os.path.join(args.out, "state_file_fuzz")
        sources = [os.path.join(args.out, target, name) for target, name, _ in written
                   if target in seq_caps and name.endswith("_templates_data")]
        made = subprocess.run([args.state_tool, state_dir] + sources, check=True,
                              capture_output=True, text=True).stdout.split()
        for path in made:
            written.append(("state_file_fuzz", os.path.basename(path), os.path.getsize(path)))

    total = sum(size for _, _, size in written)
    for target, name, size in written:
        digest = hashlib.sha1(open(os.path.join(args.out, target, name), "rb").read()).hexdigest()
        print(f"{target}/{name}\t{size}\t{digest[:10]}")
    print(f"{len(written)} seeds, {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
