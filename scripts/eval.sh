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

# What an accounting system books from the same answers: the date as
# YYYY-MM-DD and the total as a decimal, right, null or wrong.
echo
echo "booked values (date_iso, total_amount) against the labels read as a date and an amount:"
"$root/target/release/examples/score_fields" --data "$data" --ocr "$preds" | grep -E '^  (date_iso|total_amount) |^    of them'

# Fields with a merchant directory (`--merchants`): the company and address
# labels of the TRAIN receipts as the directory, the way an ERP's vendor
# list would be given; DEV's receipts are not in it. EVAL_MERCHANTS=0 skips it.
train=${EVAL_TRAIN:-$root/../shared/eval/sroie-train}
if [ "${EVAL_MERCHANTS:-1}" != 0 ] && [ -d "$train" ]; then
  directory=$preds/../merchants-train.jsonl
  python3 - "$train" "$directory" <<'PY'
import glob, json, sys
train, out = sys.argv[1:]
with open(out, "w", encoding="utf-8") as f:
    for path in sorted(glob.glob(f"{train}/*.key.json")):
        key = json.load(open(path, encoding="utf-8"))
        f.write(json.dumps({"company": key["company"], "address": key.get("address", "")}) + "\n")
PY
  rm -rf "$preds/../merchants-preds"
  mkdir -p "$preds/../merchants-preds"
  "$root/target/release/inference-hub" ocr --fields --merchants "$directory" \
    --out-dir "$preds/../merchants-preds" "$@" "$data"/*.jpg >/dev/null
  echo
  echo "fields with a merchant directory of TRAIN's $(wc -l <"$directory") labelled receipts (--merchants):"
  python3 "$scorer" "$data" "$preds/../merchants-preds" | sed -n '/^key fields/,$p'
fi

# Rotated DEV: the same receipts turned 90°, 180° and 270° clockwise (lossless,
# PNG), their ground-truth boxes turned with them, read with page orientation
# (HUB_ORIENTATION=page unless the arguments say otherwise). Words are scored
# without positions, so word F1 compares directly with upright DEV.
# EVAL_ROTATED=0 skips it.
[ "${EVAL_ROTATED:-1}" = 0 ] && exit 0
python=$root/.cache/quantize-venv/bin/python # Pillow, from `make setup`
rotated=$preds/../rotated
rm -rf "$rotated" "$preds/../rotated-preds"
mkdir -p "$rotated" "$preds/../rotated-preds"
"$python" - "$data" "$rotated" <<'PY'
import glob, json, os, shutil, sys
from PIL import Image
data, out = sys.argv[1:]
for jpg in sorted(glob.glob(os.path.join(data, "*.jpg"))):
    image_id = os.path.basename(jpg)[:-4]
    image = Image.open(jpg)
    w, h = image.size
    for deg, op in ((90, Image.Transpose.ROTATE_270), (180, Image.Transpose.ROTATE_180), (270, Image.Transpose.ROTATE_90)):
        name = f"{image_id}_r{deg}"
        image.transpose(op).save(os.path.join(out, name + ".png"))
        turn = {90: lambda x, y: (h - y, x), 180: lambda x, y: (w - x, h - y), 270: lambda x, y: (y, w - x)}[deg]
        rows = []
        with open(os.path.join(data, image_id + ".boxes.txt"), encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(",", 8)
                if len(parts) < 9:
                    continue
                xy = [float(v) for v in parts[:8]]
                pts = [turn(xy[i], xy[i + 1]) for i in range(0, 8, 2)]
                rows.append(",".join(f"{v:g}" for p in pts for v in p) + "," + parts[8])
        with open(os.path.join(out, name + ".boxes.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")
        shutil.copy(os.path.join(data, image_id + ".key.json"), os.path.join(out, name + ".key.json"))
PY
HUB_ORIENTATION=${HUB_ORIENTATION:-page} "$root/target/release/inference-hub" ocr --fields \
  --out-dir "$preds/../rotated-preds" "$@" "$rotated"/*.png >/dev/null
echo
echo "rotated DEV (each receipt turned 90°, 180° and 270°; HUB_ORIENTATION=${HUB_ORIENTATION:-page}):"
python3 "$scorer" "$rotated" "$preds/../rotated-preds" --json "$preds/../report-rotated.json" | sed -n '/^metric/,$p'
python3 - "$preds/../report-rotated.json" <<'PY'
import json, sys
per_image = json.load(open(sys.argv[1]))["per_image"]
for deg in (90, 180, 270):
    runs = [r["words_ci"] for k, r in per_image.items() if k.endswith(f"_r{deg}")]
    tp, n_pred, n_gt = (sum(r[k] for r in runs) for k in ("tp", "n_pred", "n_gt"))
    f1 = 2 * tp / (n_pred + n_gt) if n_pred + n_gt else 0.0
    print(f"  turned {deg:>3}°: words, case-insensitive F1 {f1:.4f} ({len(runs)} receipts)")
PY
