"""Makes the derived PP-OCR models from the published fp32 ones, at set-up time:
int8 versions of the detector and recogniser, and a Latin-script recogniser.

Static post-training quantisation (QDQ, per-channel int8 weights, uint8
activations) with ONNX Runtime's quantiser. The calibration data is
synthetic: receipt-like pages and text lines rendered here with the DejaVu
fonts, preprocessed exactly as the Rust pipeline does (detector: ImageNet
mean/std on BGR, sides rounded to 32; recogniser: height 48, x/127.5 - 1).
No evaluation image is used, so the DEV scores stay honest. A fixed seed
keeps the calibration set identical on every run.

The recogniser keeps its attention MatMuls and its neck in float (both lose
accuracy in int8 for little speed); the detector is quantised whole. The
Latin recogniser (the fast profile's) also has its squeeze-and-excitation
blocks in int8. The multilingual recogniser's CTC head (120 -> 18,710
classes, a large share of its work) gets dynamic int8 quantisation on top:
less CPU and a smaller file for next to no accuracy. What each of these
choices measured is in docs/performance.md.

The Latin recogniser keeps only the output classes of Latin script (the
classes `--alphabet latin` admits, 329 of 18,710): its last layer and the
per-line output shrink 57-fold. Greedy decoding picks the same characters
(the best admitted logit wins either way); only confidences are
renormalised.

In the int8 models each dequantise -> GELU (or HardSigmoid) -> quantise
chain becomes one `inference_hub.ByteLookup` node, a 256-entry table that
ONNX Runtime computes here on the chain itself: the outputs this machine's
ONNX Runtime gives, in one pass over bytes instead of three over floats
(docs/performance.md). That operator is registered by
inference-hub (crates/ocr/src/lookup.rs), so these models run there and
not in plain ONNX Runtime.

usage: quantize.py SRC_DIR DST_DIR
  writes DST_DIR/ppocrv6_det.int8.onnx, ppocrv6_rec.int8.onnx,
  ppocrv6_rec.latin.onnx and ppocrv6_rec.latin.int8.onnx
"""

import os
import random
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, version_converter
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import check_int8

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = ["DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf"]
WORDS = (
    "TOTAL SUBTOTAL GST TAX CASH CHANGE ROUNDING QTY PRICE AMOUNT INVOICE RECEIPT DATE TIME "
    "TEL FAX NO SDN BHD ENTERPRISE TRADING STORE MART JALAN TAMAN KUALA LUMPUR SELANGOR "
    "THANK YOU PLEASE COME AGAIN CASHIER ITEM DISCOUNT VISA MASTER CARD BALANCE "
    "Mineral Water Bread Milk Sugar Rice Chicken Coffee Tea Noodle Paper Pen Battery"
).split()
DET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
DET_STD = np.array([0.229, 0.224, 0.225], np.float32)
REC_HEIGHT = 48
# Calibration set size. The percentile calibrator keeps every activation of
# every line in memory, so more lines cost memory without gaining accuracy
# (docs/performance.md, "What was tried").
DET_PAGES = 12
REC_LINES = 64
# Recogniser calibration lines are padded with paper to one width: the
# percentile calibrator needs equal shapes.
REC_CALIBRATION_WIDTH = 640


def text_line(rng):
    kind = rng.random()
    if kind < 0.3:
        return f"{rng.choice(WORDS)} {rng.choice(WORDS)}".ljust(rng.randint(16, 26)) + f"{rng.uniform(0.5, 300):.2f}"
    if kind < 0.45:
        return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/20{rng.randint(10, 26)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if kind < 0.6:
        return f"TEL: 0{rng.randint(3, 9)}-{rng.randint(1000000, 9999999)}  NO.{rng.randint(1, 999)}"
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))


def font(rng, size):
    return ImageFont.truetype(os.path.join(FONT_DIR, rng.choice(FONTS)), size)


