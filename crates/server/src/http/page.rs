//! `GET /`: the try-it page. A single page that reads a receipt through the
//! public API only (`/health`, `/v1/ocr/receipt`), its assets compiled into
//! the binary so it works offline. It is public, like the probes: the API
//! calls it makes carry the key the user types, and the guard judges those.

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::SharedState;

const INDEX: &str = include_str!("../../assets/page/index.html");
const SCRIPT: &str = include_str!("../../assets/page/app.js");
const STYLE: &str = include_str!("../../assets/page/style.css");

/// The page's own files and this origin's API only; images are the user's
/// own file (`blob:`). No inline script or style, no framing.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// `/` and the page's script and style sheet.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route("/page/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/page/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers = [
        (CONTENT_TYPE, content_type),
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        // Fixed paths: revalidate, so an upgraded binary's page is never mixed with old assets.
        (CACHE_CONTROL, "no-cache"),
    ];
    (headers, body)
}
