#!/usr/bin/env python3
"""Rule detection on fathom-gen's demo scenario at several sampling rates (docs/accuracy.md).

For each rate: the demo scenario with every exporter's sampling_rate replaced (or as shipped,
for 'demo'), fathom-gen writes a pcap and the ground truth, `fathom run --replay` writes the
incident stream, and each attack is matched to incidents of the expected type, tenant and a
subject among the attack's parties. Prints recall per class, false incidents and latency
(attack start to the first incident's detection, in data time).

Usage: bench/accuracy/demo_rates.py BUILD_DIR [RATE ...]   (RATE: demo, or 1-in-N)
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def expected(attack_type):
    if "amplification" in attack_type:
        return "amplification"
    if "brute_force" in attack_type:
        return "brute_force"
    if attack_type == "c2_beacon":
        return "beaconing"
    return attack_type


def ns(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp() * 1e9)


def run(build, rate, work):
    scenario = open(os.path.join(SRC, "examples/scenarios/demo.yaml")).read()
    scenario = scenario.replace("intel_file: intel.txt",
                                "intel_file: " + os.path.join(SRC, "examples/scenarios/intel.txt"))
    if rate != "demo":
        scenario = re.sub(r"sampling_rate: \d+", "sampling_rate: %s" % rate, scenario)
    open(os.path.join(work, "scenario.yaml"), "w").write(scenario)
    intel = os.path.join(SRC, "examples/intel/")
    config = f"""data_dir: {work}
transform:
  enrichment:
    intel_lists:
      - {{name: plain, path: {intel}example-plain.txt, category: c2, severity: 70}}
      - {{name: firehol, path: {intel}example-blocklist.netset, category: attacker, severity: 40}}
      - {{name: drop, path: {intel}example-drop.txt, format: spamhaus, category: hijacked, severity: 90}}
tenants:
  - {{id: 1, name: acme, exporters: [127.0.0.11, 127.0.0.12], internal_networks: [10.1.0.0/16, 2001:db8:1::/48]}}
  - {{id: 2, name: globex, exporters: [127.0.0.21], internal_networks: [10.2.0.0/16]}}
  - {{id: 3, name: initech, exporters: [127.0.0.31], internal_networks: [10.3.0.0/16, 2001:db8:3::/48]}}
"""
    open(os.path.join(work, "fathom.yaml"), "w").write(config)
    pcap, truth, incidents = (os.path.join(work, n) for n in ("d.pcap", "a.csv", "i.jsonl"))
    for path in (incidents,):
        if os.path.exists(path):
            os.remove(path)
    subprocess.run([os.path.join(build, "tools/gen/fathom-gen"), "--quiet", "--config",
                    os.path.join(work, "scenario.yaml"), "--pcap", pcap, "--ground-truth", truth],
                   check=True)
    subprocess.run([os.path.join(build, "src/fathom"), "run", "--config",
                    os.path.join(work, "fathom.yaml"), "--replay", pcap, "--incidents", incidents,
                    "--metrics-listen", "off", "--api-listen", "off"], check=True, stderr=subprocess.DEVNULL)
    attacks = list(csv.DictReader(open(truth)))
    opened = [json.loads(line) for line in open(incidents)]
    opened = [e for e in opened if e["event"] == "open"]
    matched = set()
    rows = []
    for a in attacks:
        parties = set(a["attackers"].split()) | set(a["victims"].split())
        hits = [i for i, e in enumerate(opened)
                if e["tenant_id"] == int(a["tenant"]) and e["detection"] == expected(a["type"])
                and e["subject"] in parties]
        matched.update(hits)
        latency = min((opened[i]["detected_ns"] - ns(a["start"])) / 1e9 for i in hits) if hits else None
        rows.append((a["attack_id"], a["type"], a["slow"] == "1", len(hits), latency))
    false = [opened[i] for i in range(len(opened)) if i not in matched]
    return rows, false


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build/release")
    rates = sys.argv[2:] or ["1", "demo", "100", "1000"]
    for rate in rates:
        with tempfile.TemporaryDirectory() as work:
            rows, false = run(build, rate, work)
        print(f"## sampling {'as in demo.yaml' if rate == 'demo' else '1:' + rate}")
        print("| attack | type | incidents | latency s |")
        print("|---|---|---|---|")
        for attack_id, attack_type, slow, hits, latency in rows:
            lat = "-" if latency is None else f"{latency:.0f}"
            print(f"| {attack_id} | {attack_type}{' (slow)' if slow else ''} | {hits} | {lat} |")
        fast = [r for r in rows if not r[2]]
        print(f"recall (not slow) {sum(1 for r in fast if r[3] > 0)}/{len(fast)}, "
              f"false incidents {len(false)}"
              + "".join(f"\n  false: {e['tenant_id']} {e['detection']} {e['subject']}: {e['summary']}"
                        for e in false))
        print()


if __name__ == "__main__":
    main()
