//! Real Tesseract beside PP-OCR, on the real binary: chosen per request,
//! served as KServe models, behind the gateway (`serve --engines tesseract`
//! plus `gateway` is the DevOps document's system), with the same bad-input
//! and access behaviour as PP-OCR, and shadow comparisons that run when the
//! workers are idle and are dropped, counted, when they are not. Engine
//! choice and the A/B share on fake models are in `in_process/engines.rs`.

mod common;

use std::time::{Duration, Instant};

use common::kserve::{b64, post_json};
use common::prometheus::exposed;
use common::{LOAD_TIMEOUT, Server, assert_error, assert_reads, encode, png_form, receipt};
use image::ImageFormat;
use serde_json::json;

/// Waits until /health says engine `name` is loaded.
async fn wait_engine(server: &Server, name: &str) {
    let deadline = Instant::now() + LOAD_TIMEOUT;
    loop {
        let health = server.get("/health").await;
        let engines = health.json["engines"].as_array().cloned().unwrap_or_default();
        let engine = engines.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name}: {}", health.json));
        match engine["status"].as_str() {
            Some("healthy") => return,
            Some("loading") => {}
            _ => panic!("{name} failed to load: {}", health.json),
        }
        assert!(Instant::now() < deadline, "{name} not loaded within {LOAD_TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn metric(server: &Server, series: &str) -> f64 {
    let (_, _, text) = server.get_text("/metrics", &[]).await;
    exposed(&text, series).unwrap_or(0.0)
}

#[tokio::test]
async fn tesseract_alone_behind_the_gateway_reads_the_receipt() {
    let server = Server::start_with_env(
        &["--engines", "tesseract", "--api-keys", "k1"],
        &[("RUST_LOG", "info,inference_hub=trace,hub_engines=trace")],
    );
    server.wait_ready().await;
    let upstream = format!("http://{}", server.addr);
    let gateway =
        Server::start_gateway(&["--upstream", &upstream, "--model-name", "tesseract", "--upstream-api-key", "k1"]);
    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);

    // Started without it, the process runs with libgomp's thread limit at 1
    // (Tesseract's OpenMP threads would make each read 8x slower).
    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
    assert!(environ.split(|b| *b == 0).any(|v| v == b"OMP_THREAD_LIMIT=1"), "OMP_THREAD_LIMIT=1 not set");
    assert!(!server.logs().contains("OMP_THREAD_LIMIT is not 1"));
    let health = server.get("/health").await;
    let engine = &health.json["engines"][0];
    assert_eq!((engine["name"].as_str(), engine["default"].as_bool()), (Some("tesseract"), Some(true)));
    assert!(engine["version"].as_str().unwrap().starts_with("tesseract 5."), "{}", health.json);
    assert_eq!(engine["workers"], 2.min(std::thread::available_parallelism().unwrap().get()).max(1), "{}", health.json);
    assert!(!server.logs().contains("Loading PaddleOCR"), "only the engines asked for load");

    // Through the gateway (V2 to /v2/models/tesseract/infer), as the DevOps design has it.
    let mut reply = None;
    for _ in 0..100 {
        let answer = gateway.post_form("/gateway/ocr", png_form("image_file", &png)).await;
        if answer.status != 503 {
            reply = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = reply.expect("the gateway saw the model server ready");
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_reads(&reply.json, &rendered);
    assert_eq!(reply.json["engine"], "tesseract");

    // The `ocr` alias is the default engine; V1 serves it under both names.
    let instances = json!({"instances": [{"image": {"b64": b64(&png)}}]});
    for model in ["ocr", "tesseract"] {
        let reply = post_json(&server, &format!("/v1/models/{model}:predict"), &instances).await;
        assert_eq!(reply.status, 401, "the API key guards every model: {}", reply.json);
    }
    let models = server.get("/v1/models").await;
    assert_eq!(models.json, json!({"models": ["ocr", "tesseract"]}));
    let logs = server.wait_for_log("OCR batch processing time", 1);
    for word in ["TOTAL", "CASH", "THANK"] {
        assert!(!logs.to_uppercase().contains(word), "recognised text {word:?} in the log:\n{logs}");
    }
}

#[tokio::test]
async fn both_engines_answer_by_request_with_the_same_errors_and_shadow_comparisons() {
    let server = Server::start(&[
        "--engines",
        "paddle,tesseract",
        "--workers",
        "1",
        "--queue-size",
        "16",
        "--shadow",
        "tesseract",
        "--shadow-rate",
        "1",
        "--max-upload-mb",
        "1",
        // Every request reads: the burst below must queue, not share one answer.
        "--cache-mb",
        "0",
    ]);
    server.wait_ready().await;
    wait_engine(&server, "tesseract").await;
    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let jpeg = encode(&rendered.image, ImageFormat::Jpeg);

    for (engine, form) in [
        ("tesseract", png_form("file", &png).text("engine", "tesseract")),
        ("tesseract", common::file_form("file", jpeg.clone(), "r.jpg", "image/jpeg").text("engine", "tesseract")),
        ("paddle", png_form("file", &png)),
    ] {
        let reply = server.post_form("/v1/ocr/receipt", form).await;
        assert_eq!(reply.status, 200, "{engine}: {}", reply.json);
        assert_reads(&reply.json, &rendered);
        assert_eq!(reply.json["engine"], engine);
        assert_eq!(reply.headers["x-ocr-engine"], engine);
    }
    // The query names the engine as well, on every alias and on V2.
    let reply = server.post_form("/v1/parse?engine=tesseract", png_form("image_file", &png)).await;
    assert_eq!((reply.status, reply.json["engine"].as_str()), (200, Some("tesseract")), "{}", reply.json);
    let infer = json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&png)]}]});
    let reply = post_json(&server, "/v2/models/tesseract/infer", &infer).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let result: serde_json::Value =
        serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert_reads(&result, &rendered);
    assert_eq!(result["engine"], "tesseract");

    // Bad input gets the same answers from either engine.
    let big = vec![0xFF; 2 * 1024 * 1024];
    let tiny = encode(&image::RgbImage::from_pixel(1, 1, image::Rgb([255; 3])), ImageFormat::Png);
    for engine in ["paddle", "tesseract"] {
        let form = |bytes: &[u8]| png_form("file", bytes).text("engine", engine);
        assert_error(&server.post_form("/v1/ocr", form(&png[..png.len() / 2])).await, 400, "invalid_image");
        assert_error(&server.post_form("/v1/ocr", form(b"not an image")).await, 415, "unsupported_media_type");
        // Refused while the body still streams in: a raw exchange reads the early answer.
        let path = format!("/v1/ocr?engine={engine}");
        assert_error(&server.post_file_early_answer(&path, "file", big.clone()).await, 413, "file_too_large");
        let blank = server.post_form("/v1/ocr", form(&tiny)).await;
        assert_eq!(blank.status, 200, "{engine}: a 1x1 image has no text: {}", blank.json);
        assert_eq!(blank.json["line_count"], 0, "{engine}: {}", blank.json);
    }

    // Shadow: an idle service compares every sampled paddle answer with
    // tesseract's reading, after the client has its answer.
    let compared = r#"ocr_shadow_total{engine="tesseract",outcome="compared"}"#;
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&server, compared).await < 1.0 {
        assert!(Instant::now() < deadline, "no shadow comparison within 30 s:\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let agreement = metric(&server, r#"ocr_shadow_agreement_sum{engine="tesseract"}"#).await;
    let count = metric(&server, r#"ocr_shadow_agreement_count{engine="tesseract"}"#).await;
    assert!(count >= 1.0 && agreement / count > 0.5, "the engines read the same receipt: {agreement}/{count}");
    assert!(metric(&server, r#"ocr_shadow_lines_count{engine="paddle"}"#).await >= 1.0);

    // A burst on one worker: samples taken while requests wait are dropped
    // and counted; every client still gets paddle's answer.
    let before = metric(&server, compared).await;
    let burst: Vec<_> = (0..8).map(|_| server.post_form("/v1/ocr/receipt", png_form("file", &png))).collect();
    for reply in futures_util::future::join_all(burst).await {
        assert_eq!((reply.status, reply.json["engine"].as_str()), (200, Some("paddle")), "{}", reply.json);
    }
    let dropped = metric(&server, r#"ocr_shadow_total{engine="tesseract",outcome="dropped_busy"}"#).await;
    assert!(dropped >= 1.0, "samples taken while requests queued must be dropped");
    let compared_now = metric(&server, compared).await;
    assert!(compared_now - before + dropped <= 8.0 + 1.0, "at most one sample per request");
}
