//! `POST /v1/ocr/receipt` (and aliases): one image in a multipart form.

use axum::Json;
use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use hub_ocr::sniff_format;
use metrics::{counter, histogram};
use tokio::time::{Instant, timeout};

use crate::error::ApiError;
use crate::response::OcrResponse;
use crate::state::SharedState;

/// Form fields that carry the image.
const FILE_FIELDS: [&str; 2] = ["file", "image_file"];

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
    let image = timeout(state.body_timeout, read_image(form, state.max_upload_bytes))
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    // Dropping the wait on timeout closes the reply channel, and a worker
    // skips a job whose client is gone.
    let done = timeout(state.request_timeout, loaded.pool.recognize(image))
        .await
        .map_err(|_| ApiError::DeadlineExceeded)??;
    histogram!("ocr_processing_seconds").record(done.elapsed.as_secs_f64());
    let millis = done.elapsed.as_secs_f64() * 1000.0;
    // Counts and timings only: recognised text never reaches the log.
    tracing::info!(lines = done.lines.len(), "OCR processing time: {millis:.1} ms");
    Ok(Json(OcrResponse::new(done.lines, done.elapsed)))
}

/// The single image part of the form; other text fields are ignored.
pub async fn read_image(mut form: Multipart, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut image: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(e, limit))? {
        if !field.name().is_some_and(|n| FILE_FIELDS.contains(&n)) {
            continue;
        }
        if image.is_some() {
            return Err(ApiError::BadMultipart("send one image per request".into()));
        }
        let declared = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        if bytes.len() > limit {
            return Err(ApiError::FileTooLarge(limit));
        }
        if !bytes.is_empty() {
            check_type(declared.as_deref(), &bytes)?;
        }
        image = Some(bytes.to_vec());
    }
    match image {
        None => Err(ApiError::MissingFile),
        Some(bytes) if bytes.is_empty() => Err(ApiError::EmptyFile),
        Some(bytes) => Ok(bytes),
    }
}

/// The bytes must be a supported image, and a declared Content-Type must not
/// name another format (a renamed or disguised file is refused, not guessed).
fn check_type(declared: Option<&str>, bytes: &[u8]) -> Result<(), ApiError> {
    let format = sniff_format(bytes).ok_or(ApiError::UnsupportedFormat)?;
    let actual = format.to_mime_type();
    let Some(declared) = declared else { return Ok(()) };
    let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let agrees = match essence.as_str() {
        // Clients that do not know the type send these.
        "" | "application/octet-stream" | "binary/octet-stream" => true,
        "image/jpg" | "image/pjpeg" => actual == "image/jpeg",
        "image/x-png" => actual == "image/png",
        "image/x-bmp" | "image/x-ms-bmp" => actual == "image/bmp",
        other => other == actual,
    };
    if agrees {
        Ok(())
    } else {
        Err(ApiError::ContentTypeMismatch { declared: declared.chars().take(100).collect(), actual })
    }
}

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::FileTooLarge(limit)
    } else {
        ApiError::BadMultipart(err.body_text())
    }
}
