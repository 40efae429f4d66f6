//! The result cache on the real binary with a real `redis-server`: a
//! repeated receipt is answered from memory, another replica finds it in
//! Redis, `Cache-Control: no-cache` reads again, a different engine or
//! profile never shares an answer, and Redis dying mid-test fails nothing.

mod common;

use common::prometheus::exposed;
use common::redis::Redis;
use common::{Reply, Server, assert_reads, encode, png_form, render};
use image::ImageFormat;

/// A receipt whose bytes are unique to `n`.
fn receipt(n: usize) -> (common::Rendered, Vec<u8>) {
    let total = format!("TOTAL {n}.50");
    let rendered = render(900, 400, &[(total.as_str(), 60, 50), ("CASH 20.00", 60, 170)]);
    let png = encode(&rendered.image, ImageFormat::Png);
    (rendered, png)
}

async fn post(server: &Server, png: &[u8], engine: Option<&str>, no_cache: bool) -> Reply {
    let mut form = png_form("file", png);
    if let Some(engine) = engine {
        form = form.text("engine", engine.to_owned());
    }
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.post(server.url("/v1/ocr/receipt")).multipart(form);
    if no_cache {
        request = request.header("cache-control", "no-cache");
    }
    common::into_reply("POST", "/v1/ocr/receipt", request.send().await).await
}

fn cache_of(reply: &Reply) -> &str {
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.headers.get("x-cache").and_then(|v| v.to_str().ok()).expect("X-Cache on every answer")
}

/// The answer without its timing: what a hit must repeat exactly.
fn body_without_time(reply: &Reply) -> serde_json::Value {
    let mut body = reply.json.clone();
    body.as_object_mut().unwrap().remove("processing_time_ms");
    body
}

async fn metric(server: &Server, series: &str) -> f64 {
    let (_, _, text) = server.get_text("/metrics", &[]).await;
    exposed(&text, series).unwrap_or(0.0)
}

#[tokio::test]
async fn replicas_share_answers_through_redis_and_survive_its_death() {
    let mut redis = Redis::start();
    let url = redis.url();
    let shared = ["--cache-url", url.as_str(), "--cache-timeout-ms", "200", "--workers", "1"];
    let a = Server::start(&[&shared[..], &["--engines", "paddle,tesseract"]].concat());
    let b = Server::start(&shared);
    let fast = Server::start(&[&shared[..], &["--profile", "fast"]].concat());
    for server in [&a, &b, &fast] {
        server.wait_ready().await;
    }
    let (rendered, png) = receipt(1);

    let first = post(&a, &png, None, false).await;
    assert_eq!(cache_of(&first), "miss");
    assert_reads(&first.json, &rendered);
    let again = post(&a, &png, None, false).await;
    assert_eq!(cache_of(&again), "hit");
    assert_eq!(body_without_time(&again), body_without_time(&first), "a hit answers what the miss did");
    // The other replica finds it in Redis, without reading it.
    let other = post(&b, &png, None, false).await;
    assert_eq!(cache_of(&other), "hit");
    assert_eq!(body_without_time(&other), body_without_time(&first));
    assert_eq!(metric(&b, r#"ocr_processing_seconds_count{engine="paddle"}"#).await, 0.0, "B read nothing");
    // Another profile or engine is another answer: never shared.
    assert_eq!(cache_of(&post(&fast, &png, None, false).await), "miss");
    let tesseract = post(&a, &png, Some("tesseract"), false).await;
    assert_eq!((cache_of(&tesseract), tesseract.json["engine"].as_str()), ("miss", Some("tesseract")));
    // no-cache reads again (and stores).
    assert_eq!(cache_of(&post(&a, &png, None, true).await), "bypass");
    assert_eq!(metric(&a, r#"ocr_processing_seconds_count{engine="paddle"}"#).await, 2.0);

    // Redis dies: every request is still answered, read by the engine.
    redis.kill();
    for n in 2..8 {
        let (rendered, png) = receipt(n);
        for server in [&a, &b] {
            let reply = post(server, &png, None, false).await;
            assert_eq!(cache_of(&reply), "miss", "{}", reply.json);
            assert_reads(&reply.json, &rendered);
        }
    }
    // The memory layer still answers repeats.
    assert_eq!(cache_of(&post(&b, &receipt(7).1, None, false).await), "hit");
    let failures = metric(&a, r#"ocr_cache_redis_errors_total{op="get",reason="error"}"#).await
        + metric(&a, r#"ocr_cache_redis_errors_total{op="get",reason="timeout"}"#).await
        + metric(&a, r#"ocr_cache_requests_total{layer="redis",outcome="skipped"}"#).await;
    assert!(failures >= 1.0, "the lost Redis is counted");
    assert!(metric(&a, r#"ocr_cache_entries{layer="memory"}"#).await >= 1.0);
    let logs = a.logs();
    assert!(!logs.contains("TOTAL"), "no recognised text in the log:\n{logs}");
}