def scan_effects(rng, img):
    """Paper tone, blur and sensor noise, as on a scanned receipt."""
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.0)))
    arr = np.asarray(img, np.float32)
    arr = arr * rng.uniform(0.75, 1.0) + rng.uniform(0, 40)
    arr += np.random.default_rng(rng.randint(0, 2**31)).normal(0, rng.uniform(0, 8), arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def receipt_page(rng):
    width = rng.choice([480, 640, 800])
    size = rng.randint(14, 26)
    lines = [text_line(rng) for _ in range(rng.randint(15, 45))]
    height = int(len(lines) * size * 1.5) + 80
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    f = font(rng, size)
    y = 40
    for line in lines:
        draw.text((rng.randint(10, 60), y), line, fill=(rng.randint(0, 60),) * 3, font=f)
        y += int(size * 1.5)
    return scan_effects(rng, img.rotate(rng.uniform(-2, 2), expand=True, fillcolor=(255, 255, 255)))


def det_tensor(rgb):
    """The detector's input: short side >= 736, long side <= 1280, sides multiples of 32."""
    h, w = rgb.shape[:2]
    scale = max(736 / min(h, w), 1.0)
    scale = min(scale, 1280 / max(h * scale, w * scale) * scale)
    nh, nw = (max(32, round(v * scale / 32) * 32) for v in (h, w))
    resized = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR), np.float32) / 255.0
    bgr = resized[:, :, ::-1]
    return ((bgr - DET_MEAN) / DET_STD).transpose(2, 0, 1)[None].astype(np.float32)


def rec_tensor(rng):
    """One text line cropped with a margin and scaled to height 48, as the pipeline's crops are."""
    line = text_line(rng)
    f = font(rng, 32)
    left, top, right, bottom = f.getbbox(line)
    margin = int(0.15 * (bottom - top))
    img = Image.new("RGB", (right + 2 * margin, bottom + 2 * margin), (255, 255, 255))
    ImageDraw.Draw(img).text((margin, margin), line, fill=(rng.randint(0, 60),) * 3, font=f)
    img = Image.fromarray(scan_effects(rng, img))
    width = max(16, round(img.width * REC_HEIGHT / img.height))
    arr = np.asarray(img.resize((width, REC_HEIGHT), Image.BILINEAR), np.float32)[:, :, ::-1]
    line = (arr / 127.5 - 1.0).transpose(2, 0, 1)[None]
    padded = np.ones((1, 3, REC_HEIGHT, REC_CALIBRATION_WIDTH), np.float32)
    width = min(width, REC_CALIBRATION_WIDTH)
    padded[:, :, :, :width] = line[:, :, :, :width]
    return padded


class Reader(CalibrationDataReader):
    def __init__(self, tensors):
        self.tensors = iter(tensors)

    def get_next(self):
        tensor = next(self.tensors, None)
        return None if tensor is None else {"x": tensor}


def quantize(src, dst, tensors, *, fuse_gelu_first=False, pool_squeeze_excite=False, keep_float=None, **options):
    """Static QDQ int8 of `src` into `dst`, calibrated on `tensors`.

    `fuse_gelu_first` fuses the GELUs (`fuse_gelu`) and `pool_squeeze_excite`
    rewrites the squeezes (`squeeze_excite_pools`) before quantising;
    `keep_float`, given the prepared model, names the nodes to leave in
    float. Other keyword arguments go to `quantize_static`."""
    with tempfile.TemporaryDirectory() as tmp:
        upgraded = os.path.join(tmp, "opset17.onnx")
        prepared = os.path.join(tmp, "prepared.onnx")
        # Per-channel DequantizeLinear needs opset >= 13; the PaddlePaddle exports are opset 11.
        onnx.save(version_converter.convert_version(onnx.load(src), 17), upgraded)
        if fuse_gelu_first:
            fuse_gelu(upgraded)
        if pool_squeeze_excite:
            squeeze_excite_pools(upgraded)
        quant_pre_process(upgraded, prepared, skip_symbolic_shape=True)
        if keep_float is not None:
            options["nodes_to_exclude"] = keep_float(onnx.load(prepared))
        quantize_static(
            prepared,
            dst + ".part",
            Reader(tensors),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            **options,
        )
    os.replace(dst + ".part", dst)


