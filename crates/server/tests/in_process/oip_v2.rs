//! The Open Inference Protocol (KServe V2): health across the load, the
//! protocol's edge cases and errors, size and batch limits, binary data
//! that does not add up, the access guard, and a server whose models failed
//! to load. Conformance with a third-party client (tritonclient), on the
//! real models over a socket, is in `tests/oip_v2.rs`; protocol errors
//! counted in the metrics, in `tests/metrics.rs`.

use image::ImageFormat;
use serde_json::{Value, json};

use crate::common::kserve::{assert_protocol_error, b64};
use crate::common::{encode, receipt};
use crate::harness::{App, FAKE_TEXTS, ort_lib, post, texts};

const INFER: &str = "/v2/models/ocr/infer";

/// One BYTES input `image` holding these elements.
fn infer_request(elements: Vec<Value>) -> Value {
    let n = elements.len();
    json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [n], "data": elements}]})
}

#[tokio::test]
async fn health_routes_follow_the_model_load() {
    let app = App::loading(&[]);
    // Not ready while the models load: both health routes say so with 503.
    let (ready, model_ready) = (app.get("/v2/health/ready").await, app.get("/v2/models/ocr/ready").await);
    assert_eq!((ready.status, &ready.json), (503, &json!({"ready": false})));
    assert_eq!((model_ready.status, &model_ready.json), (503, &json!({"name": "ocr", "ready": false})));
    let live = app.get("/v2/health/live").await;
    assert_eq!((live.status, &live.json), (200, &json!({"live": true})));
    app.load_fakes();
    let (ready, model_ready) = (app.get("/v2/health/ready").await, app.get("/v2/models/ocr/ready").await);
    assert_eq!((ready.status, &ready.json), (200, &json!({"ready": true})));
    assert_eq!((model_ready.status, &model_ready.json), (200, &json!({"name": "ocr", "ready": true})));
}

