//! `inference-hub gateway`: takes uploads in the service's own API
//! (`POST /gateway/ocr` and the `/v1/ocr/receipt` family, multipart), checks
//! them, and forwards each image base64-encoded to a model server speaking
//! KServe V1 or V2 (`inference-hub serve` under KServe). It loads no models
//! and no ONNX Runtime. `/live`, `/ready` (the model server's readiness) and
//! `/metrics` (Prometheus) stay open, as the service's probes do.

mod error;
mod metrics;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tower_http::trace::TraceLayer;

use self::error::GatewayError;
use self::upstream::Upstream;
use crate::access::AccessPolicy;
use crate::cli::GatewayArgs;
use crate::error::ApiError;
use crate::http::{OCR_ROUTES, limit_headers, ocr::read_image};
use crate::response::OcrResponse;

/// The gateway's own upload route, next to the service's [`OCR_ROUTES`].
const GATEWAY_ROUTE: &str = "/gateway/ocr";

struct Gateway {
    upstream: Upstream,
    metrics: PrometheusHandle,
    access: AccessPolicy,
    max_upload_bytes: usize,
    body_timeout: Duration,
    shutting_down: AtomicBool,
}

type Shared = Arc<Gateway>;

pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let access = AccessPolicy::from_args(&args.access)?;
    tracing::info!("{}", access.describe());
    let upstream = Upstream::new(&args)?;
    tracing::info!("gateway to {}", upstream.describe());
    let gateway = Arc::new(Gateway {
        upstream,
        metrics: metrics::install()?,
        access,
        max_upload_bytes: args.max_upload_mb * 1024 * 1024,
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        shutting_down: AtomicBool::new(false),
    });
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    tracing::info!("listening on {}", listener.local_addr()?);
    let app = router(gateway.clone());
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    crate::serve::serve_until_signal(listener, app, grace, move || {
        gateway.shutting_down.store(true, Ordering::Relaxed);
    })
    .await
}

fn router(gateway: Shared) -> Router {
    // Multipart framing adds a little to the file itself.
    let body_limit = gateway.max_upload_bytes + 64 * 1024;
    let mut forward = Router::new().route(GATEWAY_ROUTE, post(recognize));
    for path in OCR_ROUTES {
        forward = forward.route(path, post(recognize));
    }
    let forward = forward.route_layer(middleware::from_fn_with_state(gateway.clone(), guard));
    Router::new()
        .route("/live", get(|| async { Json(json!({"status": "alive"})) }))
        .route("/ready", get(ready))
        .route("/metrics", get(|State(gateway): State<Shared>| async move { metrics::render(&gateway.metrics) }))
        .merge(forward)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(limit_headers))
        .layer(TraceLayer::new_for_http().on_failure(()))
        .with_state(gateway)
}

/// Ready when the model server says its model is, and not shutting down.
async fn ready(State(gateway): State<Shared>) -> (StatusCode, Json<Value>) {
    let upstream = if gateway.shutting_down.load(Ordering::Relaxed) {
        Err("shutting down".to_owned())
    } else {
        gateway.upstream.ready().await
    };
    match upstream {
        Ok(()) => (StatusCode::OK, Json(json!({"ready": true}))),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false, "reason": why}))),
    }
}

/// The access policy of the all-in-one service, on the upload routes.
async fn guard(
    State(gateway): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    gateway.access.admit(peer, request, next).await
}

async fn recognize(State(gateway): State<Shared>, form: Result<Multipart, MultipartRejection>) -> Response {
    let response = forward(&gateway, form).await.into_response();
    ::metrics::counter!("gateway_requests_total", "status" => response.status().as_u16().to_string()).increment(1);
    response
}

async fn forward(
    gateway: &Gateway,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<OcrResponse>, GatewayError> {
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    // The size and type checks of the all-in-one service, before anything is encoded.
    let image = timeout(gateway.body_timeout, read_image(form, gateway.max_upload_bytes))
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    let started = Instant::now();
    let result = gateway.upstream.recognize(&image).await;
    ::metrics::histogram!("gateway_upstream_seconds").record(started.elapsed().as_secs_f64());
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    // Sizes and timings only: neither image bytes nor text reach the log.
    tracing::info!(bytes = image.len(), ok = result.is_ok(), "model server round trip: {millis:.1} ms");
    Ok(Json(result?))
}