def latin(ch):
    """The classes crates/ocr/src/ctc.rs `Alphabet::Latin` admits: the test
    crates/ocr/tests/latin_alphabet.rs checks the Latin model this makes
    against that Rust definition."""
    return all(
        " " <= c <= "~" or "\u00a0" <= c <= "\u017f" or c in "€₹₩₱₫–—‘’“”•"
        for c in ch
    )


def prune_to_latin(src, dst):
    """Keeps the blank, the Latin characters and the trailing space class."""
    model = onnx.load(src)
    meta = {p.key: p for p in model.metadata_props}
    chars = meta["character"].value.split("\n")
    kept = [i + 1 for i, ch in enumerate(chars) if latin(ch)]
    columns = np.array([0] + kept + [len(chars) + 1])
    inits = {t.name: t for t in model.graph.initializer}
    head = ctc_head(model, len(chars) + 2)
    bias_add = next(n for n in model.graph.node if n.op_type == "Add" and head.output[0] in n.input)
    for name in (head.input[1], next(i for i in bias_add.input if i in inits)):
        array = numpy_helper.to_array(inits[name])
        inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array[..., columns]), name))
    meta["character"].value = "\n".join(chars[i - 1] for i in kept)
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[-1].dim_value = len(columns)
    onnx.save(model, dst)


def ctc_head(model, classes):
    """The MatMul from the sequence features to the class logits."""
    inits = {t.name: t for t in model.graph.initializer}
    return next(n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits
                and inits[n.input[1]].dims[-1] == classes)


def quantize_head(path):
    """Dynamic int8 for the CTC head: ONNX Runtime fuses it with its bias."""
    model = onnx.load(path)
    chars = next(p.value for p in model.metadata_props if p.key == "character").split("\n")
    head = ctc_head(model, len(chars) + 2)
    quantize_dynamic(path, path + ".part", nodes_to_quantize=[head.name], weight_type=QuantType.QInt8,
                     reduce_range=True)
    os.replace(path + ".part", path)


def fuse_gelu(path):
    """Replaces each erf GELU (x/sqrt2 -> Erf -> +1 -> *x -> *0.5) with ONNX
    Runtime's Gelu kernel, which its optimiser does not fuse by itself after
    quantisation: the same outputs bit for bit, in less recogniser time
    (docs/performance.md)."""
    model = onnx.load(path)
    producer, consumers = links(model.graph)
    replaced, fused = set(), {}
    for erf in [n for n in model.graph.node if n.op_type == "Erf"]:
        div = producer[erf.input[0]]
        add = consumers[erf.output[0]][0]
        mul = consumers[add.output[0]][0]
        half = consumers[mul.output[0]][0]
        assert [n.op_type for n in (div, add, mul, half)] == ["Div", "Add", "Mul", "Mul"], erf.name
        replaced |= {id(n) for n in (div, erf, add, mul, half)}
        fused[id(div)] = helper.make_node("Gelu", [div.input[0]], [half.output[0]], domain="com.microsoft",
                                          name=erf.name + "/gelu")
    splice(model, replaced, fused, "com.microsoft", path)


