//! The service's one error contract. Every failure, from a bad upload to a
//! missing route, leaves as
//! `{"error": {"code": "...", "type": "...", "message": "..."}}` with the
//! status below. Codes are stable; messages are for people. See docs/errors.md.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_engines::EngineError;
use hub_ocr::OcrError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request has no image part (`file` or `image_file`).
    MissingFile,
    /// The body is not `multipart/form-data`, or its encoding is broken.
    BadMultipart(String),
    /// The image part holds zero bytes.
    EmptyFile,
    /// The upload exceeds the configured size limit (bytes).
    FileTooLarge(usize),
    /// More images in one batch than `--max-batch`.
    TooManyImages {
        limit: usize,
    },
    /// The bytes are not a JPEG, PNG, WEBP or BMP image, nor a PDF.
    UnsupportedFormat,
    /// The part's Content-Type names another format than its bytes are.
    ContentTypeMismatch {
        declared: String,
        actual: &'static str,
    },
    /// A supported format that cannot be decoded (truncated, corrupt).
    InvalidImage(String),
    /// The image is decodable in principle but over the pixel limits.
    ImageTooLarge(String),
    /// A PDF that cannot be read within the limits: `code` is hub-pdf's
    /// (`pdf_encrypted`, `pdf_too_many_pages`, ...), all the uploader's fault.
    Pdf {
        code: &'static str,
        message: String,
    },
    /// A request option has a value the service cannot use.
    InvalidParameter(String),
    /// The request names an engine this service does not run.
    UnknownEngine {
        name: String,
        known: Vec<&'static str>,
    },
    /// The request names an engine that is still loading or failed to load.
    EngineNotReady {
        name: &'static str,
        why: String,
    },
    /// Models are still loading.
    NotReady,
    /// Model loading failed; the service cannot serve inference.
    ModelsUnavailable(String),
    /// The inference queue is full.
    Overloaded,
    /// No valid API key (`Authorization: Bearer` or `X-API-Key`).
    Unauthorized,
    /// The client address is not on the allow-list.
    Forbidden,
    /// The client is over its rate limit; retry after this many seconds.
    RateLimited(u64),
    /// The upload did not arrive within the body timeout.
    BodyTimeout,
    /// More header bytes than any client of this API needs.
    HeadersTooLarge,
    /// The answer was not ready within the request deadline.
    DeadlineExceeded,
    /// The capability is switched off in this deployment.
    CapabilityDisabled(&'static str),
    /// No job with this id for this client (or it has expired).
    JobNotFound,
    /// `DELETE` on a job that is running or has ended.
    JobNotCancellable(&'static str),
    /// The job store cannot be reached or is still opening.
    JobsUnavailable,
    /// As many jobs are queued as `--job-max-queued` allows.
    JobQueueFull(u64),
    /// The job store holds `--job-max-stored-mb`.
    JobStorageFull(u64),
    /// An `Idempotency-Key` reused for a different submission.
    IdempotencyMismatch,
    /// A `callback_url` the service will not call.
    CallbackRefused(String),
    NotFound,
    MethodNotAllowed,
    /// A failure inside inference; details go to the log, not the client.
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            MissingFile
            | BadMultipart(_)
            | EmptyFile
            | InvalidImage(_)
            | InvalidParameter(_)
            | UnknownEngine { .. }
            | CallbackRefused(_) => StatusCode::BAD_REQUEST,
            JobNotFound => StatusCode::NOT_FOUND,
            JobNotCancellable(_) => StatusCode::CONFLICT,
            IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            JobQueueFull(_) => StatusCode::TOO_MANY_REQUESTS,
            JobStorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            JobsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            FileTooLarge(_) | ImageTooLarge(_) | TooManyImages { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedFormat | ContentTypeMismatch { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Overloaded | RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Unauthorized => StatusCode::UNAUTHORIZED,
            Forbidden => StatusCode::FORBIDDEN,
            BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            // Too many or too large pages are a size limit, as for images;
            // the rest is a PDF the service understands but will not read.
            Pdf { code: "pdf_too_many_pages" | "pdf_page_too_large", .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Pdf { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            NotReady | ModelsUnavailable(_) | EngineNotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
            CapabilityDisabled(_) | NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            MissingFile => "missing_file",
            BadMultipart(_) => "invalid_multipart",
            EmptyFile => "empty_file",
            FileTooLarge(_) => "file_too_large",
            TooManyImages { .. } => "batch_too_large",
            UnsupportedFormat => "unsupported_media_type",
            ContentTypeMismatch { .. } => "content_type_mismatch",
            InvalidImage(_) => "invalid_image",
            ImageTooLarge(_) => "image_too_large",
            Pdf { code, .. } => code,
            InvalidParameter(_) => "invalid_parameter",
            UnknownEngine { .. } => "unknown_engine",
            EngineNotReady { .. } => "engine_not_ready",
            NotReady => "models_loading",
            ModelsUnavailable(_) => "models_unavailable",
            Overloaded => "overloaded",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            RateLimited(_) => "rate_limited",
            BodyTimeout => "body_timeout",
            HeadersTooLarge => "headers_too_large",
            DeadlineExceeded => "deadline_exceeded",
            CapabilityDisabled(_) => "capability_disabled",
            JobNotFound => "job_not_found",
            JobNotCancellable(_) => "job_not_cancellable",
            JobsUnavailable => "jobs_unavailable",
            JobQueueFull(_) => "job_queue_full",
            JobStorageFull(_) => "job_storage_full",
            IdempotencyMismatch => "idempotency_key_reused",
            CallbackRefused(_) => "callback_refused",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Internal => "internal_error",
        }
    }

    /// Whose fault: the caller's (`invalid_request`) or ours (`server`).
    pub fn kind(&self) -> &'static str {
        kind_of(self.status())
    }

    pub fn message(&self) -> String {
        use ApiError::*;
        match self {
            MissingFile => "no image in the request: send multipart/form-data with the image in a field named `file` (or `image_file`)".into(),
            BadMultipart(why) => format!("the body is not valid multipart/form-data: {why}"),
            EmptyFile => "the uploaded file is empty".into(),
            FileTooLarge(limit) => format!("the upload exceeds the limit of {} MB", limit / (1024 * 1024)),
            TooManyImages { limit } => format!("more images than the limit of {limit} in one batch"),
            UnsupportedFormat => "unsupported format: send a JPEG, PNG, WEBP or BMP image, or a PDF".into(),
            ContentTypeMismatch { declared, actual } => {
                format!("the file is declared as `{declared}` but its bytes are `{actual}`")
            }
            InvalidImage(why) => format!("the image cannot be decoded: {why}"),
            ImageTooLarge(why) => format!("image too large: {why}"),
            Pdf { message, .. } => message.clone(),
            InvalidParameter(why) => format!("invalid parameter: {why}"),
            UnknownEngine { name, known } => {
                format!("unknown engine `{name}`: this service runs {}", known.join(", "))
            }
            EngineNotReady { name, why } => format!("engine `{name}` cannot serve now: {why}"),
            NotReady => "models are still loading; retry shortly".into(),
            ModelsUnavailable(why) => format!("models failed to load: {why}"),
            Overloaded => "too many requests in flight; retry shortly".into(),
            Unauthorized => "a valid API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`".into(),
            Forbidden => "this client address is not allowed to call the service".into(),
            RateLimited(secs) => format!("rate limit reached for this client; retry in {secs} s"),
            BodyTimeout => "the upload did not arrive in time".into(),
            HeadersTooLarge => "the request headers are too large".into(),
            DeadlineExceeded => "the request took longer than the service's deadline; its work was dropped".into(),
            CapabilityDisabled(what) => format!("{what} is disabled in this deployment"),
            JobNotFound => "no such job for this client; finished jobs are removed after --job-ttl-hours".into(),
            JobNotCancellable(status) => format!("the job is {status}; only a queued job can be cancelled"),
            JobsUnavailable => "the job store is unavailable; retry shortly".into(),
            JobQueueFull(limit) => format!("{limit} jobs are already waiting; retry later"),
            JobStorageFull(mb) => format!("the job store holds its limit of {mb} MB; retry once jobs have expired"),
            IdempotencyMismatch => "this Idempotency-Key was already used for a different submission".into(),
            CallbackRefused(why) => format!("callback refused: {why}"),
            NotFound => "no such endpoint; see /health for the available ones".into(),
            MethodNotAllowed => "method not allowed on this endpoint".into(),
            Internal => "internal error while processing the image".into(),
        }
    }
}

impl From<OcrError> for ApiError {
    fn from(err: OcrError) -> Self {
        match err {
            OcrError::EmptyInput => ApiError::EmptyFile,
            OcrError::UnsupportedFormat => ApiError::UnsupportedFormat,
            OcrError::Decode(why) => ApiError::InvalidImage(why),
            OcrError::TooLarge(why) => ApiError::ImageTooLarge(why),
            OcrError::MissingFile { .. }
            | OcrError::Runtime(_)
            | OcrError::ModelOutput(_)
            | OcrError::ProbeFailed(_) => {
                tracing::error!(error = %err, "inference failed");
                ApiError::Internal
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Ocr(err) => err.into(),
            other => {
                tracing::error!(error = %other, "inference failed");
                ApiError::Internal
            }
        }
    }
}

impl From<hub_jobs::JobError> for ApiError {
    fn from(err: hub_jobs::JobError) -> Self {
        use hub_jobs::JobError;
        match err {
            JobError::QueueFull(limit) => ApiError::JobQueueFull(limit),
            JobError::StorageFull { limit_mb } => ApiError::JobStorageFull(limit_mb),
            JobError::IdempotencyMismatch => ApiError::IdempotencyMismatch,
            JobError::CallbackRefused(why) => ApiError::CallbackRefused(why),
            JobError::Database(_) | JobError::Corrupt(_) | JobError::NewerSchema { .. } => {
                tracing::error!(error = %err, "job store failed");
                ApiError::JobsUnavailable
            }
        }
    }
}

/// The error code of an error answer, kept on the response for the metrics.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// The contract's envelope, `{"error": {"code", "type", "message"}}`, with
/// its status; the one place it is written (the gateway's upstream errors
/// use it too). `type` follows the status: `invalid_request` for 4xx.
pub fn envelope(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "type": kind_of(status), "message": message}}))).into_response()
}

/// The contract's `type`: whose fault the error is.
pub fn kind_of(status: StatusCode) -> &'static str {
    if status.is_client_error() { "invalid_request" } else { "server" }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = envelope(self.status(), self.code(), &self.message());
        response.extensions_mut().insert(ErrorCode(self.code()));
        let headers = response.headers_mut();
        match self {
            ApiError::NotReady | ApiError::Overloaded | ApiError::JobsUnavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}
