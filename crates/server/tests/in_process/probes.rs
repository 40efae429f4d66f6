//! The probes where the model load went wrong or was never asked for: a
//! failed load (the real loader's own error) and OCR switched off. The
//! normal start on the real models, and the int8 → fp32 fallback, are in
//! `tests/probes.rs`.

use std::time::Duration;

use serde_json::json;

use crate::common::{assert_error, receipt_png};
use crate::harness::{App, Form, ort_lib};

/// Missing models: the service stays up and says why, but never turns ready
/// and refuses inference with 503.
#[tokio::test]
async fn failed_model_load_is_reported_and_never_ready() {
    let ort = ort_lib();
    let app = App::loading(&["--model-dir", "/nonexistent", "--ort-lib", &ort]);
    let live = app.get("/live").await;
    assert_eq!((live.status, &live.json), (200, &json!({"status": "alive"})));
    let health = app.get("/health").await;
    assert_eq!((health.status, &health.json["status"]), (200, &json!("loading")), "{}", health.json);

    app.load_from_disk();
    let health = app.get("/health").await;
    assert_eq!(health.status, 200, "/health always answers 200 with a status field");
    let health = health.json;
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(health["models_loaded"], false, "{health}");
    let why = health["load_error"].as_str().expect("load_error is a string");
    assert!(why.contains("/nonexistent/") && why.contains(".onnx"), "load_error must name the missing file: {why}");

    // Not ready now, and still not ready a second later: a failed load is final.
    for pause in [0, 1000] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let ready = app.get("/ready").await;
        assert_eq!((ready.status, &ready.json), (503, &json!({"ready": false, "models_loaded": false})));
    }

    let reply = app.post_form("/v1/ocr/receipt", Form::png("file", &receipt_png())).await;
    assert_error(&reply, 503, "models_unavailable");
    let message = reply.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("/nonexistent/"), "the 503 should say what is missing: {message}");
}

/// AI_ENABLE_OCR=0: nothing to load, so ready at once, and the OCR routes
/// answer 404 capability_disabled instead of trying inference. (That the
/// process loads no models then is checked on the binary, in
/// `tests/systemd.rs`.)
#[tokio::test]
async fn disabled_ocr_is_ready_without_models() {
    let app = App::loading(&["--enable-ocr", "0"]);
    assert!(app.state.lifecycle.engines.is_none(), "`serve` starts a model load only when this is set");

    let ready = app.get("/ready").await;
    assert_eq!((ready.status, &ready.json), (200, &json!({"ready": true, "models_loaded": true})));

    let health = app.get("/health").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json["status"], "healthy", "{}", health.json);
    assert_eq!(health.json["available_endpoints"], json!(["/live", "/ready", "/health"]), "{}", health.json);
    assert_eq!(health.json["models"], json!([]), "{}", health.json);

    let png = receipt_png();
    for route in ["/v1/ocr", "/v1/ocr/receipt", "/v1/parse"] {
        let reply = app.post_form(route, Form::png("image_file", &png)).await;
        assert_error(&reply, 404, "capability_disabled");
    }
}
