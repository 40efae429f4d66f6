//! `inference-hub gateway`: takes uploads in the service's own API
//! (`POST /gateway/ocr` and the `/v1/ocr/receipt` family, multipart), checks
//! them, and forwards each image to a model server speaking KServe V1
//! (base64 JSON) or V2 (binary tensor data), with the request's id and
//! options (`inference-hub serve` under KServe: `engine=` names the model,
//! `fields` and `pdf_text` become request parameters). It loads no models
//! and no ONNX Runtime. `/live`, `/ready` (the model server's readiness) and
//! `/metrics` (Prometheus) stay open, as the service's probes do.
//! `/v1/ocr/batch` sends each image of the upload as its own request, a few
//! at a time, and answers as the service's batch route does.

mod error;
mod metrics;
mod upstream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use futures_util::stream;
use futures_util::{StreamExt, TryStreamExt};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{Value, json};
use tokio::time::timeout;

use self::error::GatewayError;
use self::upstream::Upstream;
use crate::config::GatewayArgs;
use crate::wire::access::{AccessPolicy, guard};
use crate::wire::error::ApiError;
use crate::wire::observe::REQUEST_ID;
use crate::wire::options::{OcrQuery, Requested};
use crate::wire::response::{BatchItem, BatchResponse, OcrResponse};
use crate::wire::serve::serve_until_signal;
use crate::wire::upload::{read_batch, read_upload};
use crate::wire::{BATCH_ROUTE, ENGINE_HEADER, OCR_ROUTES};

/// The gateway's own upload route, next to the service's [`OCR_ROUTES`].
const GATEWAY_ROUTE: &str = "/gateway/ocr";

/// A batch's images in flight to the model server at once; it admits or
/// refuses each (429 for one image), as its own queue allows. The whole
/// batch has `--upstream-timeout-secs`.
const BATCH_IN_FLIGHT: usize = 4;

