//! `POST /v1/ocr/receipt` (and aliases): one image in a multipart form,
//! read by the engine the request names (`engine=`, as a form field or in
//! the query) or the one `crate::dispatch` picks.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use metrics::{counter, histogram};
use tokio::time::{Instant, timeout};

use crate::dispatch;
use crate::pdf_pages::PdfText;
use crate::reading::{self, Read};
use crate::state::{AppState, SharedState};
use crate::wire::error::ApiError;
use crate::wire::options::{OcrQuery, Requested};
use crate::wire::upload::{FormOptions, read_upload};
use crate::wire::{CACHE_HEADER, ENGINE_HEADER};

/// Reads the text lines of one receipt or document image.
#[utoipa::path(post, path = "/v1/ocr/receipt", tag = "ocr", operation_id = "recognize", params(OcrQuery),
    responses((status = 200, description = "The lines read, in reading order; header `X-OCR-Engine` names the \
        engine, `X-Cache` says `hit`, `miss` or `bypass` (request header `Cache-Control: no-cache`)",
        body = crate::wire::response::OcrResponse)))]
pub async fn recognize(
    State(state): State<SharedState>,
    query: Result<Query<OcrQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let mut engine = "none";
    let answer = read_receipt(&state, query, reading::bypass(&headers), form, &mut engine).await;
    let outcome = if answer.is_ok() { "success" } else { "error" };
    counter!("ocr_requests_total", "outcome" => outcome, "engine" => engine).increment(1);
    histogram!("request_predict_seconds", "engine" => engine).record(started.elapsed().as_secs_f64());
    match answer {
        Ok(read) => {
            let mut response = Json(read.response).into_response();
            let headers = response.headers_mut();
            headers.insert(ENGINE_HEADER, HeaderValue::from_static(engine));
            if let Some(status) = read.cache {
                headers.insert(CACHE_HEADER, HeaderValue::from_static(status.as_str()));
            }
            response
        }
        Err(err) => err.into_response(),
    }
}

async fn read_receipt(
    state: &SharedState,
    query: Result<Query<OcrQuery>, axum::extract::rejection::QueryRejection>,
    bypass: bool,
    form: Result<Multipart, MultipartRejection>,
    engine: &mut &'static str,
) -> Result<Read, ApiError> {
    // Until an engine is chosen, failures count against the default.
    if let Ok(slot) = state.engine(None) {
        *engine = slot.name;
    }
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    // Refuse before reading the upload when there is nothing to run it on.
    *engine = dispatch::precheck(state, query.engine.as_deref())?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    let upload = timeout(state.limits.body_timeout, read_upload(form, state.limits.max_upload_bytes))
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    let options = Options::resolve(state, query, upload.options)?;
    let (slot, loaded) = dispatch::choose(state, options.engine.as_deref())?;
    *engine = slot.name;
    // Dropping the wait on timeout closes the reply channel, and a worker
    // skips a job whose client is gone.
    let mut read = timeout(
        state.limits.request_timeout,
        reading::read(state, slot, loaded, upload.image.clone(), bypass, options.pdf_text),
    )
    .await
    .map_err(|_| ApiError::DeadlineExceeded)??;
    if options.fields {
        read.response.add_fields(state.fields.merchants().as_deref());
    }
    let response = &read.response;
    // Counts and timings only: recognised text never reaches the log.
    tracing::info!(
        lines = response.line_count,
        engine = slot.name,
        cache = read.cache.map(|c| c.as_str()),
        "OCR processing time: {:.1} ms",
        response.processing_time_ms
    );
    if read.computed() {
        dispatch::shadow(state, slot.name, upload.image, response);
    }
    Ok(read)
}

/// What a request asks for, from its query and its form.
pub struct Options {
    pub engine: Option<String>,
    /// Add the receipt's fields to the answer.
    pub fields: bool,
    pub pdf_text: PdfText,
}

impl Options {
    /// The query's and the form's options (an option in both must agree);
    /// `fields` defaults to `--fields`.
    pub fn resolve(state: &AppState, query: OcrQuery, form: FormOptions) -> Result<Self, ApiError> {
        let requested = Requested::merge(query, form)?;
        Ok(Self {
            engine: requested.engine,
            fields: requested.fields.unwrap_or(state.fields.by_default),
            pdf_text: PdfText::parse(requested.pdf_text.as_deref())?,
        })
    }
}
