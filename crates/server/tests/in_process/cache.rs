//! The result cache in process: `X-Cache` across a miss, a hit, a
//! `Cache-Control: no-cache` bypass and another engine, and no cache at all
//! with `--cache-mb 0`. Sharing through a real Redis: `tests/cache.rs`.

use crate::common::receipt_png;
use crate::harness::{App, FAKE_TEXTS, Form, texts};

async fn x_cache(app: &App, form: Form, headers: &[(&str, &str)]) -> Option<String> {
    let reply = app.json(form.request("/v1/ocr/receipt", headers)).await;
    assert_eq!(texts(&reply.json), FAKE_TEXTS, "{}", reply.json);
    reply.headers.get("x-cache").map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn answers_are_cached_per_image_and_engine() {
    let app = App::ready(&["--engines", "paddle,tesseract"]);
    let png = receipt_png();
    let status = |form, headers| x_cache(&app, form, headers);
    assert_eq!(status(Form::png("file", &png), &[]).await.as_deref(), Some("miss"));
    assert_eq!(status(Form::png("file", &png), &[]).await.as_deref(), Some("hit"));
    let no_cache = [("cache-control", "max-age=0, no-cache")];
    assert_eq!(status(Form::png("file", &png), &no_cache).await.as_deref(), Some("bypass"));
    let tesseract = Form::png("file", &png).text("engine", "tesseract");
    assert_eq!(status(tesseract, &[]).await.as_deref(), Some("miss"), "another engine, another answer");
    let other = receipt_png().into_iter().chain([0u8; 16]).collect::<Vec<u8>>();
    assert_eq!(status(Form::png("file", &other), &[]).await.as_deref(), Some("miss"), "other bytes, other key");

    let uncached = App::ready(&["--cache-mb", "0"]);
    assert_eq!(x_cache(&uncached, Form::png("file", &png), &[]).await, None, "no cache, no X-Cache");
}
