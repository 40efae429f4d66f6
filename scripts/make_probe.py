"""Renders the start-up probe: a small thermal-printed receipt whose text is
known (crates/ocr/probe/receipt.jpg and receipt.txt, committed).

inference-hub reads it with the int8 models once they load and compares the
result with receipt.txt (crates/ocr/src/probe.rs): an int8 kernel that
answers wrong text on this CPU shows there before any request does.

The page imitates a photographed thermal receipt (faint, broken strokes,
ink bleeding through from the back, a blue-grey tint, blur, noise, 463 px
wide, JPEG): the int8 failure it guards against (16-bit sums that saturate
in ONNX Runtime's AVX2 kernels) garbles such text, while crisp rendered
text reads correctly even on broken kernels. Fixed seeds make it
reproducible.

usage: make_probe.py OUT_DIR   (run with the quantisation venv's python)
"""

import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
WIDTH = 463
LINES = [
    "KEDAI RUNCIT MAJU JAYA SDN BHD",
    "(CO.REG : 860671-D)",
    "LOT 1851-A & 1851-B, JALAN KPB 6,",
    "43300 SERI KEMBANGAN, SELANGOR",
    "TEL: 03-89412277 FAX: 03-89412278",
    "INVOICE NO: CS00412857",
    "DATE: 14/03/2018 10:42",
    "MINERAL WATER 1.5L 2 X 1.80",
    "ROTI GARDENIA WHOLEMEAL 3.95",
    "TOTAL INCL GST RM 7.55",
    "CASH RM 10.00 CHANGE RM 2.45",
    "THANK YOU PLEASE COME AGAIN",
]


def thermal_block(rng, lines, font_file, size):
    """Lines centred at twice the final size, then faded, holed, bled
    through, blurred and scaled down to a receipt's width."""
    width, pitch = WIDTH * 2, int(size * 1.3)
    img = Image.new("L", (width, len(lines) * pitch + 20), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(os.path.join(FONT_DIR, font_file), size)
    for i, line in enumerate(lines):
        draw.text(((width - draw.textlength(line, font=font)) / 2, 10 + i * pitch), line, fill=0, font=font)
    paper = np.asarray(img, np.float32) / 255
    holes = np.random.default_rng(rng.randint(0, 1 << 30)).random(paper.shape) < 0.25
    paper = 1 - (1 - np.where(holes, np.maximum(paper, 0.7), paper)) * 0.55
    back = np.asarray(ImageOps.mirror(img).filter(ImageFilter.GaussianBlur(3)), np.float32) / 255
    paper *= 1 - 0.2 * (1 - back)
    img = Image.fromarray((paper * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    img = img.resize((WIDTH, img.height * WIDTH // width), Image.BILINEAR)
    rgb = np.stack([np.asarray(img, np.float32) * c for c in (0.92, 0.95, 1.0)], -1) + [10, 8, 5]
    rgb += np.random.default_rng(rng.randint(0, 1 << 30)).normal(0, 4, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main(out_dir):
    rng = random.Random(5)
    half = len(LINES) // 2
    page = np.concatenate([thermal_block(rng, LINES[:half], "DejaVuSansMono.ttf", 26),
                           thermal_block(rng, LINES[half:], "DejaVuSansMono-Bold.ttf", 24)])
    os.makedirs(out_dir, exist_ok=True)
    Image.fromarray(page).save(os.path.join(out_dir, "receipt.jpg"), quality=80)
    with open(os.path.join(out_dir, "receipt.txt"), "w") as f:
        f.write("\n".join(LINES) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
