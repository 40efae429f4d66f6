//! KServe V1 ("TensorFlow Serving style") prediction protocol:
//!
//! * `GET /v1/models` → `{"models": ["ocr", "tesseract"]}`: the default
//!   engine as `ocr` (`--model-name`), then each engine by its own name
//! * `GET /v1/models/ocr` → `{"name": "ocr", "ready": true}` (503 with
//!   `"ready": false` until that engine is loaded)
//! * `POST /v1/models/ocr:predict` with
//!   `{"instances": [{"image": {"b64": "..."}}, ...]}` →
//!   `{"predictions": [<OCR response>, ...]}`, one per instance, in order.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use super::kserve::{self, ProtocolError};
use crate::pdf_pages::PdfText;
use crate::state::SharedState;
use crate::wire::error::ApiError;

pub fn routes(state: &SharedState) -> Router<SharedState> {
    // `{name}:predict` is one path segment, so the verb is split off in the
    // handler: GET on the segment is the model status, POST the verb.
    let predict = Router::new()
        .route("/v1/models/{name}", post(predict))
        .route_layer(middleware::from_fn_with_state(state.access.clone(), crate::wire::access::guard::<ProtocolError>))
        .layer(DefaultBodyLimit::max(kserve::body_limit(state)));
    Router::new().route("/v1/models", get(list)).route("/v1/models/{name}", get(status)).merge(predict)
}

async fn list(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({"models": kserve::served(&state)}))
}

async fn status(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ProtocolError> {
    let slot = kserve::check_model(&state, &name)?;
    let ready = kserve::model_ready(&state, slot);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    Ok((status, Json(json!({"name": name, "ready": ready}))))
}

async fn predict(
    State(state): State<SharedState>,
    Path(name_verb): Path<String>,
    request: Request,
) -> Result<Json<Value>, ProtocolError> {
    let Some((name, "predict")) = name_verb.rsplit_once(':') else {
        return Err(ProtocolError::BadRequest("POST /v1/models/NAME:predict is the only V1 verb served".into()));
    };
    let slot = kserve::check_model(&state, name)?;
    kserve::check_ready(&state, slot)?;
    let bypass = crate::reading::bypass(request.headers());
    let body = kserve::read_body(&state, request).await?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|e| ProtocolError::BadRequest(format!("the body is not JSON: {e}")))?;
    drop(body);
    let fields = match parsed.pointer("/parameters/fields") {
        None => state.fields.by_default,
        Some(Value::Bool(fields)) => *fields,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!("`fields` is {other}; use true or false")).into());
        }
    };
    let pdf_text = match parsed.pointer("/parameters/pdf_text") {
        None => PdfText::Auto,
        Some(Value::String(value)) => PdfText::parse(Some(value))?,
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!("`pdf_text` is {other}; use \"auto\" or \"off\"")).into());
        }
    };
    let instances = parsed
        .get("instances")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::BadRequest("expected {\"instances\": [...]}".into()))?;
    let images = instances
        .iter()
        .enumerate()
        .map(|(i, instance)| {
            let text = instance.pointer("/image/b64").and_then(Value::as_str).ok_or_else(|| {
                ProtocolError::BadRequest(format!("instance {i}: expected {{\"image\": {{\"b64\": \"<base64>\"}}}}"))
            })?;
            kserve::decode_base64(&state, i, text)
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Only the decoded images stay in memory while they are read.
    drop(parsed);
    let predictions = kserve::run_batch(&state, slot, images, bypass, fields, pdf_text).await?;
    Ok(Json(json!({"predictions": predictions})))
}
