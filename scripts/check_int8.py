"""Checks a derived int8 model against its fp32 source on the machine that
derived it, before set-up accepts it (run by scripts/quantize.py).

ONNX Runtime runs both on this machine's kernels, on data neither the
calibration nor the evaluation uses: faint thermal-printed receipt lines
and pages rendered here (scripts/make_probe.py's style, other text and
seeds).
  - recogniser: the text both read on 48 lines (greedy CTC), compared as a
    character error rate of int8 against fp32;
  - detector: the text pixels both find on 6 pages (probability > 0.3),
    compared as intersection over union.
Limits (docs/performance.md has the measurements): on AVX-512 VNNI, the
int8 recognisers scripts/quantize.py makes read 1.7-1.9 % of characters
differently from fp32 (spaces aside: the service restores word gaps later)
and the int8 detector keeps 91 % IoU; a model whose int8 sums go wrong
(weights scaled off by up to 15 %, scripts/degrade_model.py) differs by
64 % of characters and 76 % IoU. The limits sit between: 4 % and 85 %.

usage: check_int8.py FP32 INT8 det|rec   (exit status 1 when it disagrees)
"""

import os
import random
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_probe import thermal_block  # noqa: E402

MAX_REC_CER = 0.04
MIN_DET_IOU = 0.85
REC_LINES = 48
DET_PAGES = 6
WORDS = ("NASI LEMAK AYAM GORENG TEH TARIK KOPI O ROTI CANAI MEE GORENG SUBTOTAL SERVICE CHARGE "
         "ROUNDING ADJ TOTAL PAID VISA DEBIT CARD CHANGE DUE RECEIPT NO TABLE PAX CASHIER "
         "SDN BHD JALAN TAMAN PUCHONG SHAH ALAM PETALING JAYA").split()
FONTS = ["DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSans.ttf"]


def check_line(rng):
    kind = rng.random()
    if kind < 0.4:
        return f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))} {rng.uniform(1, 500):.2f}"
    if kind < 0.6:
        return f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-20{rng.randint(15, 25)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def rec_input(rgb):
    height = 48
    width = max(16, round(rgb.shape[1] * height / rgb.shape[0]))
    arr = np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR), np.float32)[:, :, ::-1]
    return (arr / 127.5 - 1.0).transpose(2, 0, 1)[None].astype(np.float32)


def det_input(rgb):
    h, w = rgb.shape[:2]
    scale = min(960 / max(h, w), max(736 / min(h, w), 1.0))
    nh, nw = (max(32, round(v * scale / 32) * 32) for v in (h, w))
    arr = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR), np.float32)[:, :, ::-1] / 255.0
    # As the pipeline (and quantize.py) normalise: ImageNet's numbers on BGR.
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    return ((arr - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)


def greedy_text(logits, chars):
    best = logits[0].argmax(-1)
    classes = ["", *chars, " "]
    out, last = [], 0
    for c in best:
        if c != last and c != 0:
            out.append(classes[c] if c < len(classes) else "")
        last = c
    # Without spaces: the service restores weak word gaps after this step
    # (its space boost), so they differ between the two by design.
    return "".join("".join(out).split())


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        diagonal, row[0] = row[0], i + 1
        for j, cb in enumerate(b):
            diagonal, row[j + 1] = row[j + 1], min(diagonal + (ca != cb), row[j] + 1, row[j + 1] + 1)
    return row[-1]


def rec_disagreement(fp32_path, int8_path):
    """Character error rate of the int8 recogniser's text against fp32's."""
    rng = random.Random(4242)
    fp32, int8 = session(fp32_path), session(int8_path)
    chars = fp32.get_modelmeta().custom_metadata_map["character"].split("\n")
    edits = total = 0
    for _ in range(REC_LINES):
        x = rec_input(thermal_block(rng, [check_line(rng)], rng.choice(FONTS), rng.randint(22, 28)))
        want = greedy_text(fp32.run(None, {"x": x})[0], chars)
        got = greedy_text(int8.run(None, {"x": x})[0], chars)
        edits, total = edits + edit_distance(got, want), total + max(len(want), 1)
    return edits / total


def det_agreement(fp32_path, int8_path):
    """Intersection over union of the text pixels both detectors find."""
    rng = random.Random(4243)
    fp32, int8 = session(fp32_path), session(int8_path)
    inter = union = 0
    for _ in range(DET_PAGES):
        lines = [check_line(rng) for _ in range(rng.randint(6, 12))]
        x = det_input(thermal_block(rng, lines, rng.choice(FONTS), rng.randint(22, 28)))
        a, b = fp32.run(None, {"x": x})[0] > 0.3, int8.run(None, {"x": x})[0] > 0.3
        inter, union = inter + np.logical_and(a, b).sum(), union + np.logical_or(a, b).sum()
    return inter / max(union, 1)


def check(fp32_path, int8_path, kind):
    """Raises SystemExit with the reason when the int8 model disagrees."""
    name = os.path.basename(int8_path)
    if kind == "rec":
        cer = rec_disagreement(fp32_path, int8_path)
        print(f"check: {name} reads {cer:.2%} of characters differently from fp32 (limit {MAX_REC_CER:.0%})")
        ok = cer <= MAX_REC_CER
    else:
        iou = det_agreement(fp32_path, int8_path)
        print(f"check: {name} finds text pixels with {iou:.1%} IoU against fp32 (limit {MIN_DET_IOU:.0%})")
        ok = iou >= MIN_DET_IOU
    if not ok:
        raise SystemExit(
            f"check: the derived {name} disagrees with its fp32 source on this machine's ONNX Runtime kernels; "
            "it would read wrong text. Nothing was installed. The fp32 models still work (--profile accurate); "
            "see docs/performance.md on int8 and CPU classes.")


if __name__ == "__main__":
    check(*sys.argv[1:4])
