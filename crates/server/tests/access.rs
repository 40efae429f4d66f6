//! Access control on a real server: API keys (401), the IP allow-list (403)
//! and the per-client rate limit (429) guard inference, the probes stay
//! open, and keys never reach the log.

mod common;

use common::{Server, assert_error, assert_reads, file_form, receipt, receipt_png};
use reqwest::header::RETRY_AFTER;

const ROUTE: &str = "/v1/ocr/receipt";
const KEY: &str = "hub-test-key-5f1c9a";
const FILE_KEY: &str = "hub-file-key-77d2e0";

async fn post_with(server: &Server, headers: &[(&str, &str)]) -> common::Reply {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client.post(server.url(ROUTE)).multipart(file_form("file", receipt_png(), "r.png", "image/png"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    common::into_reply("POST", ROUTE, request.send().await).await
}

#[tokio::test]
async fn api_keys_guard_inference_and_never_reach_the_log() {
    let dir = std::env::temp_dir().join(format!("hub-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("keys");
    std::fs::write(&key_file, format!("# mounted secret\n\n{FILE_KEY}\n")).unwrap();
    let server = Server::start_with_env(
        &["--workers", "1"],
        &[("HUB_API_KEYS", KEY), ("HUB_API_KEYS_FILE", key_file.to_str().unwrap())],
    );
    // Probes need no key.
    server.wait_ready().await;
    assert_eq!(server.get("/health").await.status, 200);
    assert_eq!(server.get("/live").await.status, 200);

    let denied = post_with(&server, &[]).await;
    assert_error(&denied, 401, "unauthorized");
    assert_eq!(denied.headers.get("www-authenticate").unwrap(), "Bearer");
    assert_error(&post_with(&server, &[("Authorization", "Bearer wrong-key")]).await, 401, "unauthorized");
    assert_error(&post_with(&server, &[("X-API-Key", &KEY[..KEY.len() - 1])]).await, 401, "unauthorized");
    assert_error(&post_with(&server, &[("Authorization", "Basic aHViOmtleQ==")]).await, 401, "unauthorized");
    assert_error(&post_with(&server, &[("Authorization", KEY)]).await, 401, "unauthorized");

    let rendered = receipt();
    for headers in [
        [("Authorization", format!("Bearer {KEY}"))],
        [("X-API-Key", KEY.to_owned())],
        [("authorization", format!("bearer {FILE_KEY}"))],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = post_with(&server, &headers).await;
        assert_eq!(reply.status, 200, "{headers:?}: {}", reply.json);
        assert_reads(&reply.json, &rendered);
    }
    let logs = server.wait_for_log("OCR processing time", 3);
    assert!(logs.contains("API keys 2 keys"), "the policy is logged:\n{logs}");
    assert!(!logs.contains(KEY) && !logs.contains(FILE_KEY), "a key reached the log:\n{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn allow_list_refuses_other_addresses_but_not_probes() {
    // The test client is 127.0.0.1, outside both blocks.
    let server = Server::start(&["--workers", "1", "--allow-ips", "10.0.0.0/8,192.168.7.20"]);
    server.wait_ready().await;
    assert_error(&post_with(&server, &[]).await, 403, "forbidden");
    assert_eq!(server.get("/ready").await.status, 200);
    drop(server);

    let server = Server::start(&["--workers", "1", "--allow-ips", "10.0.0.0/8, 127.0.0.0/8"]);
    server.wait_ready().await;
    let reply = post_with(&server, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
}

#[tokio::test]
async fn bad_allow_list_stops_the_start_with_a_clear_message() {
    let mut server = Server::start_or_exit(&["--allow-ips", "odoo.internal"]);
    assert_eq!(server.wait_exit(std::time::Duration::from_secs(10)), Some(1));
    assert!(server.logs().contains("odoo.internal"), "{}", server.logs());
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_per_client() {
    let server = Server::start(&["--workers", "1", "--rate-limit", "2", "--rate-burst", "2"]);
    server.wait_ready().await;
    for _ in 0..2 {
        let reply = post_with(&server, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }
    let limited = post_with(&server, &[]).await;
    assert_error(&limited, 429, "rate_limited");
    let retry: u64 = limited.headers.get(RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // Probes are not counted.
    assert_eq!(server.get("/health").await.status, 200);
}
