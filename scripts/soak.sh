#!/usr/bin/env bash
# `make soak`: memory must stay flat, and nothing may fail, under a long run
# of varied images, good and bad. Boots the release server on loopback,
# warms it up (the largest images at full concurrency first, then a mix),
# then sends SOAK_REQUESTS (default 2000) OCR requests at concurrency
# SOAK_CONCURRENCY (default 8), and prints status counts and RSS after every
# chunk. Fails (exit 1) when RSS grows by SOAK_MAX_GROWTH_PCT
# (default 10) % or more over the warm-up level, or on any answer other than
# 200 for an image and 4xx for a bad file (a 5xx, a timeout, a dropped
# connection). A long run: SOAK_REQUESTS=10000 SOAK_CONCURRENCY=16 make soak.
#
# The images are synthetic receipts rendered by scripts/quantize.py's
# generator at 12 sizes, plus the DEV receipts when ../shared is present;
# the bad files are a truncated JPEG, a text file and a PNG bomb header.
# Extra arguments go to `inference-hub serve` (e.g. --profile fast).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release/inference-hub"
loadgen="$root/target/release/examples/loadgen"
python="$root/.cache/quantize-venv/bin/python"
out="$root/.soak"
requests=${SOAK_REQUESTS:-2000}
concurrency=${SOAK_CONCURRENCY:-8}
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

# Bad files, answered 400/413/415 without reaching a model.
whole = open(f"{sys.argv[2]}/synthetic-00.jpg", "rb").read()
open(f"{sys.argv[2]}/bad-truncated.jpg", "wb").write(whole[: len(whole) // 2])
open(f"{sys.argv[2]}/bad-notes.jpg", "wb").write(b"TOTAL 12.50\nnot an image\n" * 50)
import struct, zlib
ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
open(f"{sys.argv[2]}/bad-bomb.png", "wb").write(bomb)
PY
images=("$out"/images/*.jpg)
dev=${EVAL_DATA:-$root/../shared/eval/sroie-dev}
[ -d "$dev" ] && images+=("$dev"/*.jpg)
echo "soak: ${#images[@]} images, $warmup warm-up + $requests requests at concurrency $concurrency"

source "$root/scripts/serve-lib.sh"
trap 'kill -TERM $SERVER_PID 2>/dev/null || true' EXIT
start_server "$out/serve.log" "$@"
pid=$SERVER_PID addr=$SERVER_ADDR

rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"; }
send() { # N: requests; prints the status counts
  "$loadgen" --url "http://$addr/v1/ocr/receipt" --concurrency "$concurrency" --requests "$1" "${images[@]}" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(round(r["rps"], 2), json.dumps(r["statuses"], separators=(",", ":")))'
}

echo "start: RSS $(rss) MB"
# Warm-up: first the three largest receipts at full concurrency, so ONNX
# Runtime's arena reaches the size the worst case needs (it grows by powers
# of two and keeps what it grew); then the usual mix.
largest=("$out"/images/synthetic-{09,10,11}.jpg)
"$loadgen" --url "http://$addr/v1/ocr/receipt" --concurrency "$concurrency" --requests $((4 * concurrency)) \
  "${largest[@]}" >/dev/null
send "$warmup" >/dev/null
base=$(rss)
echo "after warm-up: RSS $base MB"
done_requests=0
bad=0
while [ "$done_requests" -lt "$requests" ]; do
  n=$((requests - done_requests < chunk ? requests - done_requests : chunk))
  read -r rps statuses < <(send "$n")
  done_requests=$((done_requests + n))
  python3 -c "import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if set(s) <= {'200','400','413','415'} else 1)" \
    "$statuses" || bad=1
  echo "requests $done_requests: RSS $(rss) MB, $rps req/s, statuses $statuses"
done
end=$(rss)
growth=$(python3 -c "print(round(100 * ($end - $base) / $base, 1))")
echo "soak: RSS $base -> $end MB after $requests requests: ${growth} % (limit $max_growth %)"
python3 -c "import sys; sys.exit(0 if $growth < $max_growth else 1)" || { echo "soak: FAILED, memory grew"; exit 1; }
[ "$bad" = 0 ] || { echo "soak: FAILED, some requests got a 5xx, timed out or were dropped"; exit 1; }
echo "soak: ok"