def links(graph):
    """Each tensor's producing node, and the nodes that read it."""
    producer = {o: n for n in graph.node for o in n.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return producer, consumers


def splice(model, replaced, new, domain, path):
    """Drops the nodes whose ids are in `replaced`, puts each node of `new`
    where the node whose id keys it stood, declares the new nodes' `domain`
    and saves the model to `path` (atomically: a failed run leaves none)."""
    graph = model.graph
    nodes = [new.get(id(n), n) for n in graph.node if id(n) in new or id(n) not in replaced]
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(o.domain == domain for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(domain, 1))
    onnx.save(model, path + ".part")
    os.replace(path + ".part", path)


# Float ops that map each value on its own: between a DequantizeLinear and a
# QuantizeLinear, such an op is a function of one byte, so a 256-entry table
# gives exactly what the three kernels compute.
ELEMENTWISE = {"Gelu", "HardSigmoid"}
LOOKUP_DOMAIN = "inference_hub"


def fuse_lookups(path):
    """Replaces each uint8 DequantizeLinear -> elementwise op -> QuantizeLinear
    chain with one `inference_hub.ByteLookup` node (crates/ocr/src/lookup.rs):
    one pass over bytes instead of three over floats. The tables are
    computed by ONNX Runtime itself on the original chain, so outputs do not
    change on this machine. Only inference-hub, which registers the
    operator, can run the result."""
    model = onnx.load(path)
    graph = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer, consumers = links(graph)
    outputs = {o.name for o in graph.output}
    opsets = [helper.make_opsetid(o.domain, o.version) for o in model.opset_import]
    replaced, lookups = set(), {}
    for op in [n for n in graph.node if n.op_type in ELEMENTWISE]:
        dq, after = producer.get(op.input[0]), consumers.get(op.output[0], [])
        if dq is None or dq.op_type != "DequantizeLinear" or len(after) != 1 or after[0].op_type != "QuantizeLinear":
            continue
        q = after[0]
        # Only what the table can stand for: scalar uint8 parameters (zero
        # points given), and intermediate values nothing else reads.
        if len(dq.input) != 3 or len(q.input) != 3:
            continue
        params = [inits.get(name) for name in (*dq.input[1:], *q.input[1:])]
        if (len(consumers[dq.output[0]]) != 1 or {dq.output[0], op.output[0]} & outputs
                or any(p is None or p.size != 1 for p in params) or params[1].dtype != np.uint8
                or params[3].dtype != np.uint8):
            continue
        chain = helper.make_graph(
            [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["f"]),
             helper.make_node(op.op_type, ["f"], ["g"], domain=op.domain, **{a.name: helper.get_attribute_value(a)
                                                                            for a in op.attribute}),
             helper.make_node("QuantizeLinear", ["g", "s2", "z2"], ["y"])],
            "chain",
            [helper.make_tensor_value_info("x", onnx.TensorProto.UINT8, [256])],
            [helper.make_tensor_value_info("y", onnx.TensorProto.UINT8, [256])],
            [numpy_helper.from_array(p, n) for p, n in zip(params, ("s", "z", "s2", "z2"))],
        )
        chain_model = helper.make_model(chain, opset_imports=opsets, ir_version=model.ir_version)
        session = ort.InferenceSession(chain_model.SerializeToString(), providers=["CPUExecutionProvider"])
        table = session.run(None, {"x": np.arange(256, dtype=np.uint8)})[0]
        replaced |= {id(dq), id(op), id(q)}
        lookups[id(op)] = helper.make_node("ByteLookup", [dq.input[0]], [q.output[0]], name=op.name + "/lookup",
                                           domain=LOOKUP_DOMAIN, table=[int(v) for v in table])
    splice(model, replaced, lookups, LOOKUP_DOMAIN, path)
    return len(lookups)


def recognizer_neck(model):
    """The convolutions on the 120-channel sequence features before the CTC head.

    Quantising them costs accuracy for almost no speed (docs/performance.md),
    so they stay in float.
    """
    weights = {t.name: t.dims for t in model.graph.initializer}
    neck = [n.name for n in model.graph.node if n.op_type == "Conv" and weights[n.input[1]][0] == 120]
    assert len(neck) == 3, f"unexpected recogniser layout: {neck}"
    return neck


def quantize_recognizer(src, dst, lines, squeeze_excite=False):
    """With `squeeze_excite`, the squeeze-and-excitation blocks (their global
    pool and channel scaling) are quantised too, so no full-size float tensor
    is left around them: less recogniser time for a little accuracy
    (docs/performance.md)."""
    extra = ["GlobalAveragePool", "Mul"] if squeeze_excite else []
    quantize(
        src,
        dst,
        lines,
        # Not the attention MatMuls: they lose accuracy in int8.
        op_types_to_quantize=["Conv", *extra],
        # Min/max ranges swing with the calibration sample; the 99.999th
        # percentile holds steady across seeds (docs/performance.md).
        calibrate_method=CalibrationMethod.Percentile,
        keep_float=lambda model: recognizer_neck(model) + (float_muls(model) if squeeze_excite else []),
        pool_squeeze_excite=squeeze_excite,
    )


