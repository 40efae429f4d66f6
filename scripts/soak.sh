#!/usr/bin/env bash
# `make soak`: memory must stay flat under a long run of varied image sizes.
# Boots the release server on loopback, warms it up, then sends
# SOAK_REQUESTS (default 2000) OCR requests at concurrency SOAK_CONCURRENCY
# (default 4), cycling through receipts of many sizes, and prints RSS after
# every chunk. Fails (exit 1) when RSS grows by SOAK_MAX_GROWTH_PCT (default
# 10) % or more over the warm-up level, or when any request is not a 200.
#
# The images are synthetic receipts rendered by scripts/quantize.py's
# generator at 12 sizes, plus the DEV receipts when ../shared is present.
# Extra arguments go to `inference-hub serve` (e.g. --profile fast).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/inference-hub"
loadgen="$root/target/release/examples/loadgen"
python="$root/.cache/quantize-venv/bin/python"
out="$root/.soak"
requests=${SOAK_REQUESTS:-2000}
concurrency=${SOAK_CONCURRENCY:-4}
warmup=${SOAK_WARMUP:-200}
chunk=${SOAK_CHUNK:-200}
max_growth=${SOAK_MAX_GROWTH_PCT:-10}

rm -rf "$out"
mkdir -p "$out/images"
"$python" - "$root/scripts" "$out/images" <<'PY'
import random, sys
sys.path.insert(0, sys.argv[1])
from PIL import Image
import quantize

rng = random.Random(7)
for i in range(12):
    page = Image.fromarray(quantize.receipt_page(rng))
    scale = 0.5 + i * 0.15  # 0.5x .. 2.15x: detector inputs of many shapes
    page = page.resize((max(64, int(page.width * scale)), max(64, int(page.height * scale))))
    page.save(f"{sys.argv[2]}/synthetic-{i:02}.jpg", quality=90)
PY
images=("$out"/images/*.jpg)
dev=${EVAL_DATA:-$root/../shared/eval/sroie-dev}
[ -d "$dev" ] && images+=("$dev"/*.jpg)
echo "soak: ${#images[@]} images, $warmup warm-up + $requests requests at concurrency $concurrency"

log="$out/serve.log"
"$bin" serve --host 127.0.0.1 --port 0 --memory-log-secs 0 "$@" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(grep -o 'listening on [0-9.:]*' "$log" | awk '{print $3}' || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
for _ in $(seq 600); do
  curl -fs "http://$addr/ready" >/dev/null && break
  sleep 0.1
done

rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
send() { # N: requests; prints the status counts
  "$loadgen" --url "http://$addr/v1/ocr/receipt" --concurrency "$concurrency" --requests "$1" "${images[@]}" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["rps"], 2), json.dumps(r["statuses"], separators=(",", ":")))'
}

echo "idle RSS $(rss) MB"
send "$warmup" >/dev/null
base=$(rss)
echo "after warm-up: RSS $base MB"
done_requests=0
bad=0
while [ "$done_requests" -lt "$requests" ]; do
  n=$((requests - done_requests < chunk ? requests - done_requests : chunk))
  read -r rps statuses < <(send "$n")
  done_requests=$((done_requests + n))
  [ "$statuses" = "{\"200\":$n}" ] || bad=1
  echo "requests $done_requests: RSS $(rss) MB, $rps req/s, statuses $statuses"
done
end=$(rss)
growth=$(python3 -c "print(round(100 * ($end - $base) / $base, 1))")
echo "soak: RSS $base -> $end MB after $requests requests: ${growth} % (limit $max_growth %)"
python3 -c "import sys; sys.exit(0 if $growth < $max_growth else 1)" || { echo "soak: FAILED, memory grew"; exit 1; }
[ "$bad" = 0 ] || { echo "soak: FAILED, some requests were not 200"; exit 1; }
echo "soak: ok"
