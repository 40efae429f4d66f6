//! PDF uploads on every route, over the fake models: pages read in order
//! and numbered, text layers taking the place of OCR (`pdf_text=auto`),
//! `pdf_text=off`, the page limit, the cache keeping the two apart. What
//! the real models read from a PDF: `tests/pdf.rs`; hostile PDFs:
//! `bad_inputs.rs`.

use serde_json::{Value, json};

use crate::common::kserve::b64;
use crate::common::pdf::{TEXT_LAYER, of_images, pages, with_text_layer};
use crate::common::{assert_error, check_ocr_body, receipt};
use crate::harness::{App, FAKE_TEXTS, Form, texts};

const ROUTE: &str = "/v1/ocr/receipt";

fn pdf_form(pdf: &[u8]) -> Form {
    Form::new().file("file", "receipt.pdf", "application/pdf", pdf)
}

#[tokio::test]
async fn a_two_page_pdf_is_read_page_by_page_in_order() {
    let app = App::ready(&[]);
    let image = receipt().image;
    let reply = app.post_form(ROUTE, pdf_form(&of_images(&[image.clone(), image]))).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let both = [FAKE_TEXTS, FAKE_TEXTS].concat();
    assert_eq!(texts(&reply.json), both, "{}", reply.json);
    assert_eq!(pages(&reply.json), [1, 1, 2, 2]);
    assert_eq!(reply.json["page_count"], 2);
    assert_eq!(reply.json["ocr_pages"], json!([1, 2]));
    assert_eq!(reply.json["line_count"], 4);
    // Sent as application/octet-stream, or with no type: the bytes decide.
    let untyped = Form::new().file("file", "scan", "application/octet-stream", &of_images(&[receipt().image]));
    let reply = app.post_form(ROUTE, untyped).await;
    assert_eq!((reply.status, reply.json["page_count"].as_u64()), (200, Some(1)), "{}", reply.json);
}