def squeeze_excite_pools(path):
    """Writes the squeezes (ReduceMean over height and width) as
    GlobalAveragePool, the form ONNX Runtime's quantiser has an int8 kernel
    for."""
    model = onnx.load(path)
    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "ReduceMean" and attrs.get("axes") == [2, 3] and attrs.get("keepdims", 1) == 1:
            node = helper.make_node("GlobalAveragePool", node.input[:1], node.output, name=node.name + "/pool")
        nodes.append(node)
    pools = sum(n.op_type == "GlobalAveragePool" for n in nodes)
    assert pools == 5, f"unexpected recogniser layout: {pools} squeeze-and-excitation blocks"
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, path)


def float_muls(model):
    """Every Mul but the excitations (a feature map times a HardSigmoid
    gate): the others belong to GELUs and attention, which stay float."""
    producer, _ = links(model.graph)
    gate = lambda name: name in producer and producer[name].op_type == "HardSigmoid"  # noqa: E731
    return [n.name for n in model.graph.node if n.op_type == "Mul" and not any(gate(i) for i in n.input)]


DERIVED = ["ppocrv6_det.int8.onnx", "ppocrv6_rec.int8.onnx", "ppocrv6_rec.latin.onnx", "ppocrv6_rec.latin.int8.onnx"]


def main(src_dir, dst_dir):
    """Derives every model into a scratch folder, checks the int8 ones
    against their fp32 sources (scripts/check_int8.py) and only then moves
    them into `dst_dir`: a model that fails the check is never installed."""
    os.makedirs(dst_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dst_dir, prefix=".derive-") as work:
        derive(src_dir, work)
        for name in DERIVED:
            os.replace(os.path.join(work, name), os.path.join(dst_dir, name))


def derive(src_dir, dst_dir):
    rng = random.Random(20261123)
    np.random.seed(20261123)
    quantize(
        os.path.join(src_dir, "ppocrv6_det.onnx"),
        os.path.join(dst_dir, "ppocrv6_det.int8.onnx"),
        [det_tensor(receipt_page(rng)) for _ in range(DET_PAGES)],
        # Fused before quantising: GELU then stays one float kernel instead
        # of five ops with a quantise/dequantise pair between each.
        fuse_gelu_first=True,
    )
    rec_lines = [rec_tensor(rng) for _ in range(REC_LINES)]
    latin_fp32 = os.path.join(dst_dir, "ppocrv6_rec.latin.onnx")
    prune_to_latin(os.path.join(src_dir, "ppocrv6_rec.onnx"), latin_fp32)
    quantize_recognizer(os.path.join(src_dir, "ppocrv6_rec.onnx"), os.path.join(dst_dir, "ppocrv6_rec.int8.onnx"),
                        rec_lines)
    # The fast profile's: a little less time for a little word F1 (docs/performance.md).
    quantize_recognizer(latin_fp32, os.path.join(dst_dir, "ppocrv6_rec.latin.int8.onnx"), rec_lines,
                        squeeze_excite=True)
    # The Latin head is 57 times smaller: quantising it saves next to nothing.
    quantize_head(os.path.join(dst_dir, "ppocrv6_rec.int8.onnx"))
    for name in ("ppocrv6_rec.int8.onnx", "ppocrv6_rec.latin.int8.onnx", "ppocrv6_rec.latin.onnx"):
        fuse_gelu(os.path.join(dst_dir, name))
    # Checked before the lookups are fused: plain ONNX Runtime cannot run
    # those, and they reproduce the chains they replace by construction.
    check_int8.check(os.path.join(src_dir, "ppocrv6_det.onnx"), os.path.join(dst_dir, "ppocrv6_det.int8.onnx"), "det")
    check_int8.check(os.path.join(src_dir, "ppocrv6_rec.onnx"), os.path.join(dst_dir, "ppocrv6_rec.int8.onnx"), "rec")
    check_int8.check(latin_fp32, os.path.join(dst_dir, "ppocrv6_rec.latin.int8.onnx"), "rec")
    # Last: ONNX Runtime alone cannot run the result.
    for name in ("ppocrv6_det.int8.onnx", "ppocrv6_rec.int8.onnx", "ppocrv6_rec.latin.int8.onnx"):
        fused = fuse_lookups(os.path.join(dst_dir, name))
        assert fused >= 13, f"{name}: only {fused} elementwise chains became lookups"


if __name__ == "__main__":
    main(*sys.argv[1:3])
