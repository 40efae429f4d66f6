//! The gateway's errors, in the service's contract
//! (`{"error": {"code", "type", "message"}}`, docs/errors.md): the same
//! answers as the all-in-one service for bad uploads and model-server
//! refusals, plus four codes for a model server that cannot answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::wire::error::{ApiError, envelope, kind_of};
use crate::wire::response::ErrorBody;

#[derive(Debug)]
pub enum GatewayError {
    /// The upload itself was refused, before anything was forwarded.
    Local(ApiError),
    /// The model server refused the image with one of the service's codes
    /// (invalid image, overloaded, loading, ...): passed on as it came.
    Refused { status: StatusCode, code: String, message: String, retry_after: Option<HeaderValue> },
    /// No connection to the model server, after the retries.
    Unavailable(String),
    /// The model server says it is not ready, without a code of ours.
    NotReady(String),
    /// No answer within `--upstream-timeout-secs`.
    Timeout(u64),
    /// An answer the protocol does not allow, or an error that is the
    /// gateway's configuration's fault (unknown model, refused key).
    BadAnswer(String),
}

impl From<ApiError> for GatewayError {
    fn from(err: ApiError) -> Self {
        GatewayError::Local(err)
    }
}

impl GatewayError {
    /// The contract's status, code and message, and `Retry-After` where one applies.
    fn describe(&self) -> (StatusCode, String, String, Option<HeaderValue>) {
        match self {
            GatewayError::Local(err) => (err.status(), err.code().to_owned(), err.message(), None),
            GatewayError::Refused { status, code, message, retry_after } => {
                (*status, code.clone(), message.clone(), retry_after.clone())
            }
            GatewayError::Unavailable(why) => (
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable".into(),
                format!("the model server cannot be reached: {why}"),
                None,
            ),
            GatewayError::NotReady(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_not_ready".into(),
                format!("the model server is not ready: {why}"),
                Some(HeaderValue::from_static("1")),
            ),
            GatewayError::Timeout(secs) => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout".into(),
                format!("the model server did not answer within {secs} s"),
                None,
            ),
            GatewayError::BadAnswer(why) => (
                StatusCode::BAD_GATEWAY,
                "upstream_error".into(),
                format!("the model server's answer is unusable: {why}"),
                None,
            ),
        }
    }

    /// Whether the error is the whole batch's rather than one image's, as
    /// the service's own batch route has it: the model server cannot be
    /// reached, answers too late or what the protocol does not allow, is
    /// not ready, or has no such engine. An image's own failure (bad bytes,
    /// 429, an error reading it) stays in its place.
    pub fn fails_batch(&self) -> bool {
        const WHOLE: [&str; 4] = ["unknown_engine", "models_loading", "engine_not_ready", "models_unavailable"];
        match self {
            GatewayError::Local(_) => false,
            GatewayError::Refused { code, .. } => WHOLE.contains(&code.as_str()),
            GatewayError::Unavailable(_)
            | GatewayError::NotReady(_)
            | GatewayError::Timeout(_)
            | GatewayError::BadAnswer(_) => true,
        }
    }
}

/// One image's error in a batch answer.
impl From<&GatewayError> for ErrorBody {
    fn from(err: &GatewayError) -> Self {
        let (status, code, message, _) = err.describe();
        ErrorBody { code, kind: kind_of(status).to_owned(), message }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if let GatewayError::Local(err) = self {
            return err.into_response();
        }
        let (status, code, message, retry_after) = self.describe();
        let mut response = envelope(status, &code, &message);
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
