#!/usr/bin/env bash
# `make bench`: speed, memory and accuracy on the DEV receipts
# (../shared/eval/sroie-dev), for every inference-hub profile, its Tesseract
# engine, and the fastest CPU peer (faster-paddle, installed into a
# throw-away venv from PyPI), all in one run so the ratios compare like with
# like; then `inference-hub compare` of the two engines.
#   BENCH_PEER=0         skip the peer
#   BENCH_PROFILES="..." profiles to run (default: accurate balanced fast tesseract;
#                        `tesseract` is the engine, not a PP-OCR profile)
#   BENCH_REQUESTS=N     HTTP requests per concurrency level (default: one per image)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${EVAL_DATA:-$root/../shared/eval/sroie-dev}
if [ ! -d "$data" ]; then
  echo "bench: skipped, no DEV set at $data (it lives in ../shared/eval)"
  exit 0
fi
bin="$root/target/release/inference-hub"
loadgen="$root/target/release/examples/loadgen"
out="$root/.bench"
rm -rf "$out"
mkdir -p "$out"
results="$out/results.jsonl"
images=("$data"/*.jpg)
requests=${BENCH_REQUESTS:-${#images[@]}}

# inference-hub's --profile presets; BENCH_PROFILES picks some.
read -r -a profiles <<<"${BENCH_PROFILES:-accurate balanced fast tesseract}"

source "$root/scripts/serve-lib.sh"

echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); ${#images[@]} DEV receipts"

http_bench() { # name flags...
  local name=$1
  shift
  # No result cache: the loops below repeat the same receipts.
  start_server "$out/serve-$name.log" --queue-size 64 --cache-mb 0 "$@"
  local pid=$SERVER_PID addr=$SERVER_ADDR
  local health
  health=$(curl -fs "http://$addr/health")
  for c in 1 2 4 8; do
    "$loadgen" --url "http://$addr/v1/ocr/receipt" --concurrency "$c" --requests "$requests" "${images[@]}" |
      python3 -c "import json,sys; r=json.load(sys.stdin); r['profile']='$name'; r['kind']='http'; print(json.dumps(r))" >>"$results"
  done
  # 16 receipts three ways on the same server: one after another, all at
  # once as single requests, and as one batch.
  local sixteen=("${images[@]:0:16}")
  for way in sequential:1:1 concurrent:16:1 batch:1:16; do
    IFS=: read -r label conc per <<<"$way"
    local route=/v1/ocr/receipt
    [ "$per" = 1 ] || route=/v1/ocr/batch
    "$loadgen" --url "http://$addr$route" --concurrency "$conc" --requests $((16 / per)) --batch "$per" "${sixteen[@]}" |
      python3 -c "import json,sys; r=json.load(sys.stdin); r['profile']='$name'; r['kind']='sixteen'; r['way']='$label'; print(json.dumps(r))" >>"$results"
  done
  python3 - "$pid" "$name" "$health" >>"$results" <<'PY'
import json, sys
pid, name, health = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status") if ":" in l)
kb = lambda k: int(status[k].split()[0]) / 1024
print(json.dumps({"profile": name, "kind": "server", "load_ms": health["load_time_ms"],
                  "rss_idle_mb": health["memory_mb"], "rss_peak_mb": kb("VmHWM"), "rss_end_mb": kb("VmRSS")}))
PY
  kill -TERM "$pid"
  wait "$pid" || true
}

for name in "${profiles[@]}"; do
  case $name in
    tesseract) flags=(--engines tesseract) ;;
    *) flags=(--profile "$name") ;;
  esac
  echo "== inference-hub $name: in-process, HTTP, accuracy"
  "$bin" bench --json "${flags[@]}" "${images[@]}" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r['profile']='$name'; r['kind']='inprocess'; print(json.dumps(r))" >>"$results"
  http_bench "$name" "${flags[@]}"
  EVAL_OUT="$out/preds-$name" bash "$root/scripts/eval.sh" "${flags[@]}" >"$out/eval-$name.txt"
done

if [ "${BENCH_PEER:-1}" != 0 ]; then
  venv="$root/.cache/bench-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import faster_paddle" 2>/dev/null; then
    echo "== installing faster-paddle==1.0.4 into $venv (throw-away)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "faster-paddle==1.0.4"
  fi
  for size in small tiny; do
    echo "== faster-paddle $size"
    "$venv/bin/python" "$root/scripts/peer_bench.py" "$size" "$out/preds-peer-$size" "${images[@]}" >>"$results"
    python3 "$data/../ocr_eval.py" "$data" "$out/preds-peer-$size" >"$out/eval-peer-$size.txt"
  done
fi

# The result cache: 16 receipts read, then the same 16 again (hits), one at a time.
echo "== result cache: 16 receipts twice"
start_server "$out/serve-cache.log"
sixteen=("${images[@]:0:16}")
for pass in first repeat; do
  "$loadgen" --url "http://$SERVER_ADDR/v1/ocr/receipt" --concurrency 1 --requests 16 "${sixteen[@]}" |
    python3 -c "import json,sys; r=json.load(sys.stdin); r['profile']='balanced+cache'; r['kind']='sixteen'; r['way']='$pass'; print(json.dumps(r))" >>"$results"
done
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true

# Jobs beside requests: synchronous latency alone and while jobs run, and the jobs' drain time.
echo "== asynchronous jobs beside single requests"
start_server "$out/serve-jobs.log" --cache-mb 0
python3 "$root/scripts/jobs_bench.py" "$SERVER_ADDR" "$loadgen" "${images[@]:0:16}" | tee "$out/jobs.jsonl"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true

echo "== inference-hub compare --engines paddle,tesseract (balanced)"
"$bin" compare --engines paddle,tesseract "$data" | tee "$out/compare.txt"

python3 "$root/scripts/bench_report.py" "$out"
