//! The service's HTTP surface: its own routes, KServe V1 and Open Inference
//! Protocol V2, and the try-it page at `/`, over the wire contract every
//! surface shares (`crate::wire`).
//! Only [`router`] leaves this module.

mod batch;
mod jobs;
mod kserve;
mod kserve_v1;
mod ocr;
mod oip_v2;
mod openapi;
mod page;
mod probes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::wire::JOBS_ROUTE;

use crate::state::SharedState;
use crate::wire::access::guard;
use crate::wire::error::ApiError;
use crate::wire::{BATCH_ROUTE, OCR_ROUTES};

/// The `worker`'s routes: probes and metrics, open (it takes no uploads).
pub fn worker_router(state: SharedState) -> Router {
    let routes = Router::new()
        .route("/live", get(probes::live))
        .route("/ready", get(probes::worker_ready))
        .route("/metrics", get(crate::metrics::render))
        .with_state(state);
    crate::wire::observe::layers(routes)
}

pub fn router(state: SharedState) -> Router {
    // Multipart framing adds a little to the file itself.
    let body_limit = state.limits.max_upload_bytes + 64 * 1024;
    let mut inference = Router::new();
    for path in OCR_ROUTES {
        inference = inference.route(path, post(ocr::recognize));
    }
    let batch_limit = state.limits.max_batch_bytes;
    inference = inference.route(BATCH_ROUTE, post(batch::recognize_batch).layer(DefaultBodyLimit::max(batch_limit)));
    // Jobs take the batch route's form and limits.
    inference = inference
        .route(JOBS_ROUTE, post(jobs::submit).layer(DefaultBodyLimit::max(batch_limit)).get(jobs::list))
        .route(&format!("{JOBS_ROUTE}/{{id}}"), get(jobs::get).delete(jobs::cancel));
    // Access control guards inference only: probes must stay reachable for
    // the orchestrator whatever the policy.
    let inference = inference.route_layer(middleware::from_fn_with_state(state.access.clone(), guard::<ApiError>));
    let mut metrics = Router::new().route("/metrics", get(crate::metrics::render));
    if state.access.protect_metrics {
        metrics = metrics.route_layer(middleware::from_fn_with_state(state.access.clone(), guard::<ApiError>));
    }
    let routes = Router::new()
        .route("/live", get(probes::live))
        .route("/ready", get(probes::ready))
        .route("/health", get(probes::health))
        .merge(inference)
        .merge(kserve_v1::routes(&state))
        .merge(oip_v2::routes(&state))
        .merge(metrics)
        .merge(openapi::routes())
        .merge(page::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    crate::wire::observe::layers(routes)
}
