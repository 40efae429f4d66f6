//! `inference-hub gateway` in front of a real `inference-hub serve`, both
//! the real binary on loopback: the same lines as the model server gives
//! directly, over KServe V1 and V2. Then the failure paths, against model
//! servers that are down, silent, failing or not ready (small TCP stubs
//! where a real server cannot misbehave on purpose).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::kserve::lines_of;
use common::{Server, assert_error, assert_reads, encode, file_part, png_form, receipt};
use image::ImageFormat;
use reqwest::multipart::Form;
use serde_json::json;

/// Polls the gateway's /ready until 200.
async fn wait_gateway_ready(gateway: &Server) {
    let deadline = Instant::now() + common::LOAD_TIMEOUT;
    while gateway.get("/ready").await.status != 200 {
        assert!(Instant::now() < deadline, "gateway not ready; its log:\n{}", gateway.logs());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The gateway's Prometheus text.
async fn metrics(gateway: &Server) -> String {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(gateway.url("/metrics")).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

/// Asserts that the Prometheus text has this sample line.
fn assert_sample(text: &str, sample: &str) {
    assert!(text.lines().any(|line| line == sample), "no `{sample}` in:\n{text}");
}

#[tokio::test]
async fn gateway_returns_the_model_servers_lines_over_v1_and_v2() {
    let server = Server::start(&[]);
    let upstream = format!("http://{}", server.addr);
    let v2 = Server::start_gateway(&["--upstream", &upstream]);
    let v1 = Server::start_gateway(&["--upstream", &upstream, "--protocol", "v1"]);
    server.wait_ready().await;

    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let direct = server.post_form("/v1/ocr/receipt", png_form("file", &png)).await;
    assert_eq!(direct.status, 200, "{}", direct.json);
    let truncated = &png[..png.len() / 2];
    for gateway in [&v1, &v2] {
        wait_gateway_ready(gateway).await;
        let live = gateway.get("/live").await;
        assert_eq!((live.status, &live.json), (200, &json!({"status": "alive"})));
        for (route, field) in [("/gateway/ocr", "image_file"), ("/v1/ocr/receipt", "file"), ("/v1/parse", "image_file")]
        {
            let reply = gateway.post_form(route, png_form(field, &png)).await;
            assert_eq!(reply.status, 200, "{route}: {}", reply.json);
            assert_eq!(reply.headers["x-ocr-engine"], "paddle", "{route}");
            assert_reads(&reply.json, &rendered);
            assert_eq!(lines_of(&reply.json), lines_of(&direct.json), "{route}: not the model server's lines");
        }
        // The model server's refusal comes back in the service's own error contract.
        let reply = gateway.post_form("/gateway/ocr", png_form("image_file", truncated)).await;
        assert_error(&reply, 400, "invalid_image");
        assert!(!reply.json["error"]["message"].as_str().unwrap().starts_with("image 0"), "{}", reply.json);
    }
    // The model server logs its V1 and V2 batches without their text either.
    let logs = server.wait_for_log("OCR batch processing time", 6);
    for word in ["TOTAL", "CASH", "THANK"] {
        assert!(!logs.to_uppercase().contains(word), "recognised text {word:?} in the model server log:\n{logs}");
    }
    for gateway in [&v1, &v2] {
        let text = metrics(gateway).await;
        assert_sample(&text, r#"gateway_requests_total{status="200"} 3"#);
        assert_sample(&text, r#"gateway_requests_total{status="400"} 1"#);
        assert_sample(&text, "gateway_upstream_seconds_count 4");
        let logs = gateway.wait_for_log("model server round trip", 4);
        assert!(!logs.contains("Loading PaddleOCR models"), "the gateway must load no models:\n{logs}");
        for word in ["TOTAL", "CASH", "THANK"] {
            assert!(!logs.to_uppercase().contains(word), "recognised text {word:?} in the gateway log:\n{logs}");
        }
    }

    // The request's options reach the model server: fields (form or query),
    // an engine by name, pdf_text; bad values get the service's own errors.
    let direct = server.post_form("/v1/ocr/receipt", png_form("file", &png).text("fields", "true")).await;
    assert_eq!(direct.status, 200, "{}", direct.json);
    assert!(direct.json["fields"]["total"].is_string(), "{}", direct.json);
    for gateway in [&v1, &v2] {
        for (route, form) in [
            ("/v1/ocr/receipt", png_form("file", &png).text("fields", "true")),
            ("/gateway/ocr?fields=true", png_form("image_file", &png)),
            ("/v1/ocr?fields=true&engine=paddle&pdf_text=off", png_form("file", &png).text("engine", "paddle")),
        ] {
            let reply = gateway.post_form(route, form).await;
            assert_eq!(reply.status, 200, "{route}: {}", reply.json);
            assert_eq!(reply.json["fields"], direct.json["fields"], "{route}: not the model server's fields");
            assert_eq!(lines_of(&reply.json), lines_of(&direct.json), "{route}");
        }
        let reply = gateway.post_form("/v1/ocr/receipt?fields=false", png_form("file", &png)).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert!(reply.json.get("fields").is_none(), "fields=false: {}", reply.json);
        for (route, form_fields, code) in [
            ("/v1/ocr/receipt?engine=tesseract", None, "unknown_engine"),
            ("/v1/ocr/receipt?engine=..%2Focr", None, "unknown_engine"),
            ("/v1/ocr/receipt?fields=maybe", None, "invalid_parameter"),
            ("/v1/ocr/receipt?fields=true", Some("false"), "invalid_parameter"),
            ("/v1/ocr/receipt?pdf_text=sideways", None, "invalid_parameter"),
        ] {
            let mut form = png_form("file", &png);
            if let Some(value) = form_fields {
                form = form.text("fields", value);
            }
            let reply = gateway.post_form(route, form).await;
            assert_error(&reply, 400, code);
        }
    }

    // A batch: each image read by the model server, a bad one failing in
    // its place, in the service's own batch answer.
    let batch = || {
        png_form("file", &png)
            .text("fields", "true")
            .part("file", file_part(truncated.to_vec(), "bad.png", "image/png"))
            .part("files", file_part(png.clone(), "again.png", "image/png"))
    };
    let direct = server.post_form("/v1/ocr/batch", batch()).await;
    assert_eq!(direct.status, 200, "{}", direct.json);
    for gateway in [&v1, &v2] {
        let reply = gateway.post_form("/v1/ocr/batch", batch()).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        let (results, expected) =
            (reply.json["results"].as_array().unwrap(), direct.json["results"].as_array().unwrap());
        assert_eq!(
            (&reply.json["count"], &reply.json["succeeded"], &reply.json["failed"]),
            (&json!(3), &json!(2), &json!(1))
        );
        for (got, want) in results.iter().zip(expected) {
            let (mut got, mut want) = (got.clone(), want.clone());
            assert_eq!(
                got.as_object_mut().unwrap().remove("filename"),
                want.as_object_mut().unwrap().remove("filename")
            );
            match want.get("error") {
                Some(error) => assert_eq!(got["error"]["code"], error["code"], "{got}"),
                None => {
                    assert_eq!(lines_of(&got), lines_of(&want), "{got}");
                    assert_eq!(got["fields"], want["fields"], "{got}");
                }
            }
        }
        assert_eq!(results[1]["error"]["code"], "invalid_image", "{}", reply.json);
        assert_eq!(reply.headers["x-ocr-engine"], "paddle");
        assert!(results[0]["fields"]["total"].is_string(), "{}", reply.json);
        // An engine the model server does not run refuses the whole batch, as the service does.
        assert_error(&gateway.post_form("/v1/ocr/batch?engine=tesseract", batch()).await, 400, "unknown_engine");
    }
}

/// A stand-in model server on loopback that counts connections and either
/// never answers or answers every request with `answer`.
struct Stub {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl Stub {
    fn start(answer: Option<&'static str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        // The thread ends with the test process; silent connections stay open until then.
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                match answer {
                    Some(answer) => {
                        read_request(&mut stream);
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
        });
        Self { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request (headers and Content-Length body).
fn read_request(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Ok(n) = stream.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0usize);
            if body.len() >= length {
                return;
            }
        }
    }
}

/// A model server's refusal with one of the service's codes.
fn coded(status: &str, code: &str, message: &str) -> &'static str {
    let body = format!(r#"{{"error":"{message}"}}"#);
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Error-Code: {code}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_boxed_str())
}

fn answer(status: &str, content_type: &str, body: &str) -> &'static str {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_boxed_str())
}

#[tokio::test]
async fn upstream_down_slow_failing_or_not_ready_gets_clear_json_errors() {
    let png = encode(&receipt().image, ImageFormat::Png);
    let form = || png_form("image_file", &png);

    // Down: nothing listens on the port; each connection attempt is retried, then 502.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = Server::start_gateway(&["--upstream", &format!("http://127.0.0.1:{port}"), "--upstream-retries", "2"]);
    assert_error(&down.post_form("/gateway/ocr", form()).await, 502, "upstream_unavailable");
    down.wait_for_log("retrying in", 2);
    let text = metrics(&down).await;
    assert_sample(&text, "gateway_upstream_retries_total 2");
    assert_sample(&text, r#"gateway_requests_total{status="502"} 1"#);
    let ready = down.get("/ready").await;
    assert_eq!((ready.status, &ready.json["ready"]), (503, &json!(false)), "{}", ready.json);

    // Slow: the upstream accepts and never answers; 504 after the timeout,
    // with no retry (the request may have reached it).
    let silent = Stub::start(None);
    let slow = Server::start_gateway(&["--upstream", &silent.url, "--upstream-timeout-secs", "1"]);
    let started = Instant::now();
    assert_error(&slow.post_form("/v1/ocr/receipt", png_form("file", &png)).await, 504, "upstream_timeout");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(10), "answered after {waited:?}");
    assert_eq!(silent.connections(), 1, "a request that reached the upstream must not be retried");
    assert_eq!(slow.get("/ready").await.status, 503);
    // A batch has the same deadline as a whole, not one per image (16
    // images, four at a time, would take 4 s one after another).
    let batch =
        || (0..16).fold(Form::new(), |f, i| f.part("file", file_part(png.clone(), &format!("{i}.png"), "image/png")));
    let started = Instant::now();
    assert_error(&slow.post_form("/v1/ocr/batch", batch()).await, 504, "upstream_timeout");
    assert!(started.elapsed() < Duration::from_secs(3), "a batch answered after {:?}", started.elapsed());

    // Busy: one image's 429 is that image's; every image's is the batch's,
    // with Retry-After, as the service answers an overloaded batch.
    let busy = Stub::start(Some(coded("429 Too Many Requests", "overloaded", "too many requests in flight")));
    let gateway = Server::start_gateway(&["--upstream", &busy.url]);
    assert_error(&gateway.post_form("/v1/ocr/receipt", form()).await, 429, "overloaded");
    let reply = gateway.post_form("/v1/ocr/batch", batch()).await;
    assert_error(&reply, 429, "overloaded");
    assert_eq!(reply.headers["retry-after"], "1");
    // An error reading one image (here every one) stays in its place.
    let erring = Stub::start(Some(coded("500 Internal Server Error", "internal_error", "internal error")));
    let gateway = Server::start_gateway(&["--upstream", &erring.url]);
    let reply = gateway.post_form("/v1/ocr/batch", batch()).await;
    assert_eq!((reply.status, &reply.json["failed"]), (200, &json!(16)), "{}", reply.json);
    assert_eq!(reply.json["results"][15]["error"]["code"], "internal_error", "{}", reply.json);

    // Failing: a 500 with a body that is not the protocol's becomes 502.
    let failing = Stub::start(Some(answer("500 Internal Server Error", "text/plain", "oops")));
    let gateway = Server::start_gateway(&["--upstream", &failing.url]);
    let reply = gateway.post_form("/gateway/ocr", form()).await;
    assert_error(&reply, 502, "upstream_error");
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("500"), "{}", reply.json);

    // Not ready, without a code of ours: 503, and /ready says so too.
    let warming = Stub::start(Some(answer("503 Service Unavailable", "application/json", r#"{"error":"warming up"}"#)));
    let gateway = Server::start_gateway(&["--upstream", &warming.url]);
    let reply = gateway.post_form("/gateway/ocr", form()).await;
    assert_error(&reply, 503, "upstream_not_ready");
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("warming up"), "{}", reply.json);
    assert_eq!(gateway.get("/ready").await.status, 503);
    assert_error(&gateway.post_form("/v1/ocr/batch", batch()).await, 503, "upstream_not_ready");

    // A real model server whose models failed to load, and which wants an
    // API key: with the key its own 503 and code come back; without, the
    // gateway's configuration is at fault (502), not its client's request.
    let broken = Server::start(&["--model-dir", "/nonexistent", "--api-keys", "k1"]);
    broken.wait_for_log("Model loading failed", 1);
    let upstream = format!("http://{}", broken.addr);
    let gateway = Server::start_gateway(&["--upstream", &upstream, "--upstream-api-key", "k1"]);
    assert_error(&gateway.post_form("/gateway/ocr", form()).await, 503, "models_unavailable");
    assert_eq!(gateway.get("/ready").await.status, 503);
    let keyless = Server::start_gateway(&["--upstream", &upstream]);
    let reply = keyless.post_form("/gateway/ocr", form()).await;
    assert_error(&reply, 502, "upstream_error");
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("401"), "{}", reply.json);
}

#[tokio::test]
async fn bad_or_unauthorised_uploads_are_refused_by_the_gateway_before_forwarding() {
    let upstream = Stub::start(None);
    let mut gateway = Server::start_gateway(&["--upstream", &upstream.url, "--max-upload-mb", "1"]);
    let reply = gateway.post_file_early_answer("/gateway/ocr", "image_file", vec![0x89; 2 * 1024 * 1024]).await;
    assert_error(&reply, 413, "file_too_large");
    let reply = gateway
        .post_form("/gateway/ocr", common::file_form("image_file", b"GIF89a;".to_vec(), "r.gif", "image/gif"))
        .await;
    assert_error(&reply, 415, "unsupported_media_type");
    assert_error(&gateway.post_form("/gateway/ocr", png_form("other", b"x")).await, 400, "missing_file");
    // The access policy guards the upload routes; probes and metrics stay open.
    let guarded = Server::start_gateway(&["--upstream", &upstream.url, "--api-keys", "gk"]);
    assert_error(&guarded.post_form("/gateway/ocr", png_form("image_file", b"x")).await, 401, "unauthorized");
    assert_eq!(guarded.get("/live").await.status, 200);
    metrics(&guarded).await;
    assert_eq!(upstream.connections(), 0, "nothing may be forwarded");

    // SIGTERM: the gateway drains and exits cleanly, as the service does.
    gateway.terminate();
    assert_eq!(gateway.wait_exit(Duration::from_secs(10)), Some(0), "{}", gateway.logs());
}
