//! Open Inference Protocol (KServe V2) on a real server: conformance checked
//! by a third-party client (NVIDIA's tritonclient[http], from the venv that
//! scripts/setup.sh makes), then the protocol's edge cases over plain HTTP.

mod common;

use std::process::Command;

use common::kserve::{assert_protocol_error, b64, lines_of, post_json};
use common::{Server, assert_reads, encode, receipt, workspace_root};
use image::ImageFormat;
use serde_json::{Value, json};

const INFER: &str = "/v2/models/ocr/infer";

/// One BYTES input `image` holding these elements.
fn infer_request(elements: Vec<Value>) -> Value {
    let n = elements.len();
    json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [n], "data": elements}]})
}

#[tokio::test]
async fn tritonclient_checks_health_metadata_and_infers_with_json_and_binary_data() {
    let server = Server::start(&[]);
    // Not ready while the models load: both health routes say so with 503.
    let (ready, model_ready) = (server.get("/v2/health/ready").await, server.get("/v2/models/ocr/ready").await);
    assert_eq!((ready.status, &ready.json), (503, &json!({"ready": false})));
    assert_eq!((model_ready.status, &model_ready.json), (503, &json!({"name": "ocr", "ready": false})));
    let live = server.get("/v2/health/live").await;
    assert_eq!((live.status, &live.json), (200, &json!({"live": true})));
    server.wait_ready().await;

    let rendered = receipt();
    let dir = std::env::temp_dir().join(format!("hub-oip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (png, jpeg) = (dir.join("receipt.png"), dir.join("receipt.jpg"));
    std::fs::write(&png, encode(&rendered.image, ImageFormat::Png)).unwrap();
    std::fs::write(&jpeg, encode(&rendered.image, ImageFormat::Jpeg)).unwrap();

    let root = workspace_root();
    let python = root.join(".cache/oip-client-venv/bin/python");
    assert!(python.is_file(), "{} is missing: run `bash scripts/setup.sh`", python.display());
    let host = server.addr.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("scripts/oip_conformance.py"))
            .args([host.as_str(), "ocr"])
            .args([&png, &jpeg])
            .env("NO_PROXY", "*")
            .output()
            .expect("cannot run the conformance script")
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "conformance script failed: {stderr}\nserver log:\n{}", server.logs());

    // Every mode read both images, and all modes agree line for line.
    let results: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    for mode in ["json", "binary", "default"] {
        let answers = results[mode].as_array().unwrap_or_else(|| panic!("no {mode} results: {results}"));
        assert_eq!(answers.len(), 2, "{mode}: one answer per image");
        for answer in answers {
            assert_reads(answer, &rendered);
        }
        assert_eq!(lines_of(&answers[0]), lines_of(&results["json"][0]), "{mode} differs from json");
    }
}

