//! KServe V1 in the request shape KServe documents for binary inputs
//! (`{"instances": [{"image": {"b64": "..."}}]}`): the model list, its
//! readiness across the load, a batch, and the protocol's errors. The real
//! models reading a V1 batch, and the batch counted in the metrics, are in
//! `tests/ocr.rs`.

use image::ImageFormat;
use serde_json::json;

use crate::common::encode;
use crate::common::kserve::{assert_protocol_error, b64, lines_of};
use crate::common::receipt;
use crate::harness::{App, FAKE_TEXTS, Form, texts};

#[tokio::test]
async fn v1_lists_the_model_reports_readiness_and_predicts_a_batch() {
    let app = App::loading(&["--model-name", "receipts"]);
    let list = app.get("/v1/models").await;
    assert_eq!((list.status, &list.json), (200, &json!({"models": ["receipts", "paddle"]})));
    // KServe's readiness route for V1: 503 until the models are loaded.
    let status = app.get("/v1/models/receipts").await;
    assert_eq!((status.status, &status.json), (503, &json!({"name": "receipts", "ready": false})));
    app.load_fakes();
    let status = app.get("/v1/models/receipts").await;
    assert_eq!((status.status, &status.json), (200, &json!({"name": "receipts", "ready": true})));
    assert_protocol_error(&app.get("/v1/models/ocr").await, 404, "model_not_found", "`ocr`");

    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let jpeg = encode(&rendered.image, ImageFormat::Jpeg);
    let instances = json!({"instances": [{"image": {"b64": b64(&png)}}, {"image": {"b64": b64(&jpeg)}}]});
    let reply = app.post_json("/v1/models/receipts:predict", &instances).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let predictions = reply.json["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 2, "one prediction per instance");
    for prediction in predictions {
        assert_eq!(texts(prediction), FAKE_TEXTS, "{prediction}");
    }
    // The same body as the service's own route.
    let direct = app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await;
    assert_eq!(lines_of(&predictions[0]), lines_of(&direct.json));

    let cases = [
        (
            "/v1/models/receipts:predict",
            json!({"instances": [{"image": {"b64": b64(&png)}}, {"b64": "x"}]}),
            400,
            "bad_request",
            "instance 1: expected",
        ),
        ("/v1/models/receipts:predict", json!({"inputs": []}), 400, "bad_request", "expected {\"instances\""),
        ("/v1/models/receipts:predict", json!({"instances": []}), 400, "bad_request", "no image"),
        (
            "/v1/models/receipts:predict",
            json!({"instances": [{"image": {"b64": b64(&png[..100])}}]}),
            400,
            "invalid_image",
            "image 0: ",
        ),
        ("/v1/models/receipts:explain", json!({"instances": []}), 400, "bad_request", ":predict is the only"),
        ("/v1/models/ocr:predict", json!({"instances": []}), 404, "model_not_found", "`ocr`"),
    ];
    for (path, body, status, code, fragment) in cases {
        assert_protocol_error(&app.post_json(path, &body).await, status, code, fragment);
    }
}
