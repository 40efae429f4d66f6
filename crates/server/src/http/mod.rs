//! The HTTP surface: routes, and the JSON answers for unknown routes.

mod ocr;
mod probes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::SharedState;

/// OCR endpoints: the receipt route and its aliases.
pub const OCR_ROUTES: [&str; 3] = ["/v1/ocr/receipt", "/v1/ocr", "/v1/parse"];

pub fn router(state: SharedState) -> Router {
    // Multipart framing adds a little to the file itself.
    let body_limit = state.max_upload_bytes + 64 * 1024;
    let mut app = Router::new()
        .route("/live", get(probes::live))
        .route("/ready", get(probes::ready))
        .route("/health", get(probes::health));
    for path in OCR_ROUTES {
        app = app.route(path, post(ocr::recognize));
    }
    app.fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        // 503s while loading are expected and 5xx from inference are logged
        // where they happen, so the trace layer reports no "failures" itself.
        .layer(TraceLayer::new_for_http().on_failure(()))
        .with_state(state)
}
