//! Several engines in one service (`--engines`): choosing one per request,
//! the errors for unknown and unloaded engines, the A/B split's share,
//! KServe's model per engine, and /health per engine. Every engine here
//! runs the fake models; the answer's `engine` and `X-OCR-Engine` say
//! which one read. Real Tesseract is in `tests/engines.rs`.

use serde_json::json;

use crate::common::{assert_error, receipt_png};
use crate::harness::{App, FAKE_TEXTS, Form, texts};

const TWO: [&str; 2] = ["--engines", "paddle,tesseract"];

fn engine_of(reply: &crate::common::Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(texts(&reply.json), FAKE_TEXTS, "{}", reply.json);
    let header = reply.headers.get("x-ocr-engine").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(reply.json["engine"], header, "the header and the body name the same engine");
    header.to_owned()
}

#[tokio::test]
async fn a_request_chooses_its_engine_by_form_field_or_query() {
    let app = App::ready(&TWO);
    let png = receipt_png();
    let default = app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await;
    assert_eq!(engine_of(&default), "paddle", "the first of --engines is the default");
    let by_form = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("engine", "tesseract")).await;
    assert_eq!(engine_of(&by_form), "tesseract");
    // The field may come before the file, and the query works on every alias.
    let first =
        app.post_form("/v1/ocr", Form::new().text("engine", "tesseract").file("file", "r.png", "image/png", &png));
    assert_eq!(engine_of(&first.await), "tesseract");
    let by_query = app.post_form("/v1/parse?engine=tesseract", Form::png("file", &png)).await;
    assert_eq!(engine_of(&by_query), "tesseract");
    let explicit = app.post_form("/v1/ocr/receipt?engine=paddle", Form::png("file", &png).text("engine", "paddle"));
    assert_eq!(engine_of(&explicit.await), "paddle");

    let unknown = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("engine", "easyocr")).await;
    assert_error(&unknown, 400, "unknown_engine");
    let message = unknown.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("easyocr") && message.contains("paddle, tesseract"), "{message}");
    // Refused from the query before the upload is read.
    assert_error(&app.post_form("/v1/ocr?engine=easyocr", Form::png("file", &png)).await, 400, "unknown_engine");
    let both = app.post_form("/v1/ocr?engine=paddle", Form::png("file", &png).text("engine", "tesseract")).await;
    assert_error(&both, 400, "invalid_parameter");
    let long = "x".repeat(300);
    assert_error(
        &app.post_form("/v1/ocr", Form::png("file", &png).text("engine", &long)).await,
        400,
        "invalid_parameter",
    );
}

#[tokio::test]
async fn an_engine_still_loading_gets_503_while_the_default_serves() {
    let app = App::loading(&TWO);
    let png = receipt_png();
    assert_eq!(app.get("/ready").await.status, 503);
    app.load_fake("paddle");
    assert_eq!(app.get("/ready").await.status, 200, "ready once the default engine is loaded");
    let reply = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("engine", "tesseract")).await;
    assert_error(&reply, 503, "engine_not_ready");
    assert_eq!(engine_of(&app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await), "paddle");

    let health = app.get("/health").await;
    let engines = &health.json["engines"];
    assert_eq!(engines[0]["name"], "paddle");
    assert_eq!((engines[0]["status"].as_str(), engines[0]["default"].as_bool()), (Some("healthy"), Some(true)));
    assert_eq!(engines[1]["name"], "tesseract");
    assert_eq!((engines[1]["status"].as_str(), engines[1]["default"].as_bool()), (Some("loading"), Some(false)));
    assert_eq!(health.json["status"], "healthy", "the top level describes the default engine");

    app.load_fake("tesseract");
    let reply = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("engine", "tesseract")).await;
    assert_eq!(engine_of(&reply), "tesseract");
    let health = app.get("/health").await;
    assert_eq!(health.json["engines"][1]["status"], "healthy", "{}", health.json);
    assert_eq!(health.json["engines"][1]["version"], "fake", "{}", health.json);
}

/// `--ab tesseract=0.25`: a quarter of the requests that name no engine go
/// to tesseract. 400 requests: the count is binomial (mean 100, sd 8.7),
/// so 70..=130 (3.5 sd) fails by chance about once in 2,000 runs.
#[tokio::test]
async fn the_ab_split_sends_its_share_of_unnamed_requests() {
    let app = App::ready(&["--engines", "paddle,tesseract", "--ab", "tesseract=0.25", "--workers", "2"]);
    let png = receipt_png();
    let mut tesseract = 0;
    for _ in 0..400 {
        if engine_of(&app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await) == "tesseract" {
            tesseract += 1;
        }
    }
    assert!((70..=130).contains(&tesseract), "{tesseract} of 400 went to tesseract, expected about 100");
    // A request that names its engine is never split.
    for _ in 0..50 {
        let reply = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("engine", "paddle")).await;
        assert_eq!(engine_of(&reply), "paddle");
    }
}

#[tokio::test]
async fn ab_and_shadow_flags_must_name_another_loaded_engine() {
    use crate::harness::serve_args;
    let refused = |flags: &[&str]| serve_args(flags).routing().unwrap_err().to_string();
    assert!(refused(&["--ab", "tesseract=0.1"]).contains("add `tesseract` to --engines"));
    assert!(refused(&["--engines", "paddle,tesseract", "--ab", "paddle=0.1"]).contains("default engine"));
    assert!(
        refused(&["--engines", "paddle,tesseract", "--shadow", "tesseract", "--shadow-rate", "2"]).contains("0 and 1")
    );
    use clap::Parser;
    for ab in ["tesseract=1.5", "tesseract", "easyocr=0.1"] {
        let parsed = inference_hub::config::Cli::try_parse_from(["inference-hub", "serve", "--ab", ab]);
        assert!(parsed.is_err(), "--ab {ab} must be refused");
    }
}

#[tokio::test]
async fn kserve_serves_each_engine_as_a_model_and_the_default_as_ocr() {
    use crate::common::kserve::b64;
    let app = App::ready(&TWO);
    let list = app.get("/v1/models").await;
    assert_eq!(list.json, json!({"models": ["ocr", "paddle", "tesseract"]}));
    let instances = json!({"instances": [{"image": {"b64": b64(&receipt_png())}}]});
    for (model, engine) in [("ocr", "paddle"), ("paddle", "paddle"), ("tesseract", "tesseract")] {
        let status = app.get(&format!("/v1/models/{model}")).await;
        assert_eq!(status.json, json!({"name": model, "ready": true}));
        let reply = app.post_json(&format!("/v1/models/{model}:predict"), &instances).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert_eq!(reply.json["predictions"][0]["engine"], engine, "{model}");
        let ready = app.get(&format!("/v2/models/{model}/ready")).await;
        assert_eq!(ready.status, 200, "{model}");
    }
    assert_eq!(app.get("/v1/models/easyocr").await.status, 404);
}
