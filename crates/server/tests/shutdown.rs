//! Graceful shutdown: SIGTERM while requests are being processed lets every
//! accepted request finish, then the process exits 0.

mod common;

use std::time::Duration;

use common::{Server, assert_reads, png_form, receipt, receipt_png};

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let mut server = Server::start(&["--workers", "1", "--shutdown-grace-secs", "60"]);
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
                (response.status().as_u16(), response.json::<serde_json::Value>().await.expect("JSON body"))
            })
        })
        .collect();
    // Let the requests reach the server before the signal.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate();

    let rendered = receipt();
    for request in requests {
        let (status, json) = request.await.unwrap();
        assert_eq!(status, 200, "{json}");
        assert_reads(&json, &rendered);
    }
    assert_eq!(server.wait_exit(Duration::from_secs(30)), Some(0));
    let logs = server.logs();
    assert!(logs.contains("shutdown signal received"), "{logs}");
    assert_eq!(logs.matches("OCR processing time").count(), 3, "{logs}");
}
