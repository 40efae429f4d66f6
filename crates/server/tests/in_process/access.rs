//! Access control: API keys (401), the IP allow-list (403) and the
//! per-client rate limit (429) guard inference, the probes stay open, and
//! keys never reach the log. (A bad allow-list stopping the start with exit
//! status 1 is a process matter: `tests/access.rs`.)

use std::net::IpAddr;

use axum::http::header::RETRY_AFTER;
use inference_hub::wire::access::AccessPolicy;

use crate::common::{Reply, assert_error, receipt_png};
use crate::harness::{App, Form, assert_fake_read, logs, serve_args};

const ROUTE: &str = "/v1/ocr/receipt";
const KEY: &str = "hub-test-key-5f1c9a";
const FILE_KEY: &str = "hub-file-key-77d2e0";

async fn post_with(app: &App, headers: &[(&str, &str)]) -> Reply {
    post_from(app, crate::harness::CLIENT, headers).await
}

async fn post_from(app: &App, peer: IpAddr, headers: &[(&str, &str)]) -> Reply {
    let request = Form::new().file("file", "r.png", "image/png", &receipt_png()).request(ROUTE, headers);
    app.send_from(peer, request).await.reply()
}

#[tokio::test]
async fn api_keys_guard_inference_and_never_reach_the_log() {
    let dir = std::env::temp_dir().join(format!("hub-keys-in-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("keys");
    std::fs::write(&key_file, format!("# mounted secret\n\n{FILE_KEY}\n")).unwrap();
    let app = App::ready(&["--workers", "1", "--api-keys", KEY, "--api-keys-file", key_file.to_str().unwrap()]);
    // Probes need no key.
    assert_eq!(app.get("/ready").await.status, 200);
    assert_eq!(app.get("/health").await.status, 200);
    assert_eq!(app.get("/live").await.status, 200);

    let denied = post_with(&app, &[]).await;
    assert_error(&denied, 401, "unauthorized");
    assert_eq!(denied.headers.get("www-authenticate").unwrap(), "Bearer");
    assert_error(&post_with(&app, &[("Authorization", "Bearer wrong-key")]).await, 401, "unauthorized");
    assert_error(&post_with(&app, &[("X-API-Key", &KEY[..KEY.len() - 1])]).await, 401, "unauthorized");
    assert_error(&post_with(&app, &[("Authorization", "Basic aHViOmtleQ==")]).await, 401, "unauthorized");
    assert_error(&post_with(&app, &[("Authorization", KEY)]).await, 401, "unauthorized");

    for headers in [
        [("Authorization", format!("Bearer {KEY}"))],
        [("X-API-Key", KEY.to_owned())],
        [("authorization", format!("bearer {FILE_KEY}"))],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_fake_read(&post_with(&app, &headers).await);
    }
    // The policy line `serve` logs at start-up, and every line logged since
    // (trace level for our crates), name no key.
    assert!(app.access.contains("API keys 2 keys"), "the policy is described: {}", app.access);
    let logs = logs() + &app.access;
    assert!(logs.contains("OCR processing time"), "the requests were logged:\n{logs}");
    assert!(!logs.contains(KEY) && !logs.contains(FILE_KEY), "a key reached the log:\n{logs}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn allow_list_refuses_other_addresses_but_not_probes() {
    // The client is 127.0.0.1, outside both blocks.
    let app = App::ready(&["--workers", "1", "--allow-ips", "10.0.0.0/8,192.168.7.20"]);
    assert_error(&post_with(&app, &[]).await, 403, "forbidden");
    assert_eq!(app.get("/ready").await.status, 200);
    // Inside either block.
    for peer in ["10.20.30.40", "192.168.7.20", "::ffff:10.0.0.1"] {
        assert_fake_read(&post_from(&app, peer.parse().unwrap(), &[]).await);
    }
    assert_error(&post_from(&app, "192.168.7.21".parse().unwrap(), &[]).await, 403, "forbidden");

    let app = App::ready(&["--workers", "1", "--allow-ips", "10.0.0.0/8, 127.0.0.0/8"]);
    assert_fake_read(&post_with(&app, &[]).await);
}

#[test]
fn bad_allow_list_is_refused_naming_the_entry() {
    let args = serve_args(&["--allow-ips", "odoo.internal"]);
    let error = AccessPolicy::from_args(&args.access).err().expect("a host name is not an address");
    let message = format!("{error:#}");
    assert!(message.contains("odoo.internal") && message.contains("--allow-ips"), "{message}");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_per_client() {
    let app = App::ready(&["--workers", "1", "--rate-limit", "2", "--rate-burst", "2"]);
    for _ in 0..2 {
        assert_fake_read(&post_with(&app, &[]).await);
    }
    let limited = post_with(&app, &[]).await;
    assert_error(&limited, 429, "rate_limited");
    let retry: u64 = limited.headers.get(RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // Another client has a bucket of its own.
    assert_fake_read(&post_from(&app, "10.0.0.7".parse().unwrap(), &[]).await);
    // Probes are not counted.
    assert_eq!(app.get("/health").await.status, 200);
}
