//! `POST /v1/ocr/batch` on fake models: answers in upload order with file
//! names, a bad image failing only its own entry, the batch-level refusals
//! (empty form, too many parts, too large a body), and the engine option.
//! Real models reading a batch over a socket: `tests/ocr.rs`.

use image::ImageFormat;
use serde_json::Value;

use crate::common::{assert_error, check_ocr_body, encode, receipt, receipt_png};
use crate::harness::{App, FAKE_TEXTS, Form, texts};

fn result_texts(entry: &Value) -> Vec<String> {
    let mut read = entry.clone();
    let filename = read.as_object_mut().unwrap().remove("filename");
    assert!(filename.is_some_and(|f| f.is_string()), "every entry names its file: {entry}");
    check_ocr_body(&read);
    texts(&read)
}

#[tokio::test]
async fn a_batch_answers_every_image_in_upload_order() {
    let app = App::ready(&[]);
    let png = receipt_png();
    let jpeg = encode(&receipt().image, ImageFormat::Jpeg);
    let form = Form::new()
        .file("file", "a.png", "image/png", &png)
        .file("file", "broken.png", "image/png", &png[..png.len() / 2])
        .file("files", "b.jpg", "image/jpeg", &jpeg)
        .file("file", "notes.txt", "text/plain", b"not an image")
        .file("file", "empty.png", "image/png", b"")
        .file("image_file", "", "image/png", &png);
    let reply = app.post_form("/v1/ocr/batch", form).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let body = &reply.json;
    assert_eq!(
        (body["count"].as_u64(), body["succeeded"].as_u64(), body["failed"].as_u64()),
        (Some(6), Some(3), Some(3))
    );
    assert!(body["processing_time_ms"].as_f64().is_some_and(|t| t > 0.0), "{body}");
    let results = body["results"].as_array().unwrap();
    let names: Vec<&str> = results.iter().map(|r| r["filename"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.png", "broken.png", "b.jpg", "notes.txt", "empty.png", "image-6"]);
    for i in [0, 2, 5] {
        assert_eq!(result_texts(&results[i]), FAKE_TEXTS, "{}", results[i]);
        assert_eq!(results[i]["engine"], "paddle");
    }
    for (i, code) in [(1, "invalid_image"), (3, "unsupported_media_type"), (4, "empty_file")] {
        let error = &results[i]["error"];
        assert_eq!(error["code"], code, "{}", results[i]);
        assert_eq!(error["type"], "invalid_request");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(results[i].get("lines").is_none(), "a failed entry has no lines: {}", results[i]);
    }
    // The service keeps serving single images afterwards.
    assert_eq!(texts(&app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await.json), FAKE_TEXTS);
}

#[tokio::test]
async fn a_batch_is_refused_whole_only_for_its_shape_or_size() {
    let app = App::ready(&["--max-batch", "3", "--max-batch-mb", "1", "--engines", "paddle,tesseract"]);
    let png = receipt_png();
    assert_error(&app.post_form("/v1/ocr/batch", Form::new().text("engine", "paddle")).await, 400, "missing_file");
    let four = (0..4).fold(Form::new(), |form, i| form.file("file", &format!("{i}.png"), "image/png", &png));
    assert_error(&app.post_form("/v1/ocr/batch", four).await, 413, "batch_too_large");
    let big = vec![7u8; 700 * 1024];
    let heavy = Form::new().file("file", "a.bin", "image/png", &big).file("file", "b.bin", "image/png", &big);
    assert_error(&app.post_form("/v1/ocr/batch", heavy).await, 413, "file_too_large");
    assert_error(&app.post_raw("/v1/ocr/batch", "application/json", b"{}".to_vec()).await, 400, "invalid_multipart");
    let unknown = Form::png("file", &png).text("engine", "easyocr");
    assert_error(&app.post_form("/v1/ocr/batch", unknown).await, 400, "unknown_engine");

    // One engine reads the whole batch, named in the form or the query.
    let form = Form::png("file", &png).text("engine", "tesseract").file("file", "2.png", "image/png", &png);
    let reply = app.post_form("/v1/ocr/batch", form).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.headers["x-ocr-engine"], "tesseract");
    for entry in reply.json["results"].as_array().unwrap() {
        assert_eq!(entry["engine"], "tesseract", "{entry}");
    }
    let reply = app.post_form("/v1/ocr/batch?engine=tesseract", Form::png("file", &png)).await;
    assert_eq!(reply.json["results"][0]["engine"], "tesseract", "{}", reply.json);
}