#[tokio::test]
async fn a_text_layer_takes_the_place_of_ocr_unless_pdf_text_is_off() {
    let app = App::ready(&[]);
    let pdf = with_text_layer();
    let reply = app.post_form(ROUTE, pdf_form(&pdf)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(texts(&reply.json), TEXT_LAYER, "{}", reply.json);
    assert_eq!(reply.json["ocr_pages"], json!([]), "no page went to OCR");
    assert_eq!(pages(&reply.json), [1, 1, 1]);
    assert!(reply.json["lines"].as_array().unwrap().iter().all(|l| l["confidence"] == 1.0), "{}", reply.json);
    assert_eq!(reply.json["avg_confidence"], 1.0);

    // `off` (query or form field) draws the page and reads it: the fake
    // models' lines, not the layer's. Cached apart from `auto`'s answer.
    for request in [format!("{ROUTE}?pdf_text=off"), ROUTE.to_owned()] {
        let form = if request == ROUTE { pdf_form(&pdf).text("pdf_text", "OFF") } else { pdf_form(&pdf) };
        let reply = app.post_form(&request, form).await;
        let read = texts(&reply.json);
        assert!(!read.is_empty() && read.iter().all(|t| FAKE_TEXTS.contains(&t.as_str())), "{}", reply.json);
        assert_eq!(reply.json["ocr_pages"], json!([1]));
    }
    let again = app.post_form(ROUTE, pdf_form(&pdf)).await;
    assert_eq!(again.headers.get("x-cache").unwrap(), "hit");
    assert_eq!(texts(&again.json), TEXT_LAYER, "auto's answer is cached apart from off's");

    let bad = app.post_form(&format!("{ROUTE}?pdf_text=sometimes"), pdf_form(&pdf)).await;
    assert_error(&bad, 400, "invalid_parameter");
    let disagree = app.post_form(&format!("{ROUTE}?pdf_text=off"), pdf_form(&pdf).text("pdf_text", "auto")).await;
    assert_error(&disagree, 400, "invalid_parameter");
}

#[tokio::test]
async fn fields_read_every_page_of_a_pdf() {
    let app = App::ready(&[]);
    let reply = app.post_form(&format!("{ROUTE}?fields=true"), pdf_form(&with_text_layer())).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    check_ocr_body(&reply.json);
    assert_eq!(reply.json["fields"]["total_amount"], "12.50", "{}", reply.json["fields"]);
}

#[tokio::test]
async fn more_pages_than_the_limit_are_refused() {
    let app = App::ready(&["--max-pdf-pages", "2"]);
    let image = receipt().image;
    let reply = app.post_form(ROUTE, pdf_form(&of_images(&[image.clone(), image.clone(), image.clone()]))).await;
    assert_error(&reply, 413, "pdf_too_many_pages");
    let reply = app.post_form(ROUTE, pdf_form(&of_images(&[image.clone(), image]))).await;
    assert_eq!(reply.json["page_count"], 2, "{}", reply.json);
}

#[tokio::test]
async fn pdfs_on_the_batch_and_kserve_routes() {
    let app = App::ready(&[]);
    let (two, text) = (of_images(&[receipt().image, receipt().image]), with_text_layer());
    let form = pdf_form(&two).file("file", "layer.pdf", "application/pdf", &text).file(
        "file",
        "bad.pdf",
        "application/pdf",
        b"%PDF-1.7\n",
    );
    let batch = app.post_form("/v1/ocr/batch", form).await;
    assert_eq!(batch.status, 200, "{}", batch.json);
    let results = batch.json["results"].as_array().unwrap();
    let entry = |i: usize| {
        let mut entry: Value = results[i].clone();
        entry.as_object_mut().unwrap().remove("filename");
        entry
    };
    assert_eq!(pages(&entry(0)), [1, 1, 2, 2]);
    assert_eq!(texts(&entry(1)), TEXT_LAYER);
    assert_eq!(results[2]["error"]["code"], "pdf_malformed", "{}", batch.json);

    let v1 = json!({"instances": [{"image": {"b64": b64(&text)}}]});
    let reply = app.post_json("/v1/models/ocr:predict", &v1).await;
    assert_eq!(texts(&reply.json["predictions"][0]), TEXT_LAYER, "{}", reply.json);
    let v2 = json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&two)]}]});
    let reply = app.post_json("/v2/models/ocr/infer", &v2).await;
    let result: Value = serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(pages(&result), [1, 1, 2, 2], "{result}");
    // `pdf_text` as a request parameter: `off` sends the page to OCR.
    let v1 = json!({"instances": [{"image": {"b64": b64(&text)}}], "parameters": {"pdf_text": "off"}});
    let reply = app.post_json("/v1/models/ocr:predict", &v1).await;
    assert_eq!(reply.json["predictions"][0]["ocr_pages"], json!([1]), "{}", reply.json);
    let v2 = json!({"parameters": {"pdf_text": "off"},
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&text)]}]});
    let reply = app.post_json("/v2/models/ocr/infer", &v2).await;
    let result: Value = serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(result["ocr_pages"], json!([1]), "{result}");
    let v2 = json!({"parameters": {"pdf_text": "auto"},
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&text)]}]});
    let reply = app.post_json("/v2/models/ocr/infer", &v2).await;
    let result: Value = serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(texts(&result), TEXT_LAYER, "{result}");
    for parameters in [json!({"pdf_text": "sometimes"}), json!({"pdf_text": false})] {
        let v1 = json!({"instances": [{"image": {"b64": b64(&text)}}], "parameters": parameters});
        let reply = app.post_json("/v1/models/ocr:predict", &v1).await;
        assert_eq!(reply.status, 400, "{parameters}: {}", reply.json);
    }
    let bad = json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(b"%PDF-1.7\n")]}]});
    let reply = app.post_json("/v2/models/ocr/infer", &bad).await;
    assert_eq!(reply.status, 422, "{}", reply.json);
    assert_eq!(reply.headers.get("x-error-code").unwrap(), "pdf_malformed");
}
