//! `fields=true`: the receipt's fields join the answer on every route (form
//! field, query, `--fields` default, batch, KServe V1 and V2 parameters),
//! and stay out of it otherwise. What the fields say about a real receipt:
//! `tests/ocr.rs`; the rules themselves: `crates/fields`.

use serde_json::json;

use crate::common::kserve::b64;
use crate::common::{assert_error, check_ocr_body, receipt_png};
use crate::harness::{App, Form};

fn has_fields(body: &serde_json::Value) -> bool {
    check_ocr_body(body);
    body.get("fields").is_some_and(|f| f["sources"].is_object())
}

#[tokio::test]
async fn fields_are_added_when_asked_for_on_every_route() {
    let app = App::ready(&[]);
    let png = receipt_png();
    let plain = app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await;
    assert!(!has_fields(&plain.json), "the seed schema by default: {}", plain.json);
    assert!(has_fields(&app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("fields", "true")).await.json));
    assert!(has_fields(&app.post_form("/v1/ocr?fields=1", Form::png("file", &png)).await.json));
    let bad = app.post_form("/v1/ocr", Form::png("file", &png).text("fields", "maybe")).await;
    assert_error(&bad, 400, "invalid_parameter");

    let batch =
        app.post_form("/v1/ocr/batch?fields=true", Form::png("file", &png).file("file", "b.png", "image/png", &png));
    let batch = batch.await;
    for entry in batch.json["results"].as_array().unwrap() {
        let mut entry = entry.clone();
        entry.as_object_mut().unwrap().remove("filename");
        assert!(has_fields(&entry), "{entry}");
    }

    let v1 = json!({"instances": [{"image": {"b64": b64(&png)}}], "parameters": {"fields": true}});
    let reply = app.post_json("/v1/models/ocr:predict", &v1).await;
    assert!(has_fields(&reply.json["predictions"][0]), "{}", reply.json);
    let v2 = json!({"parameters": {"fields": true},
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&png)]}]});
    let reply = app.post_json("/v2/models/ocr/infer", &v2).await;
    let result: serde_json::Value =
        serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert!(has_fields(&result), "{result}");
    // Anything but a JSON boolean is refused, not taken for the default.
    for fields in [json!("true"), json!(1)] {
        let v1 = json!({"instances": [{"image": {"b64": b64(&png)}}], "parameters": {"fields": fields}});
        let reply = app.post_json("/v1/models/ocr:predict", &v1).await;
        assert_eq!(reply.status, 400, "{fields}: {}", reply.json);
        assert_eq!(reply.headers.get("x-error-code").unwrap(), "invalid_parameter");
        let v2 = json!({"parameters": {"fields": fields},
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&png)]}]});
        assert_eq!(app.post_json("/v2/models/ocr/infer", &v2).await.status, 400, "{fields}");
    }
}

#[tokio::test]
async fn fields_by_default_with_the_flag_unless_the_request_declines() {
    let app = App::ready(&["--fields", "true"]);
    let png = receipt_png();
    assert!(has_fields(&app.post_form("/v1/ocr/receipt", Form::png("file", &png)).await.json));
    let declined = app.post_form("/v1/ocr/receipt", Form::png("file", &png).text("fields", "false")).await;
    assert!(!has_fields(&declined.json), "{}", declined.json);
}
