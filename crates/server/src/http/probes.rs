//! Liveness, readiness and health: cheap, lock-free, never blocked by models.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::OCR_ROUTES;
use crate::memory::rss_mb;
use crate::state::{OcrStatus, SharedState};

#[utoipa::path(get, path = "/live", tag = "probes",
    responses((status = 200, description = "The process is up: always `{\"status\":\"alive\"}`")))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

#[utoipa::path(get, path = "/ready", tag = "probes", responses(
    (status = 200, description = "Models loaded: `{\"ready\":true,\"models_loaded\":true}`"),
    (status = 503, description = "Loading, failed to load, or draining after SIGTERM: `ready` is false"),
))]
pub async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    let (ready, loaded) = (state.ready(), state.models_loaded());
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"ready": ready, "models_loaded": loaded})))
}

#[utoipa::path(get, path = "/health", tag = "probes", responses((status = 200,
    description = "Always 200: `status` (loading, healthy, unhealthy), `models_loaded`, `available_endpoints`, \
                   `memory_mb`, `uptime_seconds`, `version`, `models`, `precision` (requested, in use, start-up probe CER, \
                   why fp32 is served instead of int8), `cpu` (model, int8 kernel family), `profile`, \
                   `load_time_ms`, `load_error`, `workers`")))]
pub async fn health(State(state): State<SharedState>) -> Json<Value> {
    let mut endpoints = vec!["/live", "/ready", "/health"];
    let (mut status, mut load_error, mut load_time_ms, mut workers) = ("healthy", None, None, None);
    let (mut models, mut precision) = (json!(state.about.model_names), Value::Null);
    if let Some(ocr) = &state.lifecycle.ocr {
        endpoints.extend(OCR_ROUTES);
        match ocr.status() {
            OcrStatus::Loading => status = "loading",
            OcrStatus::Failed(why) => (status, load_error) = ("unhealthy", Some(why.to_owned())),
            OcrStatus::Ready(loaded) => {
                load_time_ms = Some(loaded.load_time.as_millis() as u64);
                workers = Some(loaded.pool.workers());
                models = json!(loaded.models);
                let report = &loaded.precision;
                precision = json!({
                    "requested": report.requested.as_str(),
                    "in_use": report.in_use.as_str(),
                    "probe_cer": report.probe_cer,
                    "fallback_reason": report.fallback_reason,
                });
            }
        }
    }
    Json(json!({
        "status": status,
        "models_loaded": state.models_loaded(),
        "available_endpoints": endpoints,
        "memory_mb": rss_mb(),
        "uptime_seconds": state.lifecycle.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "models": models,
        "precision": precision,
        "cpu": {"model": state.about.cpu.model, "isa": state.about.cpu.isa.as_str()},
        "profile": state.about.profile,
        "load_time_ms": load_time_ms,
        "load_error": load_error,
        "workers": workers,
    }))
}
