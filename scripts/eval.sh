#!/usr/bin/env bash
# DEV accuracy: OCR every receipt of ../shared/eval/sroie-dev with the release
# binary, one response JSON per image, then score with the shared scorer.
# Extra arguments go to `inference-hub ocr` (e.g. --alphabet latin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${EVAL_DATA:-$root/../shared/eval/sroie-dev}
scorer=${EVAL_SCORER:-$root/../shared/eval/ocr_eval.py}
if [ ! -d "$data" ] || [ ! -f "$scorer" ]; then
  echo "eval: skipped, no DEV set at $data (it lives in ../shared/eval)"
  exit 0
fi
preds=${EVAL_OUT:-$root/.eval/preds}
rm -rf "$preds"
mkdir -p "$preds"
# --fields: the answers carry the receipt fields, which the scorer also scores.
"$root/target/release/inference-hub" ocr --fields --out-dir "$preds" "$@" "$data"/*.jpg >/dev/null
python3 "$scorer" "$data" "$preds" --json "$preds/../report.json"
