//! What the KServe V1 and V2 routes share: the served models (one per
//! engine, and the default engine under `--model-name`, `ocr`) and their
//! readiness, the error shape, request bodies, and running a batch of
//! images through an engine's worker pool.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use futures_util::future::try_join_all;
use serde_json::json;
use tokio::time::timeout;

use crate::pdf_pages::PdfText;
use crate::state::{AppState, EngineSlot};
use crate::wire::ERROR_CODE_HEADER;
use crate::wire::error::{ApiError, ErrorCode};
use crate::wire::response::OcrResponse;
use crate::wire::upload::sniff_type;

/// Base64 as clients send it: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An error as KServe and the Open Inference Protocol shape it:
/// `{"error": "message"}`, with the status (and `Retry-After`,
/// `WWW-Authenticate`) the service's own contract gives it.
#[derive(Debug)]
pub enum ProtocolError {
    /// One of the service's errors, about image `index` of the batch if set.
    Api(ApiError, Option<usize>),
    /// The request does not follow the protocol.
    BadRequest(String),
    /// No model of this name is served.
    UnknownModel(String),
    /// More images in one request than `--max-batch`.
    BatchTooLarge { images: usize, limit: usize },
}

impl From<ApiError> for ProtocolError {
    fn from(err: ApiError) -> Self {
        ProtocolError::Api(err, None)
    }
}

impl IntoResponse for ProtocolError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ProtocolError::Api(err, index) => {
                let message = match index {
                    Some(i) => format!("image {i}: {}", err.message()),
                    None => err.message(),
                };
                let code = err.code();
                // The service's own answer carries the status and headers; only the body changes.
                let (mut parts, _) = err.into_response().into_parts();
                parts.headers.insert(ERROR_CODE_HEADER, HeaderValue::from_static(code));
                let body = Json(json!({"error": message})).into_response().into_body();
                return Response::from_parts(parts, body);
            }
            ProtocolError::BadRequest(why) => (StatusCode::BAD_REQUEST, "bad_request", why),
            ProtocolError::UnknownModel(name) => {
                let name: String = name.chars().take(100).collect();
                (StatusCode::NOT_FOUND, "model_not_found", format!("model `{name}` is not served here"))
            }
            ProtocolError::BatchTooLarge { images, limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch_too_large",
                format!("{images} images in one request; the limit is {limit}"),
            ),
        };
        let mut response = (status, Json(json!({"error": message}))).into_response();
        response.headers_mut().insert(ERROR_CODE_HEADER, HeaderValue::from_static(code));
        // Counted in request_errors_total like the service's own errors.
        response.extensions_mut().insert(ErrorCode(code));
        response
    }
}

/// The served model names: the default engine's alias (`--model-name`),
/// then every engine by its own name; none when OCR is switched off.
pub fn served(state: &AppState) -> Vec<&str> {
    let Some(engines) = &state.lifecycle.engines else { return Vec::new() };
    let mut names = vec![state.about.model_name.as_str()];
    names.extend(engines.names().into_iter().filter(|n| *n != state.about.model_name));
    names
}

/// The engine behind model `name`.
pub fn check_model<'a>(state: &'a AppState, name: &str) -> Result<&'a EngineSlot, ProtocolError> {
    let unknown = || ProtocolError::UnknownModel(name.to_owned());
    let engines = state.lifecycle.engines.as_ref().ok_or_else(unknown)?;
    if name == state.about.model_name { Ok(engines.default_slot()) } else { engines.get(name).ok_or_else(unknown) }
}

/// Model `slot` is loaded and the service is not draining.
pub fn model_ready(state: &AppState, slot: &EngineSlot) -> bool {
    slot.ready().is_some() && !state.lifecycle.shutting_down.load(std::sync::atomic::Ordering::Relaxed)
}

/// Refuses before the body is read when nothing could run it.
pub fn check_ready(state: &AppState, slot: &EngineSlot) -> Result<(), ProtocolError> {
    state.loaded(slot).map(|_| ()).map_err(ProtocolError::from)
}

/// Largest request body: `--max-batch` images of `--max-upload-mb`, in base64.
pub fn body_limit(state: &AppState) -> usize {
    state.limits.max_batch.max(1) * (state.limits.max_upload_bytes / 3 + 1) * 4 + 64 * 1024
}

/// Reads the whole body within the upload timeout (408) and size limit (413).
pub async fn read_body(state: &AppState, request: Request) -> Result<Bytes, ProtocolError> {
    let limit = body_limit(state);
    let read = timeout(state.limits.body_timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_| ApiError::BodyTimeout)?;
    read.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ProtocolError::Api(ApiError::FileTooLarge(limit), None),
        _ => ProtocolError::BadRequest(rejection.body_text()),
    })
}

/// Decodes image `index` from base64, refusing it unread if it would be
/// over the upload limit.
pub fn decode_base64(state: &AppState, index: usize, text: &str) -> Result<Vec<u8>, ProtocolError> {
    if text.len() / 4 * 3 > state.limits.max_upload_bytes + 3 {
        return Err(ProtocolError::Api(ApiError::FileTooLarge(state.limits.max_upload_bytes), Some(index)));
    }
    BASE64.decode(text).map_err(|e| ProtocolError::BadRequest(format!("image {index} is not valid base64: {e}")))
}

/// Runs every image at once through the worker pool and returns their
/// answers in order. One bad image fails the whole request, naming its index;
/// the other images' queued work is then dropped.
pub async fn run_batch(
    state: &AppState,
    slot: &EngineSlot,
    images: Vec<Vec<u8>>,
    bypass: bool,
    fields: bool,
    pdf_text: PdfText,
) -> Result<Vec<OcrResponse>, ProtocolError> {
    let loaded = state.loaded(slot)?;
    let limit = state.limits.max_batch;
    if images.is_empty() {
        return Err(ProtocolError::BadRequest("the request holds no image".into()));
    }
    if images.len() > limit {
        return Err(ProtocolError::BatchTooLarge { images: images.len(), limit });
    }
    // Cheap checks first, so a bad image costs no queue slot.
    for (i, image) in images.iter().enumerate() {
        let refused = if image.is_empty() {
            Some(ApiError::EmptyFile)
        } else if image.len() > state.limits.max_upload_bytes {
            Some(ApiError::FileTooLarge(state.limits.max_upload_bytes))
        } else if sniff_type(image).is_none() {
            Some(ApiError::UnsupportedFormat)
        } else {
            None
        };
        if let Some(err) = refused {
            return Err(ProtocolError::Api(err, Some(i)));
        }
    }
    let count = images.len();
    let started = Instant::now();
    let jobs = images.into_iter().enumerate().map(|(i, image)| async move {
        let read = crate::reading::read(state, slot, loaded, image.into(), bypass, pdf_text).await;
        let mut response = read.map_err(|e| ProtocolError::Api(e, Some(i)))?.response;
        if fields {
            response.add_fields(state.fields.merchants().as_deref());
        }
        Ok::<_, ProtocolError>(response)
    });
    // Dropping the batch on error or timeout closes the other jobs' reply
    // channels, so workers skip whatever is still queued.
    let done =
        timeout(state.limits.request_timeout, try_join_all(jobs)).await.map_err(|_| ApiError::DeadlineExceeded)??;
    let lines: usize = done.iter().map(|d| d.line_count).sum();
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    // Counts and timings only: recognised text never reaches the log.
    tracing::info!(images = count, lines, engine = slot.name, "OCR batch processing time: {millis:.1} ms");
    Ok(done)
}
