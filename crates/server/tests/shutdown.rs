//! Graceful shutdown: SIGTERM while requests are being processed lets every
//! accepted request finish, then the process exits 0.
//!
//! The test checks that requests really were in flight: before the signal
//! the server reports one waiting for its only worker (so another is being
//! processed), and after it the server logs, and the client receives, at
//! least one answer.

mod common;

use std::time::{Duration, Instant};

use common::{Server, assert_reads, png_form, receipt, receipt_png};

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    for engine in ["paddle", "tesseract"] {
        drains_then_exits(engine).await;
    }
}

async fn drains_then_exits(engine: &str) {
    // No result cache: the three identical uploads must each queue.
    let flags = ["--workers", "1", "--shutdown-grace-secs", "60", "--cache-mb", "0", "--engines", engine];
    let mut server = Server::start(&flags);
    server.wait_ready().await;

    // Three receipts on one worker: one running, two queued when SIGTERM lands.
    let url = server.url("/v1/ocr/receipt");
    let png = receipt_png();
    let requests: Vec<_> = (0..3)
        .map(|_| {
            let (url, form) = (url.clone(), png_form("file", &png));
            tokio::spawn(async move {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                let response = client.post(url).multipart(form).send().await.expect("accepted request answered");
                let status = response.status().as_u16();
                let json = response.json::<serde_json::Value>().await.expect("JSON body");
                (status, json, Instant::now())
            })
        })
        .collect();
    // The requests have reached the server once one waits for the worker
    // while another is being processed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue_depth(&server, engine).await < 1.0 {
        assert!(Instant::now() < deadline, "no request queued within 30 s; stderr:\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let signalled = Instant::now();
    server.terminate();

    let rendered = receipt();
    let mut answered_after_signal = 0;
    for request in requests {
        let (status, json, answered) = request.await.unwrap();
        assert_eq!(status, 200, "{json}");
        assert_reads(&json, &rendered);
        assert_eq!(json["engine"], engine);
        answered_after_signal += usize::from(answered > signalled);
    }
    assert!(answered_after_signal >= 1, "no request was still in flight when SIGTERM was sent");
    assert_eq!(server.wait_exit(Duration::from_secs(30)), Some(0));
    let logs = server.logs();
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert_eq!(logs.matches("OCR processing time").count(), 3, "{logs}");
    // The server's view: at least one request finished after the signal.
    let signal_at = logs.find("shutdown signal received").unwrap();
    assert!(logs[signal_at..].contains("OCR processing time"), "no request finished after the signal: {logs}");
}

/// `ocr_queue_depth` from /metrics: images waiting for a worker.
async fn queue_depth(server: &Server, engine: &str) -> f64 {
    let (status, _, text) = server.get_text("/metrics", &[]).await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!(r#"ocr_queue_depth{{engine="{engine}"}} "#)))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ocr_queue_depth in /metrics:\n{text}"))
}
