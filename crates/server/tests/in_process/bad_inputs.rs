//! The error contract: every bad request gets its own status and stable
//! code in `{"error": {"code", "type", "message"}}`, and none of them
//! disturbs the service, which still reads a receipt afterwards. Image
//! checks (formats, truncation, decompression bombs) run hub-ocr's real
//! decode path; only the networks are fake.
//!
//! What needs a real socket (hyper's own header limits, a client stalling
//! over TCP, a 413 answered before the upload is read) is in
//! `tests/bad_inputs.rs`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use image::{ImageFormat, RgbImage};

use crate::common::{Reply, assert_error, encode, multipart_body, parse_json, receipt, receipt_png};
use crate::harness::{App, Form, assert_fake_read, get, post, request};

const ROUTE: &str = "/v1/ocr/receipt";
const MIB: usize = 1024 * 1024;

/// Deterministic bytes that match no image signature.
fn not_an_image(len: usize) -> Vec<u8> {
    let mut bytes = b"not an image: ".to_vec();
    bytes.extend(garbage(len, 0x2545_f491));
    bytes.truncate(len);
    bytes
}

fn garbage(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_the_service_keeps_serving() {
    let app = App::loading(&["--max-upload-mb", "1", "--workers", "1"]);
    let png = receipt_png();
    // Upload errors are only reached once models are loaded: before that the
    // answer is 503 models_loading, whatever the upload.
    let loading = app.post_form(ROUTE, Form::png("file", &png)).await;
    assert_error(&loading, 503, "models_loading");
    assert_eq!(loading.headers.get("retry-after").unwrap(), "1");
    let loading = app.post_raw(ROUTE, "application/json", b"{}".to_vec()).await;
    assert_error(&loading, 503, "models_loading");
    app.load_fakes();

    // A JSON body is not a form at all.
    let reply = app.post_raw(ROUTE, "application/json", br#"{"image": "aGVsbG8="}"#.to_vec()).await;
    assert_error(&reply, 400, "invalid_multipart");

    // A form without any file part.
    let reply = app.post_form(ROUTE, Form::new().text("foo", "bar")).await;
    assert_error(&reply, 400, "missing_file");

    // The image under a field name the API does not read.
    let reply = app.post_form(ROUTE, Form::png("upload", &png)).await;
    assert_error(&reply, 400, "missing_file");

    // A zero-byte file.
    let reply = app.post_form(ROUTE, Form::new().file("file", "empty.png", "image/png", b"")).await;
    assert_error(&reply, 400, "empty_file");

    // Bytes of no supported format, even when labelled as a PNG.
    let reply = app.post_form(ROUTE, Form::new().file("file", "fake.png", "image/png", &not_an_image(4096))).await;
    assert_error(&reply, 415, "unsupported_media_type");

    // A real PNG header with the rest cut off.
    let half = &png[..png.len() / 2];
    let reply = app.post_form(ROUTE, Form::new().file("file", "half.png", "image/png", half)).await;
    assert_error(&reply, 400, "invalid_image");

    // Two images in one request, under the same name or under both names.
    let twice = Form::new().file("file", "a.png", "image/png", &png).file("file", "b.png", "image/png", &png);
    assert_error(&app.post_form(ROUTE, twice).await, 400, "invalid_multipart");
    let both = Form::new().file("file", "a.png", "image/png", &png).file("image_file", "b.png", "image/png", &png);
    assert_error(&app.post_form(ROUTE, both).await, 400, "invalid_multipart");

    // Over the 1 MiB limit: 413, and the message states the limit.
    let big = Form::new().file("file", "upload.bin", "application/octet-stream", &not_an_image(2 * MIB));
    let reply = app.post_form(ROUTE, big).await;
    assert_error(&reply, 413, "file_too_large");
    let message = reply.json["error"]["message"].as_str().unwrap();
    assert!(message.contains("1 MB"), "{message}");
    // Just under the limit is read in full and judged on its content instead.
    let under = Form::new().file("file", "big.png", "image/png", &not_an_image(MIB - 4096));
    assert_error(&app.post_form(ROUTE, under).await, 415, "unsupported_media_type");

    // Unknown routes and wrong methods use the same JSON contract.
    assert_error(&app.get("/nope").await, 404, "not_found");
    assert_error(&app.get(ROUTE).await, 405, "method_not_allowed");

    // After all that, the same service still reads a receipt (JPEG this
    // time, with an extra text field that must be ignored).
    let jpeg = encode(&receipt().image, ImageFormat::Jpeg);
    let form = Form::new().text("foo", "bar").file("file", "receipt.jpg", "image/jpeg", &jpeg);
    assert_fake_read(&app.post_form(ROUTE, form).await);
    let ready = app.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
}

enum Expect {
    /// Status and error code of the JSON contract.
    Error(u16, &'static str),
}

struct Case {
    name: &'static str,
    request: axum::http::Request<Body>,
    expect: Expect,
}

/// Sample files of every kind the cases are made from.
struct Samples {
    png: Vec<u8>,
    jpeg: Vec<u8>,
    bmp: Vec<u8>,
    webp: Vec<u8>,
}

impl Samples {
    fn new() -> Self {
        let small = RgbImage::from_fn(64, 32, |x, y| image::Rgb([(x * 4) as u8, (y * 8) as u8, 128]));
        let jpeg = encode(&receipt().image, ImageFormat::Jpeg);
        Self {
            png: encode(&small, ImageFormat::Png),
            jpeg,
            bmp: encode(&small, ImageFormat::Bmp),
            webp: encode(&small, ImageFormat::WebP),
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG that declares `width`×`height` and carries one tiny IDAT: the
/// classic decompression bomb header.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        png.extend_from_slice(&typed);
        png.extend_from_slice(&crc32(&typed).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// A real JPEG whose frame header is rewritten to claim `width`×`height`.
fn jpeg_declaring(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out.windows(2).position(|w| w[0] == 0xFF && (0xC0..=0xC2).contains(&w[1])).expect("a JPEG has a SOF");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// A real BMP whose header is rewritten to claim `width`×`height`.
fn bmp_declaring(bmp: &[u8], width: i32, height: i32) -> Vec<u8> {
    let mut out = bmp.to_vec();
    out[18..22].copy_from_slice(&width.to_le_bytes());
    out[22..26].copy_from_slice(&height.to_le_bytes());
    out
}

/// A lossless WEBP header claiming a 16000×16000 canvas.
fn webp_declaring_16000() -> Vec<u8> {
    let mut vp8l = vec![0x2f];
    let bits: u32 = 15999 | (15999 << 14);
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0; 16]);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + 8 + vp8l.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBPVP8L");
    out.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    out.extend_from_slice(&vp8l);
    out
}

fn cases(s: &Samples) -> Vec<Case> {
    let post_as = |content_type: &str, body: &[u8]| post(ROUTE, &[("content-type", content_type)], body.to_vec());
    let form = |parts: &[(&str, &str, &str, &[u8])]| {
        let (content_type, body) = multipart_body(parts);
        post_as(&content_type, &body)
    };
    let file = |bytes: &[u8], mime: &str| form(&[("file", "upload", mime, bytes)]);
    let case = |name, request, expect| Case { name, request, expect };
    let bare = |method: &str, path: &str, headers: &[(&str, &str)]| request(method, path, headers, Body::empty());
    use Expect::Error;

    let (png, jpeg, bmp, webp) = (&s.png[..], &s.jpeg[..], &s.bmp[..], &s.webp[..]);
    let multipart = format!("multipart/form-data; boundary={}", crate::common::BOUNDARY);
    let mut corrupt_png = png.to_vec();
    let middle = corrupt_png.len() / 2;
    corrupt_png[middle..middle + 8].copy_from_slice(&[0xAB; 8]);
    let mut png_then_html = png[..33].to_vec();
    png_then_html.extend_from_slice(b"<html><script>alert(1)</script></html>");
    let mut gif_js = b"GIF89a/*".to_vec();
    gif_js.extend_from_slice(b"*/=1;alert(document.domain);");
    let unterminated = {
        let (_, body) = multipart_body(&[("file", "a.png", "image/png", png)]);
        body[..body.len() - 30].to_vec()
    };
    let no_disposition =
        format!("--{b}\r\nContent-Type: image/png\r\n\r\nxx\r\n--{b}--\r\n", b = crate::common::BOUNDARY);
    let padding = "a".repeat(500_000);
    let forty_kb: Vec<(String, String)> = (0..40).map(|i| (format!("X-Pad{i}"), "p".repeat(1000))).collect();
    let forty_kb: Vec<(&str, &str)> = forty_kb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let mut cases = vec![
        // Not a form at all.
        case("json body", post_as("application/json", br#"{"image":"aGVsbG8="}"#), Error(400, "invalid_multipart")),
        case("text body", post_as("text/plain", b"hello"), Error(400, "invalid_multipart")),
        case(
            "urlencoded body",
            post_as("application/x-www-form-urlencoded", b"file=abc"),
            Error(400, "invalid_multipart"),
        ),
        case("raw png body", post_as("image/png", png), Error(400, "invalid_multipart")),
        case("no content type", post(ROUTE, &[], b"--x\r\n\r\n".to_vec()), Error(400, "invalid_multipart")),
        case(
            "multipart without boundary",
            post_as("multipart/form-data", b"--x--\r\n"),
            Error(400, "invalid_multipart"),
        ),
        // Broken multipart framing.
        case("empty multipart body", post_as(&multipart, b""), Error(400, "invalid_multipart")),
        case("garbage multipart body", post_as(&multipart, &garbage(2000, 1)), Error(400, "invalid_multipart")),
        case(
            "other boundary",
            post_as("multipart/form-data; boundary=zzz", &file_body(png)),
            Error(400, "invalid_multipart"),
        ),
        case("unterminated part", post_as(&multipart, &unterminated), Error(400, "invalid_multipart")),
        // A part without a name cannot be the image part.
        case("part without disposition", post_as(&multipart, no_disposition.as_bytes()), Error(400, "missing_file")),
        // No image field.
        case("empty form", form(&[]), Error(400, "missing_file")),
        case("text fields only", form(&[("note", "n.txt", "text/plain", b"hello")]), Error(400, "missing_file")),
        case("field named image", form(&[("image", "a.png", "image/png", png)]), Error(400, "missing_file")),
        case("field named files[]", form(&[("files[]", "a.png", "image/png", png)]), Error(400, "missing_file")),
        case("field named File", form(&[("File", "a.png", "image/png", png)]), Error(400, "missing_file")),
        // More than one image.
        case(
            "two file fields",
            form(&[("file", "a.png", "image/png", png), ("file", "b.png", "image/png", png)]),
            Error(400, "invalid_multipart"),
        ),
        case(
            "file and image_file",
            form(&[("file", "a.png", "image/png", png), ("image_file", "b.png", "image/png", png)]),
            Error(400, "invalid_multipart"),
        ),
        case(
            "two image_file fields",
            form(&[("image_file", "a.jpg", "image/jpeg", jpeg), ("image_file", "b.jpg", "image/jpeg", jpeg)]),
            Error(400, "invalid_multipart"),
        ),
        // Empty files.
        case("zero-byte png", file(b"", "image/png"), Error(400, "empty_file")),
        case(
            "zero-byte untyped",
            form(&[("image_file", "x", "application/octet-stream", b"")]),
            Error(400, "empty_file"),
        ),
        // Not a supported image.
        case("plain text", file(b"TOTAL 12.50\nCASH 20.00\n", "text/plain"), Error(415, "unsupported_media_type")),
        // A PDF is supported, but this one has no page tree.
        case(
            "pdf without pages",
            file(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "application/pdf"),
            Error(422, "pdf_malformed"),
        ),
        case("gif", file(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"), Error(415, "unsupported_media_type")),
        case("tiff", file(b"II*\x00\x08\x00\x00\x00\x00\x00", "image/tiff"), Error(415, "unsupported_media_type")),
        case(
            "ico",
            file(b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00", "image/x-icon"),
            Error(415, "unsupported_media_type"),
        ),
        case(
            "zip",
            file(b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "application/zip"),
            Error(415, "unsupported_media_type"),
        ),
        case(
            "elf",
            file(b"\x7fELF\x02\x01\x01\x00\x00\x00", "application/octet-stream"),
            Error(415, "unsupported_media_type"),
        ),
        case(
            "html",
            file(b"<!doctype html><html><body>hi</body></html>", "text/html"),
            Error(415, "unsupported_media_type"),
        ),
        case(
            "svg",
            file(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
            Error(415, "unsupported_media_type"),
        ),
        case("random bytes", file(&garbage(5000, 7), "application/octet-stream"), Error(415, "unsupported_media_type")),
        case("one byte", file(b"\xff", "image/jpeg"), Error(415, "unsupported_media_type")),
        case("gif/js polyglot", file(&gif_js, "image/gif"), Error(415, "unsupported_media_type")),
        // Content-Type that contradicts the bytes.
        case("png declared jpeg", file(png, "image/jpeg"), Error(415, "content_type_mismatch")),
        case("jpeg declared png", file(jpeg, "image/png"), Error(415, "content_type_mismatch")),
        case("jpeg declared text", file(jpeg, "text/plain"), Error(415, "content_type_mismatch")),
        case("png declared gif", file(png, "image/gif"), Error(415, "content_type_mismatch")),
        case("bmp declared png", file(bmp, "image/png"), Error(415, "content_type_mismatch")),
        case("webp declared jpeg", file(webp, "image/jpeg"), Error(415, "content_type_mismatch")),
        case("png declared pdf", file(png, "application/pdf"), Error(415, "content_type_mismatch")),
        // Truncated and corrupt images of supported formats.
        case("jpeg cut in half", file(&jpeg[..jpeg.len() / 2], "image/jpeg"), Error(400, "invalid_image")),
        case("jpeg headers only", file(&jpeg[..200], "image/jpeg"), Error(400, "invalid_image")),
        case(
            "jpeg marker then garbage",
            file(&[&b"\xff\xd8\xff"[..], &garbage(3000, 3)].concat(), "image/jpeg"),
            Error(400, "invalid_image"),
        ),
        case("png signature only", file(&png[..8], "image/png"), Error(400, "invalid_image")),
        case("png header only", file(&png[..33], "image/png"), Error(400, "invalid_image")),
        case("png cut in half", file(&png[..png.len() / 2], "image/png"), Error(400, "invalid_image")),
        case("png corrupt data", file(&corrupt_png, "image/png"), Error(400, "invalid_image")),
        case("png/html polyglot", file(&png_then_html, "image/png"), Error(400, "invalid_image")),
        case("bmp header only", file(&bmp[..30], "image/bmp"), Error(400, "invalid_image")),
        case("webp header only", file(&webp[..16], "image/webp"), Error(400, "invalid_image")),
        // Decompression bombs: refused from the header, before decoding.
        case("png 100000x100000", file(&png_declaring(100_000, 100_000), "image/png"), Error(413, "image_too_large")),
        case("png 8000x8000", file(&png_declaring(8000, 8000), "image/png"), Error(413, "image_too_large")),
        case("png 20000x10", file(&png_declaring(20_000, 10), "image/png"), Error(413, "image_too_large")),
        case(
            "jpeg 65000x65000",
            file(&jpeg_declaring(jpeg, 65_000, 65_000), "image/jpeg"),
            Error(413, "image_too_large"),
        ),
        case(
            "bmp 100000x100000",
            file(&bmp_declaring(bmp, 100_000, 100_000), "image/bmp"),
            Error(413, "image_too_large"),
        ),
        case("webp 16000x16000", file(&webp_declaring_16000(), "image/webp"), Error(413, "image_too_large")),
        // Too big, oversized headers.
        case(
            "body over the limit",
            file(&garbage(2 * MIB, 9), "application/octet-stream"),
            Error(413, "file_too_large"),
        ),
        // Without a socket, hyper's own limit is not in the way: the
        // service's header limit answers, in the contract.
        case("500 KB header", bare("POST", ROUTE, &[("X-Padding", &padding)]), Error(431, "headers_too_large")),
        case("40 KB of headers", bare("POST", ROUTE, &forty_kb), Error(431, "headers_too_large")),
        // Wrong routes and methods.
        case("GET on the OCR route", bare("GET", ROUTE, &[]), Error(405, "method_not_allowed")),
        case("PUT on the OCR route", bare("PUT", ROUTE, &[]), Error(405, "method_not_allowed")),
        case("unknown route", bare("POST", "/v1/ocr/unknown", &[]), Error(404, "not_found")),
        case("path traversal", get("/../../etc/passwd", &[]), Error(404, "not_found")),
        // A PDF is sniffed like the images: a declared type must agree.
        case("png declared as pdf", file(png, "application/pdf"), Error(415, "content_type_mismatch")),
        case(
            "pdf declared as png",
            file(&crate::common::pdf::with_text_layer(), "image/png"),
            Error(415, "content_type_mismatch"),
        ),
    ];
    // Hostile and broken PDFs: each its own 4xx, read on the worker (never a 5xx or a hang).
    cases.extend(
        crate::common::pdf::bad_pdfs()
            .into_iter()
            .map(|(name, pdf, status, code)| case(name, file(&pdf, "application/pdf"), Error(status, code))),
    );
    cases
}

/// A one-file form body (used with a Content-Type naming another boundary).
fn file_body(bytes: &[u8]) -> Vec<u8> {
    multipart_body(&[("file", "a.png", "image/png", bytes)]).1
}

#[tokio::test]
async fn crafted_bad_inputs_get_their_errors_and_the_service_keeps_serving() {
    let app = App::ready(&["--max-upload-mb", "1", "--workers", "1"]);
    let samples = Samples::new();
    let cases = cases(&samples);
    assert!(cases.len() >= 50, "only {} cases", cases.len());

    let mut failures = Vec::new();
    for case in cases {
        let raw = app.send(case.request).await;
        let (status, headers, body) = (raw.status, raw.headers, String::from_utf8_lossy(&raw.body).into_owned());
        let outcome = std::panic::catch_unwind(|| match case.expect {
            Expect::Error(want, code) => {
                let reply = Reply { status, headers, json: parse_json(status, &body) };
                assert_error(&reply, want, code);
            }
        });
        if let Err(panic) = outcome {
            let why = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));

    // The same service still reads a receipt.
    let (content_type, body) =
        multipart_body(&[("file", "r.jpg", "image/jpeg", &encode(&receipt().image, ImageFormat::Jpeg))]);
    assert_fake_read(&app.json(post(ROUTE, &[("content-type", &content_type)], body)).await);
}

/// An upload that stops arriving part-way gets 408 once the body timeout
/// passes, and the service carries on.
#[tokio::test]
async fn a_stalled_upload_gets_408_body_timeout() {
    let app = App::ready(&["--workers", "1", "--body-timeout-secs", "1"]);
    let png = receipt_png();
    let (content_type, body) = multipart_body(&[("file", "r.png", "image/png", &png)]);
    // Half the file arrives, then nothing more.
    let sent = Bytes::copy_from_slice(&body[..body.len() - png.len() / 2]);
    let stalled = futures_util::stream::iter([Ok::<_, Infallible>(sent)]).chain(futures_util::stream::pending());
    let started = Instant::now();
    let request = request("POST", ROUTE, &[("content-type", &content_type)], Body::from_stream(stalled));
    assert_error(&app.json(request).await, 408, "body_timeout");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1) && waited < Duration::from_secs(10), "answered after {waited:?}");
    assert_fake_read(&app.post_form(ROUTE, Form::png("file", &png)).await);
}
