"""Prints the `make bench` table from .bench/results.jsonl and the eval outputs."""

import json
import re
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]


def accuracy(name: str) -> str:
    path = out / f"eval-{name}.txt"
    if not path.exists():
        return "n/a"
    text = path.read_text()
    grab = lambda pattern: re.search(pattern, text, re.M)  # noqa: E731
    word = grab(r"^words, case-insensitive\s+\S+\s+\S+\s+(\S+)")
    cer = grab(r"^CER, case-insensitive\s+(\S+)")
    det = grab(r"^detection, IoU>=0.5\s+\S+\s+\S+\s+(\S+)")
    return f"word F1 {word[1] if word else '?'}  CER {cer[1] if cer else '?'}  det F1 {det[1] if det else '?'}"


# Every figure names its CPU: ONNX Runtime's int8 kernels, and so speed and
# even accuracy, differ between CPU classes.
cpus = {(r["cpu"], r["isa"]) for r in rows if r.get("kind") == "inprocess"}
for cpu, isa in sorted(cpus):
    print(f"\nCPU: {cpu}, int8 kernels: {isa}")
for r in rows:
    if r.get("kind") == "inprocess" and r.get("precision_fallback"):
        print(f"NOTE: {r['profile']} ran on fp32: {r['precision_fallback']}")

print(f"\n{'engine':<28}{'mean ms':>9}{'p50':>8}{'p95':>8}{'img/s':>7}{'load ms':>9}{'peak MB':>9}   accuracy (DEV, case-insensitive)")
sequential = {}
for r in rows:
    if r.get("kind") == "inprocess":
        name, label = r["profile"], f"inference-hub {r['profile']}"
    elif "peer" in r:
        name, label = "peer-" + r["peer"].split()[-1], r["peer"]
    else:
        continue
    sequential[label] = r
    print(f"{label:<28}{r['mean_ms']:>9.1f}{r['p50_ms']:>8.1f}{r['p95_ms']:>8.1f}{r['images_per_s']:>7.2f}"
          f"{r['load_ms']:>9.0f}{r['rss_peak_mb']:>9.1f}   {accuracy(name)}")

print(f"\n{'HTTP (inference-hub)':<28}{'conc':>5}{'req/s':>8}{'mean ms':>9}{'p95 ms':>9}   statuses")
for r in rows:
    if r.get("kind") == "http":
        print(f"{r['profile']:<28}{r['concurrency']:>5}{r['rps']:>8.2f}{r['mean_ms']:>9.1f}{r['p95_ms']:>9.1f}   {r['statuses']}")
for r in rows:
    if r.get("kind") == "sixteen":
        print(f"{r['profile']:<28} 16 receipts {r['way']:<10} wall {r['wall_ms']:>8.0f} ms   statuses {r['statuses']}")
for r in rows:
    if r.get("kind") == "server":
        print(f"server {r['profile']}: load {r['load_ms']} ms, idle RSS {r['rss_idle_mb']:.1f} MB, "
              f"peak RSS {r['rss_peak_mb']:.1f} MB, RSS after load test {r['rss_end_mb']:.1f} MB")

# Latency against both peers; HTTP throughput against small's sequential one.
for peer_label, with_throughput in (("faster-paddle small", True), ("faster-paddle tiny", False)):
    peer = sequential.get(peer_label)
    if not peer:
        continue
    print(f"\nratios against {peer_label} (same run):")
    for label, r in sequential.items():
        if label.startswith("inference-hub"):
            print(f"  {label}: latency {r['mean_ms'] / peer['mean_ms']:.2f}x of the peer's")
    for r in rows:
        if with_throughput and r.get("kind") == "http" and r["concurrency"] in (4, 8):
            print(f"  {r['profile']} HTTP c={r['concurrency']}: {r['rps'] / peer['images_per_s']:.2f}x the peer's sequential throughput")
