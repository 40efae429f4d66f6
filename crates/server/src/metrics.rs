//! Prometheus metrics at `GET /metrics`: HTTP traffic, OCR outcomes and
//! latencies, model and queue state, and the process's memory and CPU.
//!
//! Handlers record through the `metrics` facade (the `hub-ocr` crate records
//! its stage timings the same way); the Prometheus exporter renders them.
//! State that is cheap to read (queue depth, models loaded, RSS) is sampled
//! at scrape time rather than kept up to date on every change.

// Unsafe code here: getrusage (the workspace denies it elsewhere).
#![allow(unsafe_code)]

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hub_ocr::CpuInfo;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::OnceLock;

use crate::state::SharedState;
use crate::wire::metrics::{BUCKETS, CONTENT_TYPE, install_recorder};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder and describes every metric; call once
/// before serving.
pub fn install(profile: &'static str, cpu: &CpuInfo) -> anyhow::Result<()> {
    let others: [(&str, &[f64]); 2] = [
        ("ocr_shadow_agreement", &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0]),
        ("ocr_shadow_lines", &[0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0, 200.0]),
    ];
    let _ = HANDLE.set(install_recorder(&BUCKETS, &others)?);
    describe();
    gauge!("inference_hub_build_info", "version" => env!("CARGO_PKG_VERSION"), "profile" => profile).set(1.0);
    gauge!("inference_hub_cpu_info", "model" => cpu.model.clone(), "isa" => cpu.isa.as_str()).set(1.0);
    Ok(())
}

fn describe() {
    hub_cache::describe_metrics();
    crate::jobs::describe_metrics();
    crate::merchants::describe_metrics();
    describe_counter!("ocr_requests_total", "OCR requests answered, by outcome (success or error) and engine");
    describe_histogram!(
        "ocr_processing_seconds",
        Unit::Seconds,
        "Decode and OCR time of one image on a worker, without queueing, by engine"
    );
    describe_histogram!(
        "request_predict_seconds",
        Unit::Seconds,
        "Time to answer an OCR request: upload, queue and inference, by engine"
    );
    describe_histogram!(
        "ocr_inference_stage_seconds",
        Unit::Seconds,
        "Time of one pipeline stage for one image (decode, detect, recognize)"
    );
    describe_gauge!("ocr_models_loaded", "1 when the engine is loaded and serving, else 0");
    describe_gauge!("ocr_engine_info", "Always 1 for a loaded engine; the labels give its version");
    describe_gauge!("ocr_model_load_seconds", "Time the engine took to load");
    describe_gauge!("ocr_queue_depth", "Images waiting for one of the engine's workers");
    describe_gauge!("ocr_queue_capacity", "Images that may wait for the engine's workers before requests get 429");
    describe_gauge!("ocr_workers", "The engine's worker threads");
    describe_counter!(
        "ocr_pdf_pages_total",
        "PDF pages read, by path: `text` (the page's text layer) or `ocr` (drawn at 200 DPI and read by the engine)"
    );
    describe_counter!("ocr_ab_fallback_total", "A/B picks of an engine not loaded yet, served by the default instead");
    describe_counter!(
        "ocr_shadow_total",
        "Shadow samples by shadow engine and outcome: compared, dropped_busy, not_loaded, failed"
    );
    describe_histogram!(
        "ocr_shadow_agreement",
        "Character-level agreement (1 - edit distance / length) of the shadow engine with the default engine"
    );
    describe_histogram!(
        "ocr_shadow_seconds",
        Unit::Seconds,
        "Worker time of each engine on the images sampled for shadow comparison"
    );
    describe_histogram!("ocr_shadow_lines", "Lines each engine read on the images sampled for shadow comparison");
    describe_gauge!("inference_hub_build_info", "Always 1; the labels say which build and profile runs");
    describe_gauge!("inference_hub_cpu_info", "Always 1; the labels name the CPU and its int8 kernel family");
    describe_gauge!(
        "ocr_model_precision",
        "1 for the precision PP-OCR's models run in (label `precision`), with the one configured (`requested`)"
    );
    describe_gauge!(
        "ocr_precision_fallback",
        "1 when the int8 models misread the start-up probe on this CPU and fp32 is served instead"
    );
}

/// The metrics of this process, for Prometheus.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200,
    description = "Prometheus text format 0.0.4; open unless `--protect-metrics`", content_type = "text/plain")))]
pub async fn render(State(state): State<SharedState>) -> Response {
    sample(&state);
    if let Some(cache) = &state.cache {
        cache.sample().await;
    }
    let mut text = HANDLE.get().map(PrometheusHandle::render).unwrap_or_default();
    text.push_str(&process_metrics());
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], text).into_response()
}

/// Reads the gauges that are cheaper to sample than to track, per engine.
fn sample(state: &SharedState) {
    for slot in state.lifecycle.engines.iter().flat_map(|e| e.iter()) {
        let engine = slot.name;
        let loaded = slot.ready();
        gauge!("ocr_models_loaded", "engine" => engine).set(if loaded.is_some() { 1.0 } else { 0.0 });
        let Some(loaded) = loaded else { continue };
        gauge!("ocr_engine_info", "engine" => engine, "version" => loaded.info.version.clone()).set(1.0);
        gauge!("ocr_model_load_seconds", "engine" => engine).set(loaded.load_time.as_secs_f64());
        gauge!("ocr_queue_depth", "engine" => engine).set(loaded.pool.queued() as f64);
        gauge!("ocr_queue_capacity", "engine" => engine).set(loaded.pool.capacity() as f64);
        gauge!("ocr_workers", "engine" => engine).set(loaded.pool.workers() as f64);
        if let Some(report) = &loaded.info.precision {
            let (precision, requested) = (report.in_use.as_str(), report.requested.as_str());
            gauge!("ocr_model_precision", "engine" => engine, "precision" => precision, "requested" => requested)
                .set(1.0);
            let fallback = if report.fallback_reason.is_some() { 1.0 } else { 0.0 };
            gauge!("ocr_precision_fallback", "engine" => engine).set(fallback);
        }
    }
}

/// The standard `process_*` metrics. CPU time is a float counter, which the
/// `metrics` facade cannot express, so these are written here directly.
fn process_metrics() -> String {
    let rss_bytes = crate::memory::rss_mb() * 1024.0 * 1024.0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; on failure it stays zeroed.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    format!(
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
         # TYPE process_cpu_seconds_total counter\n\
         process_cpu_seconds_total {cpu}\n\n\
         # HELP process_resident_memory_bytes Resident memory size in bytes.\n\
         # TYPE process_resident_memory_bytes gauge\n\
         process_resident_memory_bytes {rss_bytes}\n"
    )
}
