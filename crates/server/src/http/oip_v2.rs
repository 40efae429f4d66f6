//! Open Inference Protocol (KServe V2) over REST, with the binary tensor
//! data extension. The model takes one BYTES input `image` of shape [N], the
//! encoded image files, and gives one BYTES output `result` of shape [N], each
//! element the JSON OCR response of that image (the body of
//! `POST /v1/ocr/receipt`). See docs/kserve.md.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;
use serde_json::{Value, json};

use super::kserve::{self, ProtocolError};
use crate::pdf_pages::PdfText;
use crate::state::{AppState, SharedState};
use crate::wire::binary_tensor;
use crate::wire::{HEADER_LENGTH, V2_INPUT as INPUT, V2_OUTPUT as OUTPUT};

pub fn routes(state: &SharedState) -> Router<SharedState> {
    let infer = Router::new()
        .route("/v2/models/{name}/infer", post(infer))
        .route_layer(middleware::from_fn_with_state(state.access.clone(), crate::wire::access::guard::<ProtocolError>))
        .layer(DefaultBodyLimit::max(kserve::body_limit(state)));
    Router::new()
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(|| async { Json(json!({"live": true})) }))
        .route("/v2/health/ready", get(server_ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .merge(infer)
}

async fn server_metadata() -> Json<Value> {
    Json(json!({"name": "inference-hub", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"]}))
}

fn readiness(state: &AppState) -> StatusCode {
    if state.ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }
}

async fn server_ready(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    (readiness(&state), Json(json!({"ready": state.ready()})))
}

async fn model_ready(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ProtocolError> {
    let slot = kserve::check_model(&state, &name)?;
    let ready = kserve::model_ready(&state, slot);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(json!({"name": name, "ready": ready}))))
}

async fn model_metadata(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ProtocolError> {
    let slot = kserve::check_model(&state, &name)?;
    let version = slot.ready().map(|l| l.info.version.clone());
    Ok(Json(json!({
        "name": name,
        "versions": version.into_iter().collect::<Vec<_>>(),
        "platform": "inference-hub",
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [{"name": OUTPUT, "datatype": "BYTES", "shape": [-1]}],
    })))
}

/// The `parameters` the protocol and its binary extension define; others
/// (`timeout`, `priority`, ...) are accepted and ignored.
#[derive(Debug, Default, Deserialize)]
struct Parameters {
    /// Request level: outputs not listed in `outputs` come back as binary data.
    binary_data_output: Option<bool>,
    /// Input level: the tensor's data is this many bytes after the JSON.
    binary_data_size: Option<u64>,
    /// Output level: return this output as binary data.
    binary_data: Option<bool>,
    /// Request level, this service's own: add the receipt's fields to each
    /// result [default: `--fields`].
    fields: Option<bool>,
    /// Request level, this service's own: `auto` reads a PDF page's text
    /// layer when it has one, `off` runs OCR on every page [default: auto].
    pdf_text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InferRequest {
    id: Option<String>,
    #[serde(default)]
    parameters: Parameters,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Vec<RequestedOutput>,
}

#[derive(Debug, Deserialize)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Parameters,
    data: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Parameters,
}

async fn infer(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Response, ProtocolError> {
    let slot = kserve::check_model(&state, &name)?;
    kserve::check_ready(&state, slot)?;
    let header_len = header_length(request.headers())?;
    let bypass = crate::reading::bypass(request.headers());
    let body = kserve::read_body(&state, request).await?;
    let (header, binary) = binary_tensor::split(&body, header_len).map_err(ProtocolError::BadRequest)?;
    let parsed: InferRequest = serde_json::from_slice(header)
        .map_err(|e| ProtocolError::BadRequest(format!("the inference request is not valid: {e}")))?;
    let binary_output = binary_output(&parsed)?;
    let images = input_images(&state, &parsed, binary)?;
    let id = parsed.id.clone();
    let fields = parsed.parameters.fields.unwrap_or(state.fields.by_default);
    let pdf_text = PdfText::parse(parsed.parameters.pdf_text.as_deref())?;
    // Only the decoded images stay in memory while they are read.
    drop(parsed);
    drop(body);
    let results = kserve::run_batch(&state, slot, images, bypass, fields, pdf_text).await?;
    let texts: Vec<String> = results.iter().map(|r| serde_json::to_string(r).expect("serialisable")).collect();
    Ok(respond(&name, id, &texts, binary_output))
}

fn header_length(headers: &HeaderMap) -> Result<Option<usize>, ProtocolError> {
    let Some(value) = headers.get(HEADER_LENGTH) else { return Ok(None) };
    let len = value.to_str().ok().and_then(|v| v.trim().parse().ok());
    len.map(Some).ok_or_else(|| ProtocolError::BadRequest("Inference-Header-Content-Length is not a number".into()))
}

/// Whether `result` goes back as binary data.
fn binary_output(request: &InferRequest) -> Result<bool, ProtocolError> {
    let default = request.parameters.binary_data_output.unwrap_or(false);
    let mut binary = default;
    for output in &request.outputs {
        if output.name != OUTPUT {
            let name: String = output.name.chars().take(100).collect();
            return Err(ProtocolError::BadRequest(format!(
                "unknown output `{name}`: the model has one output, `{OUTPUT}`"
            )));
        }
        binary = output.parameters.binary_data.unwrap_or(default);
    }
    Ok(binary)
}

/// The image files of the `image` input, from JSON (base64 text) or binary data.
fn input_images(state: &AppState, request: &InferRequest, binary: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    let bad = |why: String| Err(ProtocolError::BadRequest(why));
    let [input] = request.inputs.as_slice() else {
        return bad(format!("expected one input, `{INPUT}`; got {}", request.inputs.len()));
    };
    if input.name != INPUT {
        let name: String = input.name.chars().take(100).collect();
        return bad(format!("unknown input `{name}`: the model takes one input, `{INPUT}`"));
    }
    if input.datatype != "BYTES" {
        return bad(format!(
            "input `{INPUT}` must be BYTES, not {}",
            input.datatype.chars().take(20).collect::<String>()
        ));
    }
    let count = input.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
    let Some(count) = count else { return bad(format!("input `{INPUT}` has an invalid shape {:?}", input.shape)) };
    let limit = state.limits.max_batch;
    if count > limit {
        return Err(ProtocolError::BatchTooLarge { images: count, limit });
    }
    let images: Vec<Vec<u8>> = match (input.parameters.binary_data_size, &input.data) {
        (Some(size), None) => {
            if usize::try_from(size).ok() != Some(binary.len()) {
                return bad(format!("binary_data_size is {size}, but {} bytes follow the JSON", binary.len()));
            }
            let elements = binary_tensor::decode_bytes(binary).map_err(ProtocolError::BadRequest)?;
            elements.into_iter().map(<[u8]>::to_vec).collect()
        }
        (None, Some(data)) => {
            if !binary.is_empty() {
                return bad("binary data follows the JSON, but no input has binary_data_size".into());
            }
            let mut elements = Vec::new();
            flatten(data, &mut elements);
            let texts = elements.iter().enumerate().map(|(i, element)| match element.as_str() {
                Some(text) => kserve::decode_base64(state, i, text),
                None => Err(ProtocolError::BadRequest(format!("element {i} of `{INPUT}` is not a string of base64"))),
            });
            texts.collect::<Result<_, _>>()?
        }
        (Some(_), Some(_)) => return bad(format!("input `{INPUT}` has both data and binary_data_size")),
        (None, None) => return bad(format!("input `{INPUT}` has no data")),
    };
    if images.len() != count {
        return bad(format!("input `{INPUT}` has shape {:?} but {} elements", input.shape, images.len()));
    }
    Ok(images)
}

/// Tensor data may be nested row by row; the protocol allows either form.
fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        other => out.push(other),
    }
}

fn respond(name: &str, id: Option<String>, texts: &[String], binary: bool) -> Response {
    let mut output = json!({"name": OUTPUT, "datatype": "BYTES", "shape": [texts.len()]});
    let mut body = json!({"model_name": name, "outputs": []});
    if let Some(id) = id {
        body["id"] = Value::String(id);
    }
    if !binary {
        output["data"] = json!(texts);
        body["outputs"] = json!([output]);
        return Json(body).into_response();
    }
    let data = binary_tensor::encode_bytes(texts.iter().map(String::as_bytes));
    output["parameters"] = json!({"binary_data_size": data.len()});
    body["outputs"] = json!([output]);
    let mut bytes = serde_json::to_vec(&body).expect("serialisable");
    let header_len = bytes.len().to_string();
    bytes.extend_from_slice(&data);
    ([(CONTENT_TYPE.as_str(), "application/octet-stream"), (HEADER_LENGTH, header_len.as_str())], bytes).into_response()
}