#[tokio::test]
async fn protocol_errors_name_the_bad_image_and_a_batch_is_queued_at_once() {
    let server = Server::start(&["--max-batch", "3", "--max-upload-mb", "1"]);
    // One worker and one queue slot: a batch of three cannot all be held.
    let small = Server::start(&["--workers", "1", "--queue-size", "1"]);
    server.wait_ready().await;
    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);

    // The shapes clients send: [N], or nested [N, 1].
    let mut request = infer_request(vec![json!(b64(&png))]);
    let reply = post_json(&server, INFER, &request).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let output = &reply.json["outputs"][0];
    assert_eq!(
        (&output["name"], &output["datatype"], &output["shape"]),
        (&json!("result"), &json!("BYTES"), &json!([1]))
    );
    let text = output["data"][0].as_str().expect("a JSON string per image");
    assert_reads(&serde_json::from_str(text).unwrap(), &rendered);
    request["inputs"][0]["shape"] = json!([1, 1]);
    request["inputs"][0]["data"] = json!([[b64(&png)]]);
    assert_eq!(post_json(&server, INFER, &request).await.status, 200);

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
        let reply = post_json(&server, INFER, &body).await;
        assert_protocol_error(&reply, status, code, fragment);
    }
    // Size limits: each image is held to --max-upload-mb once decoded, and the
    // body may carry --max-batch of them, more than one upload's limit.
    let (under, over) = (vec![0u8; 900 * 1024], vec![0u8; 1024 * 1024 + 1]);
    let reply = post_json(&server, INFER, &infer_request(vec![json!(b64(&under)); 3])).await;
    assert_protocol_error(&reply, 415, "unsupported_media_type", "image 0: ");
    let reply = post_json(&server, INFER, &infer_request(vec![json!(b64(&png)), json!(b64(&over))])).await;
    assert_protocol_error(&reply, 413, "file_too_large", "image 1: ");
    let mut huge = infer_request(vec![json!(b64(&under)); 3]);
    huge["inputs"][0]["parameters"] = json!({"padding": "x".repeat(2 * 1024 * 1024)});
    // The server answers before reading it all, so a raw socket reads the answer.
    let body = serde_json::to_vec(&huge).unwrap();
    let request = common::raw_request("POST", INFER, server.addr, &[("Content-Type", "application/json")], &body);
    let raw = tokio::task::spawn_blocking(move || common::exchange_raw(server.addr, request, None)).await.unwrap();
    let (status, headers, text) = common::parse_raw(&raw).expect("an HTTP answer");
    let reply = common::Reply { status, headers, json: common::parse_json(status, &text) };
    assert_protocol_error(&reply, 413, "file_too_large", "the upload exceeds the limit");

    let mut unknown_output = infer_request(vec![json!(b64(&png))]);
    unknown_output["outputs"] = json!([{"name": "text"}]);
    assert_protocol_error(
        &post_json(&server, INFER, &unknown_output).await,
        400,
        "bad_request",
        "unknown output `text`",
    );
    let reply = server.post_raw(INFER, "application/json", b"{not json".to_vec()).await;
    assert_protocol_error(&reply, 400, "bad_request", "not valid");
    let reply = post_json(&server, "/v2/models/other/infer", &infer_request(vec![json!(b64(&png))])).await;
    assert_protocol_error(&reply, 404, "model_not_found", "`other`");
    let (_, _, scrape) = server.get_text("/metrics", &[]).await;
    for code in ["bad_request", "model_not_found"] {
        let counted =
            scrape.lines().any(|l| l.starts_with("request_errors_total{") && l.contains(&format!("code=\"{code}\"")));
        assert!(counted, "protocol error {code} not in request_errors_total");
    }

    // Binary data whose header length or element lengths do not add up.
    let header = serde_json::to_vec(&json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
        "parameters": {"binary_data_size": 8}}]}))
    .unwrap();
    for (tail, fragment) in
        [(&b"\x09\x00\x00\x00abcd"[..], "length 9"), (&b"\x01\x00\x00\x00a"[..], "binary_data_size is 8")]
    {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let body = [header.as_slice(), tail].concat();
        let sent = client
            .post(server.url(INFER))
            .header("Inference-Header-Content-Length", header.len().to_string())
            .body(body)
            .send()
            .await;
        let reply = common::into_reply("POST", INFER, sent).await;
        assert_protocol_error(&reply, 400, "bad_request", fragment);
    }

    // All images of a batch are queued at once (one runs, one waits), so the
    // third finds the queue full and the whole request gets 429.
    small.wait_ready().await;
    let reply = post_json(&small, INFER, &infer_request(vec![json!(b64(&png)); 3])).await;
    assert_protocol_error(&reply, 429, "overloaded", "too many requests in flight");
    let message = reply.json["error"].as_str().unwrap();
    assert!(message.starts_with("image 1: ") || message.starts_with("image 2: "), "{message}");
    assert_eq!(reply.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
}

/// The access policy guards inference but not health or metadata, and a
/// server whose models failed to load is not ready and refuses with 503.
#[tokio::test]
async fn infer_is_guarded_and_refused_without_models() {
    let server = Server::start(&["--api-keys", "k1", "--model-dir", "/nonexistent"]);
    let png = encode(&receipt().image, ImageFormat::Png);
    let request = serde_json::to_vec(&infer_request(vec![json!(b64(&png))])).unwrap();
    let reply = server.post_raw(INFER, "application/json", request.clone()).await;
    assert_protocol_error(&reply, 401, "unauthorized", "API key");
    assert_eq!(reply.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

    let metadata = server.get("/v2/models/ocr").await;
    assert_eq!(metadata.status, 200, "{}", metadata.json);
    assert_eq!(server.get("/v2").await.status, 200);
    server.wait_for_log("Model loading failed", 1);
    assert_eq!(server.get("/v2/health/ready").await.status, 503);
    assert_eq!(server.get("/v2/models/ocr/ready").await.status, 503);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let sent = client.post(server.url(INFER)).header("x-api-key", "k1").body(request).send().await;
    let reply = common::into_reply("POST", INFER, sent).await;
    assert_protocol_error(&reply, 503, "models_unavailable", "/nonexistent/");
}

/// deploy/kserve/inferenceservice.yaml stays true to the binary: its probe
/// paths answer on the port it declares, and every variable it sets is one
/// that `serve` reads.
#[tokio::test]
async fn the_inference_service_probes_and_env_match_the_binary() {
    let yaml = std::fs::read_to_string(workspace_root().join("deploy/kserve/inferenceservice.yaml")).unwrap();
    let values = |key: &str| -> Vec<String> {
        yaml.lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    assert_eq!(values("containerPort:"), ["8100"]);
    assert!(values("port:").iter().all(|p| p == "8100"), "{:?}", values("port:"));
    let server = Server::start_with_env(&[], &[("AI_ENABLE_OCR", "0")]);
    let paths = values("path:");
    assert_eq!(paths, ["/v2/health/ready", "/v2/health/live"]);
    for path in &paths {
        assert_eq!(server.get(path).await.status, 200, "{path}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_inference-hub")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let names = values("name:");
    let env: Vec<&String> = names.iter().filter(|n| n.starts_with("HUB_")).collect();
    assert!(env.len() >= 5, "{env:?}");
    for name in env {
        assert!(help.contains(&format!("[env: {name}=")), "serve does not read {name}");
    }
}
