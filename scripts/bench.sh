#!/usr/bin/env bash
# Speed and memory on the DEV receipts (../shared/eval/sroie-dev): load time,
# latency mean/p50/p95 at concurrency 1, idle and peak RSS. Extra arguments
# go to `inference-hub bench` (e.g. --rounds 3, --threads 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${EVAL_DATA:-$root/../shared/eval/sroie-dev}
if [ ! -d "$data" ]; then
  echo "bench: skipped, no DEV set at $data (it lives in ../shared/eval)"
  exit 0
fi
echo "machine: $(nproc) cores, $(uname -m)"
"$root/target/release/inference-hub" bench "$@" "$data"/*.jpg