#[tokio::test]
async fn protocol_errors_name_the_bad_image_and_a_batch_is_queued_at_once() {
    let app = App::ready(&["--max-batch", "3", "--max-upload-mb", "1"]);
    // One worker and one queue slot: a batch of three cannot all be held.
    // No result cache: the identical images below must each take a queue slot.
    let small = App::ready(&["--workers", "1", "--queue-size", "1", "--cache-mb", "0"]);
    let png = encode(&receipt().image, ImageFormat::Png);

    // The shapes clients send: [N], or nested [N, 1].
    let mut request = infer_request(vec![json!(b64(&png))]);
    let reply = app.post_json(INFER, &request).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let output = &reply.json["outputs"][0];
    assert_eq!(
        (&output["name"], &output["datatype"], &output["shape"]),
        (&json!("result"), &json!("BYTES"), &json!([1]))
    );
    let text = output["data"][0].as_str().expect("a JSON string per image");
    assert_eq!(texts(&serde_json::from_str(text).unwrap()), FAKE_TEXTS);
    request["inputs"][0]["shape"] = json!([1, 1]);
    request["inputs"][0]["data"] = json!([[b64(&png)]]);
    assert_eq!(app.post_json(INFER, &request).await.status, 200);

    let truncated = &png[..png.len() / 2];
    let cases = [
        (infer_request(vec![json!(b64(&png)), json!("***")]), 400, "bad_request", "image 1 is not valid base64"),
        (infer_request(vec![json!(b64(&png)), json!(b64(truncated))]), 400, "invalid_image", "image 1: "),
        (infer_request(vec![json!(b64(b"GIF89a")), json!(b64(&png))]), 415, "unsupported_media_type", "image 0: "),
        (infer_request(vec![json!("")]), 400, "empty_file", "image 0: "),
        (infer_request(vec![json!(1)]), 400, "bad_request", "element 0 of `image` is not a string"),
        (infer_request(vec![json!(b64(&png)); 4]), 413, "batch_too_large", "4 images in one request; the limit is 3"),
        (
            json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2], "data": [b64(&png)]}]}),
            400,
            "bad_request",
            "shape [2] but 1 elements",
        ),
        (
            json!({"inputs": [{"name": "image", "datatype": "UINT8", "shape": [1], "data": [1]}]}),
            400,
            "bad_request",
            "must be BYTES",
        ),
        (json!({"inputs": []}), 400, "bad_request", "expected one input"),
        (json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1]}]}), 400, "bad_request", "has no data"),
        (json!({"outputs": []}), 400, "bad_request", "missing field `inputs`"),
    ];
    for (body, status, code, fragment) in cases {
        let reply = app.post_json(INFER, &body).await;
        assert_protocol_error(&reply, status, code, fragment);
    }
    // Size limits: each image is held to --max-upload-mb once decoded, and the
    // body may carry --max-batch of them, more than one upload's limit.
    let (under, over) = (vec![0u8; 900 * 1024], vec![0u8; 1024 * 1024 + 1]);
    let reply = app.post_json(INFER, &infer_request(vec![json!(b64(&under)); 3])).await;
    assert_protocol_error(&reply, 415, "unsupported_media_type", "image 0: ");
    let reply = app.post_json(INFER, &infer_request(vec![json!(b64(&png)), json!(b64(&over))])).await;
    assert_protocol_error(&reply, 413, "file_too_large", "image 1: ");
    let mut huge = infer_request(vec![json!(b64(&under)); 3]);
    huge["inputs"][0]["parameters"] = json!({"padding": "x".repeat(2 * 1024 * 1024)});
    let reply = app.post_json(INFER, &huge).await;
    assert_protocol_error(&reply, 413, "file_too_large", "the upload exceeds the limit");

    let mut unknown_output = infer_request(vec![json!(b64(&png))]);
    unknown_output["outputs"] = json!([{"name": "text"}]);
    assert_protocol_error(&app.post_json(INFER, &unknown_output).await, 400, "bad_request", "unknown output `text`");
    let reply = app.post_raw(INFER, "application/json", b"{not json".to_vec()).await;
    assert_protocol_error(&reply, 400, "bad_request", "not valid");
    let reply = app.post_json("/v2/models/other/infer", &infer_request(vec![json!(b64(&png))])).await;
    assert_protocol_error(&reply, 404, "model_not_found", "`other`");

    // Binary data whose header length or element lengths do not add up.
    let header = serde_json::to_vec(&json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
        "parameters": {"binary_data_size": 8}}]}))
    .unwrap();
    for (tail, fragment) in
        [(&b"\x09\x00\x00\x00abcd"[..], "length 9"), (&b"\x01\x00\x00\x00a"[..], "binary_data_size is 8")]
    {
        let body = [header.as_slice(), tail].concat();
        let length = header.len().to_string();
        let reply = app.json(post(INFER, &[("Inference-Header-Content-Length", &length)], body)).await;
        assert_protocol_error(&reply, 400, "bad_request", fragment);
    }

    // All images of a batch are queued at once (one runs, one waits), so the
    // third finds the queue full and the whole request gets 429.
    let reply = small.post_json(INFER, &infer_request(vec![json!(b64(&png)); 3])).await;
    assert_protocol_error(&reply, 429, "overloaded", "too many requests in flight");
    let message = reply.json["error"].as_str().unwrap();
    assert!(message.starts_with("image 1: ") || message.starts_with("image 2: "), "{message}");
    assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
}

/// The access policy guards inference but not health or metadata, and a
/// server whose models failed to load is not ready and refuses with 503.
#[tokio::test]
async fn infer_is_guarded_and_refused_without_models() {
    let ort = ort_lib();
    let app = App::loading(&["--api-keys", "k1", "--model-dir", "/nonexistent", "--ort-lib", &ort]);
    let png = encode(&receipt().image, ImageFormat::Png);
    let request = serde_json::to_vec(&infer_request(vec![json!(b64(&png))])).unwrap();
    let reply = app.post_raw(INFER, "application/json", request.clone()).await;
    assert_protocol_error(&reply, 401, "unauthorized", "API key");
    assert_eq!(reply.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

    let metadata = app.get("/v2/models/ocr").await;
    assert_eq!(metadata.status, 200, "{}", metadata.json);
    assert_eq!(app.get("/v2").await.status, 200);
    app.load_from_disk();
    assert_eq!(app.get("/v2/health/ready").await.status, 503);
    assert_eq!(app.get("/v2/models/ocr/ready").await.status, 503);
    let reply = app.json(post(INFER, &[("x-api-key", "k1")], request)).await;
    assert_protocol_error(&reply, 503, "models_unavailable", "/nonexistent/");
}
