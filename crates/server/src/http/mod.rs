//! The HTTP surface: routes (the service's own, KServe V1 and Open Inference
//! Protocol V2), and the JSON answers for unknown routes.

mod binary_tensor;
mod kserve_v1;
pub mod model;
mod observe;
pub mod ocr;
pub mod oip_v2;
mod openapi;
mod probes;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::SharedState;

/// Header bytes a request may carry (431 above): no client of this API needs
/// more, and hyper's own limit is far larger.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// OCR endpoints: the receipt route and its aliases.
pub const OCR_ROUTES: [&str; 3] = ["/v1/ocr/receipt", "/v1/ocr", "/v1/parse"];

pub fn router(state: SharedState) -> Router {
    // Multipart framing adds a little to the file itself.
    let body_limit = state.max_upload_bytes + 64 * 1024;
    let mut inference = Router::new();
    for path in OCR_ROUTES {
        inference = inference.route(path, post(ocr::recognize));
    }
    // Access control guards inference only: probes must stay reachable for
    // the orchestrator whatever the policy.
    let inference = inference.route_layer(middleware::from_fn_with_state(state.clone(), crate::access::guard));
    let mut metrics = Router::new().route("/metrics", get(crate::metrics::render));
    if state.access.protect_metrics {
        metrics = metrics.route_layer(middleware::from_fn_with_state(state.clone(), crate::access::guard));
    }
    Router::new()
        .route("/live", get(probes::live))
        .route("/ready", get(probes::ready))
        .route("/health", get(probes::health))
        .merge(inference)
        .merge(kserve_v1::routes(&state))
        .merge(oip_v2::routes(&state))
        .merge(metrics)
        .merge(openapi::routes())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(observe::track))
        .layer(middleware::from_fn(limit_headers))
        // 503s while loading are expected and 5xx from inference are logged
        // where they happen, so the trace layer reports no "failures" itself.
        .layer(TraceLayer::new_for_http().on_failure(()))
        // Outermost: every answer, even a refused one, carries its id.
        .layer(middleware::from_fn(observe::request_id))
        .with_state(state)
}

pub async fn limit_headers(request: Request, next: Next) -> Response {
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge.into_response();
    }
    next.run(request).await
}
