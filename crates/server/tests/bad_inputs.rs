//! Bad requests that only a real socket shows, against one real server:
//! headers hyper itself refuses, a client that stalls part-way through its
//! upload, and an upload over the limit answered before it is read. Each
//! must get its status (and, where the service answers, its stable error
//! code), and after all of them the server must still read a receipt with
//! the real models. Requests are written byte by byte over a plain socket,
//! so nothing is smoothed over by an HTTP client.
//!
//! Every other bad input (forms, formats, truncated images, decompression
//! bombs, routes and methods) is checked in process: `tests/in_process/`.

mod common;

use common::{
    Server, assert_error, assert_reads, encode, exchange_raw, file_part, multipart_body, parse_json, parse_raw,
    raw_request, receipt, receipt_png,
};
use image::ImageFormat;
use reqwest::multipart::Form;

const ROUTE: &str = "/v1/ocr/receipt";
const MIB: usize = 1024 * 1024;

enum Expect {
    /// Status and error code of the JSON contract.
    Error(u16, &'static str),
    /// A status answered by the HTTP layer before any handler runs.
    Status(u16),
}

/// Deterministic bytes that match no image signature.
fn garbage(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    let mut bytes = b"not an image: ".to_vec();
    bytes.extend((0..len).map(|_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    }));
    bytes.truncate(len);
    bytes
}

#[tokio::test]
async fn socket_level_bad_inputs_get_their_answers_and_the_server_keeps_serving() {
    let server = Server::start(&["--max-upload-mb", "1", "--workers", "1", "--body-timeout-secs", "2"]);
    server.wait_ready().await;
    let addr = server.addr;

    let big_header = raw_request("POST", ROUTE, addr, &[("X-Padding", &"a".repeat(500_000))], b"");
    let many_headers: Vec<(String, String)> = (0..200).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many_headers: Vec<(&str, &str)> = many_headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let png = receipt_png();
    let (content_type, slow) = multipart_body(&[("file", "upload", "image/png", &png)]);
    let slow_len = slow.len() - png.len() / 2;
    let slow = raw_request("POST", ROUTE, addr, &[("Content-Type", &content_type)], &slow);
    let cases = [
        // Depending on how the bytes arrive, hyper refuses this one itself
        // (bare 431) or hands it to the service (JSON 431).
        ("500 KB header", big_header, None, Expect::Status(431)),
        // More headers than hyper parses: its own 431.
        ("200 headers", raw_request("POST", ROUTE, addr, &many_headers, b""), None, Expect::Status(431)),
        // Half the upload, then the connection is held open.
        ("slow body", slow, Some(slow_len), Expect::Error(408, "body_timeout")),
    ];
    let mut failures = Vec::new();
    for (name, request, stall, expect) in cases {
        let raw = tokio::task::spawn_blocking(move || exchange_raw(addr, request, stall)).await.unwrap();
        let Some((status, headers, body)) = parse_raw(&raw) else {
            failures.push(format!("{name}: no HTTP answer ({} bytes)", raw.len()));
            continue;
        };
        let outcome = std::panic::catch_unwind(|| match expect {
            Expect::Error(want, code) => {
                let reply = common::Reply { status, headers, json: parse_json(status, &body) };
                assert_error(&reply, want, code);
            }
            Expect::Status(want) => assert_eq!(status, want, "body {body:?}"),
        });
        if let Err(panic) = outcome {
            let why = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));

    // Over the 1 MiB limit: 413 while the body is still being sent (the
    // server does not read the rest), and the message states the limit.
    let reply = server.post_file_early_answer(ROUTE, "file", garbage(2 * MIB)).await;
    assert_error(&reply, 413, "file_too_large");
    let message = reply.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("1 MB"), "{message}");

    // After all that, the same server still reads a receipt (JPEG, with an
    // extra text field that must be ignored).
    let rendered = receipt();
    let jpeg = encode(&rendered.image, ImageFormat::Jpeg);
    let form = Form::new().text("foo", "bar").part("file", file_part(jpeg, "receipt.jpg", "image/jpeg"));
    let reply = server.post_form(ROUTE, form).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_reads(&reply.json, &rendered);
    let ready = server.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
}
