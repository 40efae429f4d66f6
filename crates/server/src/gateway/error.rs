//! The gateway's errors, in the service's contract
//! (`{"error": {"code", "type", "message"}}`, docs/errors.md): the same
//! answers as the all-in-one service for bad uploads and model-server
//! refusals, plus four codes for a model server that cannot answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::wire::error::{ApiError, envelope};

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

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, code, message, retry_after) = match self {
            GatewayError::Local(err) => return err.into_response(),
            GatewayError::Refused { status, code, message, retry_after } => (status, code, message, retry_after),
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
        };
        let mut response = envelope(status, &code, &message);
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
