//! Middleware that every request of every surface passes through: a
//! request id on its log lines and its answer, the HTTP metrics, a header
//! size limit, and the JSON answers for unknown routes.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge, histogram};
use tracing::Instrument;

use super::error::{ApiError, ErrorCode};
use tower_http::trace::TraceLayer;

/// Header bytes a request may carry (431 above): no client of this API needs
/// more, and hyper's own limit is far larger.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Wraps a surface's routes (their state already given) in what every
/// request passes: 404/405 in the error contract, the HTTP metrics, the
/// header limit, tracing, and (outermost) the request id, so every answer,
/// even a refused one, carries it.
pub fn layers(routes: Router) -> Router {
    routes
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(track))
        .layer(middleware::from_fn(limit_headers))
        // 503s while loading are expected and 5xx are logged where they
        // happen, so the trace layer reports no "failures" itself.
        .layer(TraceLayer::new_for_http().on_failure(()))
        .layer(middleware::from_fn(request_id))
}

async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge.into_response();
    }
    next.run(request).await
}

pub const REQUEST_ID: &str = "x-request-id";

/// Longest client-sent request id kept; longer or odd ones are replaced.
const MAX_ID_LEN: usize = 128;

/// Gives the request an id (the client's `x-request-id` when it is sane,
/// else a new UUID), runs it inside a span that carries the id, so every log
/// line of the request shows it, and echoes the id in the answer.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let value = HeaderValue::from_str(&id).expect("ids are checked or generated as ASCII");
    request.headers_mut().insert(REQUEST_ID, value.clone());
    // The path is logged without its query string, which may carry anything.
    let span = tracing::info_span!("request", id = %id, method = %request.method(), path = request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID, value);
    response
}

/// Printable, no spaces or quotes: safe in logs and headers, and what
/// proxies and tracing systems send (UUIDs, hex trace ids).
fn is_sane(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Counts and times every request by route template (not the raw path, so
/// unknown paths cannot blow up the series count), method and status.
async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let in_flight = InFlight::enter();
    let response = next.run(request).await;
    drop(in_flight);
    let status = response.status().as_u16().to_string();
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        counter!("request_errors_total", "route" => route.clone(), "code" => *code).increment(1);
    }
    let labels = [("route", route), ("method", method), ("status", status)];
    counter!("http_requests_total", &labels).increment(1);
    histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Holds one unit of `http_requests_in_flight`, given back even when the
/// client disconnects and the request future is dropped.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        gauge!("http_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!("http_requests_in_flight").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        assert!(is_sane("3f2a9c1e-7b4d-4e8a-9c1f-2b3d4e5f6a7b"));
        assert!(is_sane("odoo:42.retry_1"));
        assert!(!is_sane(""));
        assert!(!is_sane("has space"));
        assert!(!is_sane("quote\"d"));
        assert!(!is_sane("line\nbreak"));
        assert!(!is_sane(&"a".repeat(129)));
    }
}
