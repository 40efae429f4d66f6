//! Admission control on a real server: more concurrent requests than the
//! service can hold get 429 (never a 5xx), every accepted request is read
//! correctly, and requests past the deadline get 504 without harming the
//! ones after them.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Server, assert_error, assert_reads, file_form, receipt};
use image::ImageFormat;
use reqwest::header::RETRY_AFTER;
use tokio::sync::Barrier;

const ROUTE: &str = "/v1/ocr/receipt";

/// Sends `count` requests at once; returns every reply.
async fn burst(server: &Server, count: usize, jpeg: &[u8]) -> Vec<common::Reply> {
    // Every client is built before any request leaves, so that on a loaded
    // machine the requests still overlap instead of trickling in one by one.
    let start = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (url, jpeg, start) = (server.url(ROUTE), jpeg.to_vec(), start.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                let form = file_form("file", jpeg, "r.jpg", "image/jpeg");
                let request = client.post(url).multipart(form);
                start.wait().await;
                common::into_reply("POST", ROUTE, request.send().await).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

fn statuses(replies: &[common::Reply]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_capacity_gets_429_and_accepted_requests_are_correct() {
    for engine in ["paddle", "tesseract"] {
        refuses_past_capacity(engine).await;
    }
}

async fn refuses_past_capacity(engine: &str) {
    // One worker and one queue slot: at most two requests fit, the rest are
    // refused. No result cache: identical uploads would share one reading.
    let server = Server::start(&["--workers", "1", "--queue-size", "1", "--cache-mb", "0", "--engines", engine]);
    server.wait_ready().await;
    let rendered = receipt();
    let jpeg = common::encode(&rendered.image, ImageFormat::Jpeg);

    let replies = burst(&server, 10, &jpeg).await;
    let counts = statuses(&replies);
    assert!(counts.keys().all(|s| [200, 429].contains(s)), "only 200 and 429 allowed: {counts:?}");
    assert!(counts.get(&429).copied().unwrap_or(0) >= 1, "nothing was refused: {counts:?}");
    // At least the one the worker takes; the queue slot may already be
    // taken by a request the worker has not picked up yet.
    assert!(counts.get(&200).copied().unwrap_or(0) >= 1, "nothing was accepted: {counts:?}");
    for reply in &replies {
        if reply.status == 200 {
            assert_reads(&reply.json, &rendered);
        } else {
            assert_error(reply, 429, "overloaded");
            assert_eq!(reply.headers.get(RETRY_AFTER).unwrap(), "1");
        }
    }
    // Capacity comes back once the burst is over.
    let after = burst(&server, 1, &jpeg).await;
    assert_eq!(after[0].status, 200, "{}", after[0].json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_past_the_deadline_get_504_and_the_rest_carry_on() {
    // Seconds: Tesseract reads the long receipt below in about half a second,
    // so the request after the burst may wait for one running read and its own.
    for (engine, deadline) in [("paddle", "1"), ("tesseract", "3")] {
        drops_work_past_the_deadline(engine, deadline).await;
    }
}

async fn drops_work_past_the_deadline(engine: &str, deadline: &str) {
    let flags = [
        "--workers",
        "1",
        "--queue-size",
        "80",
        "--request-timeout-secs",
        deadline,
        "--cache-mb",
        "0",
        "--engines",
        engine,
    ];
    let server = Server::start(&flags);
    server.wait_ready().await;
    // A long receipt (12 lines): about 0.1 s each here, so one worker cannot
    // read 64 within a second even on a CPU several times faster (24 of the
    // three-line receipt once all fitted).
    let texts = [
        "TOTAL 12.50",
        "CASH 20.00",
        "THANK YOU",
        "TAX 1.20",
        "CHANGE 7.50",
        "VISA 99.10",
        "STORE 42",
        "TABLE 7",
        "RECEIPT 88",
        "WELCOME BACK",
        "COFFEE 4.50",
        "BREAD 2.10",
    ];
    let lines: Vec<(&str, i32, i32)> = texts.iter().zip(0..).map(|(text, i)| (*text, 60, 50 + 120 * i)).collect();
    let rendered = common::render(900, 1480, &lines);
    let jpeg = common::encode(&rendered.image, ImageFormat::Jpeg);
    let replies = burst(&server, 64, &jpeg).await;
    let counts = statuses(&replies);
    assert!(counts.keys().all(|s| [200, 504].contains(s)), "only 200 and 504 allowed: {counts:?}");
    assert!(counts.get(&504).copied().unwrap_or(0) >= 1, "no deadline was hit: {counts:?}");
    assert!(counts.get(&200).copied().unwrap_or(0) >= 1, "nothing finished: {counts:?}");
    for reply in &replies {
        match reply.status {
            200 => assert_reads(&reply.json, &rendered),
            _ => assert_error(reply, 504, "deadline_exceeded"),
        }
    }
    // The timed-out jobs were dropped from the queue: the next request is
    // served at once rather than after them.
    let after = burst(&server, 1, &jpeg).await;
    assert_eq!(after[0].status, 200, "{}", after[0].json);
}
