//! `/metrics` against the real tools: Prometheus scrapes the running
//! service and sees the OCR counters move after real OCR requests, promtool
//! accepts the exposition, and every Grafana panel query runs on the scraped
//! data; KServe protocol errors are counted too. Also the request id on the
//! log lines, and the switch that guards `/metrics`. (Request ids on the
//! answers are checked in process: `tests/in_process/request_ids.rs`.)

mod common;

use std::collections::BTreeSet;

use common::kserve::{assert_protocol_error, post_json};
use common::prometheus::{Prometheus, exposed, promtool_check, sample_value};
use common::{Server, assert_error, file_form, png_form, receipt_png, workspace_root};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

#[tokio::test]
async fn prometheus_scrapes_ocr_counters_and_the_dashboard_queries_run() {
    // Both engines, every paddle answer compared by tesseract in the
    // background, a merchant directory: the dashboard's panels need their data too.
    let directory = std::env::temp_dir().join(format!("hub-metrics-merchants-{}.jsonl", std::process::id()));
    std::fs::write(&directory, "{\"company\": \"Kedai Maju Sdn Bhd\", \"address\": \"12, Jalan Maju\"}\n").unwrap();
    let mut flags =
        vec!["--workers", "1", "--engines", "paddle,tesseract", "--shadow", "tesseract", "--shadow-rate", "1"];
    flags.extend(["--merchants", directory.to_str().unwrap()]);
    let server = Server::start(&flags);
    server.wait_ready().await;
    let prometheus = Prometheus::start(server.addr).await;
    prometheus.wait_for(r#"up{job="inference-hub"}"#, |up| up == 1.0).await;
    let before = prometheus.query("ocr_requests_total").await;
    assert!(before.is_empty(), "no OCR request was made yet: {before:?}");

    // Two receipts read, one refused; one request id chosen by the client.
    let png = receipt_png();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let tagged = client
        .post(server.url("/v1/ocr/receipt"))
        .header("x-request-id", "receipt-42")
        .multipart(png_form("file", &png))
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), 200);
    assert_eq!(tagged.headers()["x-request-id"], "receipt-42");
    // Another encoding of the receipt: a cache miss too, so both are read.
    let jpeg = common::encode(&common::receipt().image, image::ImageFormat::Jpeg);
    let second = server.post_form("/v1/ocr", file_form("image_file", jpeg, "r.jpg", "image/jpeg")).await;
    assert_eq!(second.status, 200, "{}", second.json);
    let refused = server.post_form("/v1/parse", file_form("file", b"plain text".to_vec(), "a.txt", "text/plain")).await;
    assert_error(&refused, 415, "unsupported_media_type");

    let ok = prometheus.wait_for(r#"ocr_requests_total{outcome="success"}"#, |v| v >= 2.0).await;
    assert_eq!(ok, 2.0);
    let errors = prometheus.wait_for(r#"ocr_requests_total{outcome="error"}"#, |v| v >= 1.0).await;
    assert_eq!(errors, 1.0);
    let by_code = r#"request_errors_total{route="/v1/parse",code="unsupported_media_type"}"#;
    assert_eq!(prometheus.wait_for(by_code, |v| v >= 1.0).await, 1.0);
    let http = r#"http_requests_total{route="/v1/ocr/receipt",method="POST",status="200"}"#;
    assert_eq!(prometheus.wait_for(http, |v| v >= 1.0).await, 1.0);
    assert_eq!(prometheus.wait_for("ocr_processing_seconds_count", |v| v >= 2.0).await, 2.0);
    assert_eq!(prometheus.wait_for("request_predict_seconds_count", |v| v >= 3.0).await, 3.0);
    for stage in ["detect", "recognize"] {
        let query = format!(r#"ocr_inference_stage_seconds_count{{stage="{stage}"}}"#);
        assert_eq!(prometheus.wait_for(&query, |v| v >= 2.0).await, 2.0, "{stage}");
    }
    // Decoding is every engine's, the shadow's included.
    prometheus.wait_for(r#"ocr_inference_stage_seconds_count{stage="decode"}"#, |v| v >= 2.0).await;
    // Each answer is sampled; the second may come while the first's
    // comparison still runs, and is then dropped.
    let compared = r#"ocr_shadow_total{engine="tesseract",outcome="compared"}"#;
    prometheus.wait_for(compared, |v| v >= 1.0).await;
    assert_eq!(prometheus.wait_for("sum(ocr_shadow_total)", |v| v >= 2.0).await, 2.0, "one sample per answer");
    prometheus.wait_for(r#"ocr_models_loaded{engine="tesseract"}"#, |v| v == 1.0).await;
    prometheus.wait_for("ocr_models_loaded", |v| v == 1.0).await;
    prometheus.wait_for("process_resident_memory_bytes", |v| v > 50e6).await;
    prometheus.wait_for("process_cpu_seconds_total", |v| v > 0.0).await;
    let build = prometheus.query("inference_hub_build_info").await;
    assert_eq!(build[0]["metric"]["version"], env!("CARGO_PKG_VERSION"), "{build:?}");
    // Every figure names its CPU: the model and the int8 kernel family.
    let cpu = prometheus.query("inference_hub_cpu_info").await;
    assert!(cpu[0]["metric"]["isa"].as_str().is_some_and(|isa| !isa.is_empty()), "{cpu:?}");
    assert!(cpu[0]["metric"]["model"].as_str().is_some_and(|model| !model.is_empty()), "{cpu:?}");
    assert_eq!(prometheus.wait_for("ocr_precision_fallback", |v| v == 0.0).await, 0.0);
    let precision = r#"ocr_model_precision{engine="paddle",precision="int8",requested="int8"}"#;
    assert_eq!(prometheus.wait_for(precision, |v| v == 1.0).await, 1.0);

    // The exposition itself passes promtool's checks and lint.
    let (status, headers, exposition) = server.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    let content_type = headers[CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    promtool_check(&exposition);
    assert_eq!(
        exposed(&exposition, r#"ocr_requests_total{outcome="success",engine="paddle"}"#),
        Some(2.0),
        "{exposition}"
    );

    // Every Grafana panel query names only exported metrics and returns data.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("deploy/grafana/inference-hub.json")).unwrap(),
    )
    .expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_owned()))
        .collect();
    assert!(exprs.len() >= 6, "{exprs:?}");
    let mut named = BTreeSet::new();
    for expr in &exprs {
        for metric in metric_names(expr) {
            assert!(
                exposition
                    .lines()
                    .any(|l| l.starts_with(&format!("{metric}{{")) || l.starts_with(&format!("{metric} "))),
                "the dashboard's {metric} (in {expr}) is not in the scrape:\n{exposition}"
            );
            named.insert(metric);
        }
        let result = prometheus.wait_for_series(expr).await;
        assert!(result.iter().all(|s| sample_value(s).is_some()), "{expr}: {result:?}");
    }
    for needed in [
        "ocr_requests_total",
        "request_predict_seconds_bucket",
        "process_cpu_seconds_total",
        "ocr_queue_depth",
        "merchant_directory_entries",
    ] {
        assert!(named.contains(needed), "no panel uses {needed}: {named:?}");
    }

    // KServe protocol errors are counted by code, as the service's own are.
    let reply = server.post_raw("/v2/models/ocr/infer", "application/json", b"{not json".to_vec()).await;
    assert_protocol_error(&reply, 400, "bad_request", "not valid");
    let reply = post_json(&server, "/v2/models/other/infer", &json!({"inputs": []})).await;
    assert_protocol_error(&reply, 404, "model_not_found", "`other`");
    let (_, _, scrape) = server.get_text("/metrics", &[]).await;
    for code in ["bad_request", "model_not_found"] {
        let counted =
            scrape.lines().any(|l| l.starts_with("request_errors_total{") && l.contains(&format!("code=\"{code}\"")));
        assert!(counted, "protocol error {code} not in request_errors_total");
    }

    // The request id is on the request's log lines; recognised text is not.
    let logs = server.wait_for_log("OCR processing time", 2);
    let line = logs.lines().find(|l| l.contains("receipt-42")).unwrap_or_else(|| panic!("no receipt-42 line:\n{logs}"));
    assert!(line.contains("OCR processing time"), "{line}");
    for word in ["TOTAL", "CASH", "THANK"] {
        assert!(!logs.contains(word), "recognised text {word:?} in the logs:\n{logs}");
    }
    std::fs::remove_file(directory).unwrap();
}

/// Metric names in a PromQL expression: identifiers that are not functions,
/// keywords, label names (in `{}` or after `by`/`without`) or durations.
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: [&str; 9] = ["by", "without", "on", "ignoring", "bool", "and", "or", "unless", "offset"];
    // Aggregations may take `by (...)` before their parenthesis.
    const AGGREGATIONS: [&str; 6] = ["sum", "min", "max", "avg", "count", "group"];
    let bytes = expr.as_bytes();
    let (mut names, mut i, mut skip_group) = (Vec::new(), 0, false);
    while i < bytes.len() {
        let c = bytes[i] as char;
        if c == '{' || c == '[' || c == '"' || (c == '(' && skip_group) {
            let close = match c {
                '{' => '}',
                '[' => ']',
                '"' => '"',
                _ => ')',
            };
            skip_group = false;
            i += 1 + expr[i + 1..].find(close).expect("balanced PromQL");
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let next = expr[i..].trim_start().chars().next();
            if KEYWORDS.contains(&word) {
                skip_group = matches!(word, "by" | "without" | "on" | "ignoring");
            } else if next != Some('(') && !AGGREGATIONS.contains(&word) {
                names.push(word.to_owned());
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn promql_metric_names_are_found() {
    let expr =
        r#"histogram_quantile(0.95, sum by (le, stage) (rate(ocr_inference_stage_seconds_bucket{stage="x"}[5m])))"#;
    assert_eq!(metric_names(expr), ["ocr_inference_stage_seconds_bucket"]);
    let ratio = r#"sum(rate(a_total{outcome="error"}[5m])) / sum(rate(b_total[5m]))"#;
    assert_eq!(metric_names(ratio), ["a_total", "b_total"]);
}

/// `/metrics` is open by default, like the probes, even with API keys set;
/// `--protect-metrics` puts it behind the same keys as the OCR routes.
#[tokio::test]
async fn protect_metrics_switch_guards_metrics() {
    let open = Server::start_with_env(&["--api-keys", "k1"], &[("AI_ENABLE_OCR", "0")]);
    let (status, _, body) = open.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("inference_hub_build_info"), "{body}");

    let guarded = Server::start_with_env(&["--api-keys", "k1", "--protect-metrics", "true"], &[("AI_ENABLE_OCR", "0")]);
    let refused = guarded.get("/metrics").await;
    assert_error(&refused, 401, "unauthorized");
    let (status, _, _) = guarded.get_text("/metrics", &[("authorization", "Bearer k1")]).await;
    assert_eq!(status, 200);
    // The probes stay open either way.
    assert_eq!(guarded.get("/live").await.status, 200);
}
