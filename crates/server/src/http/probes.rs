//! Liveness, readiness and health: cheap, lock-free, never blocked by models.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::OCR_ROUTES;
use crate::memory::rss_mb;
use crate::state::{EngineSlot, EngineStatus, SharedState};

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

/// The `worker`'s readiness: its default engine loaded, the job store open,
/// not stopping.
pub async fn worker_ready(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    let store = state.jobs.get().is_ok();
    let ready = state.ready() && store;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"ready": ready, "models_loaded": state.models_loaded(), "job_store": store})))
}

#[utoipa::path(get, path = "/health", tag = "probes", responses((status = 200,
    description = "Always 200: `status` (loading, healthy, unhealthy: of the default engine), `models_loaded`, \
                   `available_endpoints`, `memory_mb`, `uptime_seconds`, `version`, `cpu` (model, int8 kernel family), \
                   `profile`, `engines` (each: `name`, `default`, `status`, `version`, `models`, `precision`, \
                   `load_time_ms`, `load_error`, `workers`), and the default engine's `models`, `precision` \
                   (requested, in use, start-up probe CER, why fp32 is served instead of int8), `load_time_ms`, \
                   `load_error` and `workers` at the top level")))]
pub async fn health(State(state): State<SharedState>) -> Json<Value> {
    let mut endpoints = vec!["/live", "/ready", "/health"];
    let engines: Vec<Value> = match &state.lifecycle.engines {
        None => Vec::new(),
        Some(engines) => {
            endpoints.extend(OCR_ROUTES);
            engines.iter().enumerate().map(|(i, slot)| describe(slot, i == 0)).collect()
        }
    };
    let default = engines.first().cloned().unwrap_or_else(|| json!({"status": "healthy"}));
    Json(json!({
        "status": default["status"],
        "models_loaded": state.models_loaded(),
        "available_endpoints": endpoints,
        "memory_mb": rss_mb(),
        "uptime_seconds": state.lifecycle.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
        "models": default.get("models").cloned().unwrap_or_else(|| json!([])),
        "precision": default["precision"],
        "cpu": {"model": state.about.cpu.model, "isa": state.about.cpu.isa.as_str()},
        "profile": state.about.profile,
        "load_time_ms": default["load_time_ms"],
        "load_error": default["load_error"],
        "workers": default["workers"],
        "engines": engines,
    }))
}

/// One engine's state for /health.
fn describe(slot: &EngineSlot, default: bool) -> Value {
    let mut engine = json!({"name": slot.name, "default": default, "status": "loading", "version": null,
        "models": [], "precision": null, "load_time_ms": null, "load_error": null, "workers": null});
    match slot.status() {
        EngineStatus::Loading => {}
        EngineStatus::Failed(why) => {
            engine["status"] = json!("unhealthy");
            engine["load_error"] = json!(why);
        }
        EngineStatus::Ready(loaded) => {
            engine["status"] = json!("healthy");
            engine["version"] = json!(loaded.info.version);
            engine["models"] = json!(loaded.info.models);
            engine["load_time_ms"] = json!(loaded.load_time.as_millis() as u64);
            engine["workers"] = json!(loaded.pool.workers());
            if let Some(report) = &loaded.info.precision {
                engine["precision"] = json!({
                    "requested": report.requested.as_str(),
                    "in_use": report.in_use.as_str(),
                    "probe_cer": report.probe_cer,
                    "fallback_reason": report.fallback_reason,
                });
            }
        }
    }
    engine
}
