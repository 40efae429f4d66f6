//! Helpers for the KServe V1 / Open Inference Protocol V2 tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Reply, Server, check_ocr_body, keys, set};

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Asserts the protocols' error shape, `{"error": "message"}`, with this
/// status, the service's code in `X-Error-Code`, and `fragment` in the message.
pub fn assert_protocol_error(reply: &Reply, status: u16, code: &str, fragment: &str) {
    assert_eq!(reply.status, status, "wrong status; body: {}", reply.json);
    assert_eq!(keys(&reply.json), set(&["error"]), "body: {}", reply.json);
    let message = reply.json["error"].as_str().expect("error is a string");
    assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
    let header = reply.headers.get("x-error-code").and_then(|v| v.to_str().ok());
    assert_eq!(header, Some(code), "X-Error-Code; body: {}", reply.json);
}

pub async fn post_json(server: &Server, path: &str, body: &Value) -> Reply {
    server.post_raw(path, "application/json", serde_json::to_vec(body).unwrap()).await
}

/// What two OCR answers must share to be "the same lines": text and box of
/// every line, in order (timings differ from run to run).
pub fn lines_of(json: &Value) -> Vec<(String, [[f64; 2]; 4])> {
    check_ocr_body(json).into_iter().map(|line| (line.text, line.bbox)).collect()
}
