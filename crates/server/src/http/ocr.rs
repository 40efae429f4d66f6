//! `POST /v1/ocr/receipt` (and aliases): one image in a multipart form.

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use metrics::{counter, histogram};
use tokio::time::{Instant, timeout};

use crate::state::SharedState;
use crate::wire::error::ApiError;
use crate::wire::response::OcrResponse;
use crate::wire::upload::read_image;

/// Reads the text lines of one receipt or document image.
#[utoipa::path(post, path = "/v1/ocr/receipt", tag = "ocr", operation_id = "recognize",
    responses((status = 200, description = "The lines read, in reading order", body = OcrResponse)))]
pub async fn recognize(
    State(state): State<SharedState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<OcrResponse>, ApiError> {
    let started = Instant::now();
    let answer = read_receipt(state, form).await;
    let outcome = if answer.is_ok() { "success" } else { "error" };
    counter!("ocr_requests_total", "outcome" => outcome).increment(1);
    histogram!("request_predict_seconds").record(started.elapsed().as_secs_f64());
    answer
}

async fn read_receipt(
    state: SharedState,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<OcrResponse>, ApiError> {
    // Refuse before reading the upload when there is nothing to run it on.
    let loaded = state.loaded()?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    let image = timeout(state.limits.body_timeout, read_image(form, state.limits.max_upload_bytes))
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    // Dropping the wait on timeout closes the reply channel, and a worker
    // skips a job whose client is gone.
    let done = timeout(state.limits.request_timeout, loaded.pool.recognize(image))
        .await
        .map_err(|_| ApiError::DeadlineExceeded)??;
    histogram!("ocr_processing_seconds").record(done.elapsed.as_secs_f64());
    let millis = done.elapsed.as_secs_f64() * 1000.0;
    // Counts and timings only: recognised text never reaches the log.
    tracing::info!(lines = done.lines.len(), "OCR processing time: {millis:.1} ms");
    Ok(Json(OcrResponse::new(done.lines, done.elapsed)))
}
