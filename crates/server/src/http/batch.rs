//! `POST /v1/ocr/batch`: many images in one multipart form, read
//! concurrently by one engine; one answer per image, in upload order. A bad
//! image fails only its own entry; the batch as a whole is refused only for
//! an empty form, too many parts, an over-limit body, or no queue slot at all.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream;
use metrics::counter;
use tokio::time::{Instant, timeout};

use crate::state::SharedState;
use crate::wire::ENGINE_HEADER;
use crate::wire::error::ApiError;
use crate::wire::options::OcrQuery;
use crate::wire::response::{BatchItem, BatchResponse};
use crate::wire::upload::read_batch;
use crate::{dispatch, reading};

/// Reads the text lines of up to `--max-batch` images.
#[utoipa::path(post, path = "/v1/ocr/batch", tag = "ocr", operation_id = "recognize_batch", params(OcrQuery),
    responses((status = 200, description = "One entry per image part, in upload order: its lines and `filename`, \
        or `filename` and `error`", body = BatchResponse)))]
pub async fn recognize_batch(
    State(state): State<SharedState>,
    query: Result<Query<OcrQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut engine = "none";
    let answer = read_batch_form(&state, query, reading::bypass(&headers), form, &mut engine).await;
    let outcome = if answer.is_ok() { "success" } else { "error" };
    counter!("ocr_batch_requests_total", "outcome" => outcome, "engine" => engine).increment(1);
    match answer {
        Ok(body) => {
            let mut response = Json(body).into_response();
            response.headers_mut().insert(ENGINE_HEADER, HeaderValue::from_static(engine));
            response
        }
        Err(err) => err.into_response(),
    }
}

async fn read_batch_form(
    state: &SharedState,
    query: Result<Query<OcrQuery>, axum::extract::rejection::QueryRejection>,
    bypass: bool,
    form: Result<Multipart, MultipartRejection>,
    engine: &mut &'static str,
) -> Result<BatchResponse, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    *engine = dispatch::precheck(state, query.engine.as_deref())?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    let limits = &state.limits;
    let read = read_batch(form, limits.max_upload_bytes, limits.max_batch, limits.max_batch_bytes);
    let upload = timeout(limits.body_timeout, read).await.map_err(|_| ApiError::BodyTimeout)??;
    let options = super::ocr::Options::resolve(state, query, upload.options)?;
    let (slot, loaded) = dispatch::choose(state, options.engine.as_deref())?;
    *engine = slot.name;
    let started = Instant::now();
    // The batch may keep as many images in the queue as it found free
    // slots; none free is a 429 for the whole batch.
    let in_flight = loaded.pool.free().min(upload.parts.len());
    if in_flight == 0 {
        return Err(ApiError::Overloaded);
    }
    let reads = upload.parts.into_iter().map(|part| async move {
        let outcome = match part.image {
            // Each image through the cache: a repeated receipt costs no worker.
            Ok(image) => reading::read(state, slot, loaded, image, bypass, options.pdf_text).await,
            Err(err) => Err(err),
        };
        (part.filename, outcome)
    });
    // `buffered` keeps upload order; dropping the stream on timeout drops
    // the queued work, and a worker skips a job whose caller is gone.
    let done: Vec<_> = timeout(limits.request_timeout, stream::iter(reads).buffered(in_flight).collect())
        .await
        .map_err(|_| ApiError::DeadlineExceeded)?;
    let results: Vec<BatchItem> = done
        .into_iter()
        .map(|(filename, outcome)| match outcome {
            Ok(read) => {
                counter!("ocr_batch_images_total", "outcome" => "success", "engine" => slot.name).increment(1);
                let mut response = read.response;
                if options.fields {
                    response.add_fields(state.fields.merchants().as_deref());
                }
                BatchItem::Read { filename, response }
            }
            Err(err) => {
                counter!("ocr_batch_images_total", "outcome" => "error", "engine" => slot.name).increment(1);
                BatchItem::Failed { filename, error: (&err).into() }
            }
        })
        .collect();
    let response = BatchResponse::new(results, started.elapsed());
    // Counts and timings only: recognised text never reaches the log.
    tracing::info!(
        images = response.count,
        failed = response.failed,
        engine = slot.name,
        "OCR batch processing time: {:.1} ms",
        response.processing_time_ms
    );
    Ok(response)
}