struct Gateway {
    upstream: Upstream,
    metrics: PrometheusHandle,
    access: Arc<AccessPolicy>,
    max_upload_bytes: usize,
    max_batch: usize,
    max_batch_bytes: usize,
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
        access: Arc::new(access),
        max_upload_bytes: args.listen.max_upload_bytes(),
        max_batch: args.max_batch,
        max_batch_bytes: args.max_batch_mb * 1024 * 1024,
        body_timeout: args.listen.body_timeout(),
        shutting_down: AtomicBool::new(false),
    });
    let listener = args.listen.bind(args.port).await?;
    let app = router(gateway.clone());
    serve_until_signal(listener, app, args.listen.shutdown_grace(), move || {
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
    let batch_limit = gateway.max_batch_bytes;
    forward = forward.route(BATCH_ROUTE, post(recognize_batch).layer(DefaultBodyLimit::max(batch_limit)));
    let forward = forward.route_layer(middleware::from_fn_with_state(gateway.access.clone(), guard::<ApiError>));
    let routes = Router::new()
        .route("/live", get(|| async { Json(json!({"status": "alive"})) }))
        .route("/ready", get(ready))
        .route("/metrics", get(|State(gateway): State<Shared>| async move { metrics::render(&gateway.metrics) }))
        .merge(forward)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(gateway);
    crate::wire::observe::layers(routes)
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

async fn recognize(
    State(gateway): State<Shared>,
    query: Result<Query<OcrQuery>, QueryRejection>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    // The request's id (set by `wire::observe`) goes upstream, so both
    // sides' logs of one upload carry the same id.
    let request_id = headers.get(REQUEST_ID).cloned();
    let response = match forward(&gateway, request_id, query, form).await {
        Ok(answer) => {
            let engine = answer.engine.clone();
            with_engine(Some(&engine), Json(answer))
        }
        Err(err) => err.into_response(),
    };
    counted(response)
}

/// An answer naming the engine that read it in `X-OCR-Engine`, as the service's do.
fn with_engine(engine: Option<&str>, answer: impl IntoResponse) -> Response {
    let engine = engine.and_then(|e| HeaderValue::from_str(e).ok());
    let mut response = answer.into_response();
    if let Some(engine) = engine {
        response.headers_mut().insert(ENGINE_HEADER, engine);
    }
    response
}

/// The answer, counted by status.
fn counted(response: Response) -> Response {
    ::metrics::counter!("gateway_requests_total", "status" => response.status().as_u16().to_string()).increment(1);
    response
}

/// One image to the model server, its round trip timed.
async fn send(
    gateway: &Gateway,
    image: &[u8],
    options: &Requested,
    request_id: Option<HeaderValue>,
) -> Result<OcrResponse, GatewayError> {
    let started = Instant::now();
    let result = gateway.upstream.recognize(image, options, request_id).await;
    ::metrics::histogram!("gateway_upstream_seconds").record(started.elapsed().as_secs_f64());
    result
}

async fn forward(
    gateway: &Gateway,
    request_id: Option<HeaderValue>,
    query: Result<Query<OcrQuery>, QueryRejection>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<OcrResponse, GatewayError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    // The size and type checks of the all-in-one service, before anything is encoded.
    let upload = timeout(gateway.body_timeout, read_upload(form, gateway.max_upload_bytes))
        .await
        .map_err(|_| ApiError::BodyTimeout)??;
    // Values are the model server's to judge (it knows its engines and
    // defaults); only their form is checked here.
    let options = Requested::merge(query, upload.options)?;
    let image = upload.image;
    let started = Instant::now();
    let result = send(gateway, &image, &options, request_id).await;
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    // Sizes and timings only: neither image bytes nor text reach the log.
    tracing::info!(bytes = image.len(), ok = result.is_ok(), "model server round trip: {millis:.1} ms");
    result
}

async fn recognize_batch(
    State(gateway): State<Shared>,
    query: Result<Query<OcrQuery>, QueryRejection>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let request_id = headers.get(REQUEST_ID).cloned();
    let response = match forward_batch(&gateway, request_id, query, form).await {
        Ok(answer) => {
            let engine = answer.results.iter().find_map(BatchItem::engine).map(str::to_owned);
            with_engine(engine.as_deref(), Json(answer))
        }
        Err(err) => err.into_response(),
    };
    counted(response)
}

async fn forward_batch(
    gateway: &Gateway,
    request_id: Option<HeaderValue>,
    query: Result<Query<OcrQuery>, QueryRejection>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<BatchResponse, GatewayError> {
    let Query(query) = query.map_err(|e| ApiError::InvalidParameter(e.body_text()))?;
    let form = form.map_err(|e| ApiError::BadMultipart(e.body_text()))?;
    let read = read_batch(form, gateway.max_upload_bytes, gateway.max_batch, gateway.max_batch_bytes);
    let upload = timeout(gateway.body_timeout, read).await.map_err(|_| ApiError::BodyTimeout)??;
    let options = Requested::merge(query, upload.options)?;
    let started = Instant::now();
    let (options, request_id) = (&options, &request_id);
    let reads = upload.parts.into_iter().map(|part| async move {
        let outcome = match part.image {
            Ok(image) => send(gateway, &image, options, request_id.clone()).await,
            Err(err) => Err(GatewayError::Local(err)),
        };
        match outcome {
            Ok(response) => Ok(BatchItem::Read { filename: part.filename, response }),
            Err(err) if err.fails_batch() => Err(err),
            Err(err) => Ok(BatchItem::Failed { filename: part.filename, error: (&err).into() }),
        }
    });
    // In the upload's order; an error that fails the batch drops the
    // requests still in flight, and so does the batch's deadline.
    let deadline = gateway.upstream.timeout();
    let results: Vec<BatchItem> = timeout(deadline, stream::iter(reads).buffered(BATCH_IN_FLIGHT).try_collect())
        .await
        .map_err(|_| GatewayError::Timeout(deadline.as_secs()))??;
    // The model server turned every image away: the batch's answer is its 429.
    let overloaded = |r: &BatchItem| matches!(r, BatchItem::Failed { error, .. } if error.code == "overloaded");
    if !results.is_empty() && results.iter().all(overloaded) {
        return Err(GatewayError::Refused {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "overloaded".into(),
            message: "the model server is busy with other images; retry the batch shortly".into(),
            retry_after: Some(HeaderValue::from_static("1")),
        });
    }
    let response = BatchResponse::new(results, started.elapsed());
    // Counts and timings only: neither image bytes nor text reach the log.
    tracing::info!(
        images = response.count,
        failed = response.failed,
        "model server round trips of a batch: {:.1} ms",
        response.processing_time_ms
    );
    Ok(response)
}
