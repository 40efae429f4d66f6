"""Writes a deliberately broken copy of a quantised model, for the tests of
the checks that must catch one (the start-up probe's fp32 fallback, the
set-up agreement check): every int8 weight's scale is multiplied by a
seeded random factor in [0.85, 1.15], as if the int8 arithmetic summed wrong.
The copy loads and runs like the original; it just reads worse.

usage: degrade_model.py SRC DST
"""

import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(src, dst):
    model = onnx.load(src)
    inits = {t.name: t for t in model.graph.initializer}
    rng = np.random.default_rng(1)
    scaled = 0
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits or node.input[1] not in inits:
            continue
        if inits[node.input[0]].data_type != onnx.TensorProto.INT8:
            continue
        scale = inits[node.input[1]]
        array = numpy_helper.to_array(scale)
        scale.CopyFrom(numpy_helper.from_array((array * rng.uniform(0.85, 1.15, array.shape)).astype(array.dtype),
                                               scale.name))
        scaled += 1
    assert scaled > 0, f"{src} has no int8 weights"
    onnx.save(model, dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
