//! The error contract on a real server: every bad request gets its own
//! status and stable code in `{"error": {"code", "type", "message"}}`, and
//! none of them disturbs the service. One server (1 MiB upload limit) serves
//! all the cases, in order, followed by a good request.

mod common;

use common::{Server, assert_error, assert_reads, file_form, file_part, png_form, receipt, receipt_png};
use image::ImageFormat;
use reqwest::multipart::Form;

const ROUTE: &str = "/v1/ocr/receipt";
const MIB: usize = 1024 * 1024;

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
async fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let server = Server::start(&["--max-upload-mb", "1", "--workers", "1"]);
    // Upload errors are only reached once models are loaded (before that the
    // answer is 503 models_loading).
    server.wait_ready().await;
    let png = receipt_png();

    // A JSON body is not a form at all.
    let reply = server.post_raw(ROUTE, "application/json", br#"{"image": "aGVsbG8="}"#.to_vec()).await;
    assert_error(&reply, 400, "invalid_multipart");

    // A form without any file part.
    let reply = server.post_form(ROUTE, Form::new().text("foo", "bar")).await;
    assert_error(&reply, 400, "missing_file");

    // The image under a field name the API does not read.
    let reply = server.post_form(ROUTE, png_form("upload", &png)).await;
    assert_error(&reply, 400, "missing_file");

    // A zero-byte file.
    let reply = server.post_form(ROUTE, file_form("file", Vec::new(), "empty.png", "image/png")).await;
    assert_error(&reply, 400, "empty_file");

    // Bytes of no supported format, even when labelled as a PNG.
    let reply = server.post_form(ROUTE, file_form("file", garbage(4096), "fake.png", "image/png")).await;
    assert_error(&reply, 415, "unsupported_media_type");

    // A real PNG header with the rest cut off.
    let half = png[..png.len() / 2].to_vec();
    let reply = server.post_form(ROUTE, file_form("file", half, "half.png", "image/png")).await;
    assert_error(&reply, 400, "invalid_image");

    // Two images in one request, under the same name or under both names.
    let twice = Form::new()
        .part("file", file_part(png.clone(), "a.png", "image/png"))
        .part("file", file_part(png.clone(), "b.png", "image/png"));
    assert_error(&server.post_form(ROUTE, twice).await, 400, "invalid_multipart");
    let both = Form::new()
        .part("file", file_part(png.clone(), "a.png", "image/png"))
        .part("image_file", file_part(png.clone(), "b.png", "image/png"));
    assert_error(&server.post_form(ROUTE, both).await, 400, "invalid_multipart");

    // Over the 1 MiB limit: 413, and the message states the limit.
    let reply = server.post_file_early_answer(ROUTE, "file", garbage(2 * MIB)).await;
    assert_error(&reply, 413, "file_too_large");
    let message = reply.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("1 MB"), "{message}");
    // Just under the limit is read in full and judged on its content instead.
    let reply = server.post_form(ROUTE, file_form("file", garbage(MIB - 4096), "big.png", "image/png")).await;
    assert_error(&reply, 415, "unsupported_media_type");

    // Unknown routes and wrong methods use the same JSON contract.
    assert_error(&server.get("/nope").await, 404, "not_found");
    assert_error(&server.get(ROUTE).await, 405, "method_not_allowed");

    // After all that, the same server still reads a receipt (JPEG this time,
    // with an extra text field that must be ignored).
    let rendered = receipt();
    let jpeg = common::encode(&rendered.image, ImageFormat::Jpeg);
    let form = Form::new().text("foo", "bar").part("file", file_part(jpeg, "receipt.jpg", "image/jpeg"));
    let reply = server.post_form(ROUTE, form).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_reads(&reply.json, &rendered);
    let ready = server.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
}
