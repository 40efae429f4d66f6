#!/usr/bin/env python3
"""Open Inference Protocol (KServe V2) conformance of `inference-hub serve`,
checked with a third-party client: NVIDIA's Triton HTTP client
(tritonclient[http], installed by scripts/setup.sh into .cache/oip-client-venv).

Usage: oip_conformance.py HOST:PORT MODEL IMAGE...

Checks health, metadata and errors itself, runs inference on the images
(one batch) with BYTES input as JSON and as binary data, and prints
{"json": [...], "binary": [...], "default": [...]}: the OCR responses of
each mode, for the caller to check the text against the images.
Driven by crates/server/tests/oip_v2.rs; exits non-zero on any failure.
"""

import base64
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def expect(condition, what):
    if not condition:
        sys.exit(f"conformance failure: {what}")


def expect_error(call, status, fragment, what):
    try:
        call()
    except InferenceServerException as e:
        expect(e.status() == status, f"{what}: status {e.status()}, want {status} ({e.message()})")
        expect(fragment in e.message(), f"{what}: message {e.message()!r} lacks {fragment!r}")
        return
    sys.exit(f"conformance failure: {what}: no error")


def infer(client, model, images, binary_in, binary_out, request_id):
    """One inference; binary_out None sends no `outputs`, so the client asks
    for every output as binary data (`binary_data_output`)."""
    data = images if binary_in else [base64.b64encode(i) for i in images]
    tensor = httpclient.InferInput("image", [len(images)], "BYTES")
    tensor.set_data_from_numpy(np.array(data, dtype=np.object_), binary_data=binary_in)
    outputs = None if binary_out is None else [httpclient.InferRequestedOutput("result", binary_data=binary_out)]
    result = client.infer(model, [tensor], outputs=outputs, request_id=request_id)
    response = result.get_response()
    expect(response.get("model_name") == model, f"model_name in {response}")
    expect(response.get("id") == request_id, f"request id not echoed: {response}")
    [output] = response["outputs"]
    expect(output["name"] == "result" and output["datatype"] == "BYTES", f"output {output}")
    expect(output["shape"] == [len(images)], f"output shape {output['shape']}")
    sent_binary = "binary_data_size" in output.get("parameters", {})
    expect(sent_binary == (binary_out is not False), f"binary output {sent_binary}, asked {binary_out}")
    values = result.as_numpy("result")
    expect(values.shape == (len(images),), f"as_numpy shape {values.shape}")
    return [json.loads(v) for v in values]


def main():
    url, model, *paths = sys.argv[1:]
    expect(paths, "no images given")
    images = [open(p, "rb").read() for p in paths]
    client = httpclient.InferenceServerClient(url=url)

    expect(client.is_server_live(), "server live")
    expect(client.is_server_ready(), "server ready")
    expect(client.is_model_ready(model), "model ready")
    expect(not client.is_model_ready("no-such-model"), "an unknown model must not be ready")

    server = client.get_server_metadata()
    expect(server["name"] == "inference-hub" and server["version"], f"server metadata {server}")
    expect("binary_tensor_data" in server["extensions"], f"extensions {server['extensions']}")
    metadata = client.get_model_metadata(model)
    expect(metadata["name"] == model and metadata["platform"], f"model metadata {metadata}")
    expect(metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}], f"inputs {metadata}")
    expect(metadata["outputs"] == [{"name": "result", "datatype": "BYTES", "shape": [-1]}], f"outputs {metadata}")
    expect_error(lambda: client.get_model_metadata("no-such-model"), "404", "no-such-model", "unknown model metadata")

    results = {
        "json": infer(client, model, images, binary_in=False, binary_out=False, request_id="json-1"),
        "binary": infer(client, model, images, binary_in=True, binary_out=True, request_id="binary-2"),
        "default": infer(client, model, images, binary_in=True, binary_out=None, request_id="default-3"),
    }

    # Errors come back as {"error": ...} with the protocol's statuses, and
    # a bad image fails the batch, naming its index.
    broken = httpclient.InferInput("image", [2], "BYTES")
    broken.set_data_from_numpy(np.array([images[0], b"not an image"], dtype=np.object_))
    expect_error(lambda: client.infer(model, [broken]), "415", "image 1", "a non-image in the batch")
    wrong = httpclient.InferInput("pixels", [1], "BYTES")
    wrong.set_data_from_numpy(np.array([images[0]], dtype=np.object_))
    expect_error(lambda: client.infer(model, [wrong]), "400", "pixels", "an unknown input")
    expect_error(lambda: client.infer("no-such-model", [wrong]), "404", "no-such-model", "infer on an unknown model")

    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
