//! `/v1/jobs`: asynchronous OCR. A submission is stored (the same form and
//! limits as `/v1/ocr/batch`) and answered 202 at once; a worker reads it
//! later; the client polls or is called back. A job is visible only to the
//! API key that created it.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_jobs::{Image, NewJob, Status};
use metrics::counter;
use serde::Deserialize;
use tokio::time::timeout;

use super::ocr::Options;
use crate::jobs::{JobList, JobOptions, JobView, Submission};
use crate::state::SharedState;
use crate::wire::error::ApiError;
use crate::wire::options::{OcrQuery, one_of};
use crate::wire::upload::read_batch;

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct SubmitQuery {
    /// The engine for every image (see /health); the same as the form field.
    pub engine: Option<String>,
    /// `true`: add each receipt's fields to its answer. Default: `--fields`.
    pub fields: Option<String>,
    /// PDFs: `auto` (text layers where real) or `off` (OCR every page); the same as the form field.
    pub pdf_text: Option<String>,
    /// Where to POST the job when it ends (host on `--callback-hosts`); the same as the form field.
    pub callback_url: Option<String>,
}

/// Queues images for OCR; answers at once with the job's id.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", operation_id = "submit_job", params(SubmitQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "a retried submission with the same key \
          returns the original job instead of queuing another")),
    responses((status = 202, description = "Queued (header `Location`); with a replayed `Idempotency-Key`, \
        the original job (header `Idempotent-Replayed: true`)", body = Submission)))]
pub async fn submit(
    State(state): State<SharedState>,
    query: Result<Query<SubmitQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let service = state.jobs.get()?;
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let idempotency_key = idempotency_key(&headers)?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    let limits = &state.limits;
    let read = read_batch(form, limits.max_upload_bytes, limits.max_batch, limits.max_batch_bytes);
    let mut upload = timeout(limits.body_timeout, read).await.map_err(|_| ApiError::BodyTimeout)??;
    let callback_url = one_of("callback_url", query.callback_url, upload.options.callback_url.take())?;
    let options = Options::resolve(
        &state,
        OcrQuery { engine: query.engine, fields: query.fields, pdf_text: query.pdf_text },
        upload.options,
    )?;
    // An engine this service does not run is refused now, not when a worker finds out.
    state.engine(options.engine.as_deref())?;
    if let Some(url) = &callback_url {
        service.callbacks.check(url)?;
    }
    // Every image is checked as the batch route checks it; a bad one refuses the job.
    let mut images = Vec::with_capacity(upload.parts.len());
    for part in upload.parts {
        let bytes = part.image.map_err(|err| match err {
            ApiError::InvalidParameter(why) => ApiError::InvalidParameter(format!("{}: {why}", part.filename)),
            other => other,
        })?;
        images.push(Image { filename: part.filename, bytes: bytes.to_vec() });
    }
    let job_options = JobOptions { engine: options.engine, fields: options.fields, pdf_text: options.pdf_text };
    let new = NewJob {
        owner: state.access.owner(&headers),
        idempotency_key,
        options: serde_json::to_string(&job_options).map_err(|_| ApiError::Internal)?,
        callback_url,
        images,
    };
    let submitted = service.store.submit(new).await?;
    let replayed = submitted.replayed;
    counter!("ocr_jobs_submitted_total", "replayed" => if replayed { "true" } else { "false" }).increment(1);
    if !replayed {
        service.submitted.notify_one();
        tracing::info!(job = %submitted.job.id, images = submitted.job.image_count, "job queued");
    }
    let view = JobView::from(submitted.job);
    let location = HeaderValue::from_str(&view.status_url).map_err(|_| ApiError::Internal)?;
    let body = Submission { id: view.id, status: view.status, status_url: view.status_url };
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::InvalidParameter(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// A job: its status, timestamps, attempts and, once succeeded, its result.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", operation_id = "get_job",
    params(("id" = String, Path, description = "the id `POST /v1/jobs` returned")),
    responses((status = 200, description = "The job; `result` in `/v1/ocr/batch`'s shape once it succeeded", body = JobView)))]
pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<JobView>, ApiError> {
    let service = state.jobs.get()?;
    let job = service.store.get(&state.access.owner(&headers), &id).await?.ok_or(ApiError::JobNotFound)?;
    Ok(Json(job.into()))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only jobs in this status: `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// At most this many (1..=500, default 50), newest first.
    pub limit: Option<u32>,
}

/// This API key's jobs, newest first, without their results.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", operation_id = "list_jobs", params(ListQuery),
    responses((status = 200, description = "Jobs, newest first", body = JobList)))]
pub async fn list(
    State(state): State<SharedState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<JobList>, ApiError> {
    let service = state.jobs.get()?;
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(Status::parse(text).ok_or_else(|| {
            ApiError::InvalidParameter(format!(
                "`status` is `{}`; use queued, running, succeeded, failed or cancelled",
                text.chars().take(30).collect::<String>()
            ))
        })?),
    };
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidParameter("`limit` must be between 1 and 500".into()));
    }
    let jobs = service.store.list(&state.access.owner(&headers), status, limit).await?;
    Ok(Json(JobList { jobs: jobs.into_iter().map(JobView::from).collect() }))
}

/// Cancels a queued job; a job that is running or has ended answers 409.
#[utoipa::path(delete, path = "/v1/jobs/{id}", tag = "jobs", operation_id = "cancel_job",
    params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, description = "Cancelled (also when it already was)", body = JobView)))]
pub async fn cancel(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<JobView>, ApiError> {
    let service = state.jobs.get()?;
    let job = service.store.cancel(&state.access.owner(&headers), &id).await?.ok_or(ApiError::JobNotFound)?;
    match job.status {
        Status::Cancelled => Ok(Json(job.into())),
        other => Err(ApiError::JobNotCancellable(other.as_str())),
    }
}
