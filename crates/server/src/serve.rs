//! `inference-hub serve`: bind first, answer probes at once, load models on
//! a background thread, shut down gracefully on SIGTERM/SIGINT.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use hub_ocr::CpuInfo;

use crate::config::{EngineArgs, ServeArgs};
use crate::memory::rss_mb;
use crate::notify;
use crate::state::{AppState, Loaded};
use crate::wire::access::AccessPolicy;
use crate::wire::serve::serve_until_signal;
use crate::workers::Workers;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.enable_stt || args.enable_tts {
        tracing::warn!("AI_ENABLE_STT/AI_ENABLE_TTS are set, but this build serves OCR only; ignoring them");
    }
    // Logged with the precision once the models load (`EngineArgs::load_engine`).
    let cpu = CpuInfo::detect();
    crate::metrics::install(args.engine.profile.name(), &cpu)?;
    let access = AccessPolicy::from_args(&args.access)?;
    tracing::info!("{}", access.describe());
    let state = AppState::new(&args, access, cpu);

    let listener = args.listen.bind(args.port).await?;
    notify::start_watchdog();

    if state.lifecycle.ocr.is_some() {
        notify::status("loading models");
        let state = state.clone();
        let (engine, queue) = (args.engine.clone(), args.queue_size);
        thread::Builder::new().name("model-loader".into()).spawn(move || load_models(&state, &engine, queue))?;
    } else {
        tracing::info!("OCR disabled (AI_ENABLE_OCR=0): no models loaded");
        notify::ready();
    }
    if args.memory_log_secs > 0 {
        tokio::spawn(log_memory(Duration::from_secs(args.memory_log_secs)));
    }

    let app = crate::http::router(state.clone());
    serve_until_signal(listener, app, args.listen.shutdown_grace(), move || {
        notify::stopping();
        state.lifecycle.shutting_down.store(true, Ordering::Relaxed);
    })
    .await
}

/// Loads the engine and publishes the worker pool.
fn load_models(state: &AppState, engine: &EngineArgs, queue: usize) {
    let Some(ocr) = &state.lifecycle.ocr else { return };
    let runtime = engine.runtime();
    tracing::info!(
        workers = engine.worker_count(),
        detector_sessions = runtime.detectors,
        detector_threads = runtime.detector_session.threads,
        recognizer_sessions = runtime.recognizers,
        "Loading PaddleOCR models..."
    );
    let started = Instant::now();
    let outcome = engine.load_engine().map_err(|e| e.to_string()).and_then(|(loaded, precision)| {
        let pool = Workers::start(Arc::new(loaded), engine.worker_count(), queue)
            .map_err(|e| format!("cannot start workers: {e}"))?;
        let models = engine.model_names(precision.in_use);
        Ok(Loaded { pool, load_time: started.elapsed(), precision, models })
    });
    match &outcome {
        Ok(loaded) => tracing::info!(
            memory_mb = rss_mb(),
            precision = %loaded.precision,
            "Models loaded successfully in {} ms",
            loaded.load_time.as_millis()
        ),
        Err(why) => tracing::error!(
            "Model loading failed: {why}. Models come from --model-dir/HUB_MODEL_DIR, ONNX Runtime from \
             --ort-lib/ORT_DYLIB_PATH; /ready stays 503 until the service is restarted with working files."
        ),
    }
    let loaded = outcome.is_ok();
    ocr.finish(outcome);
    if loaded {
        notify::ready();
    } else if notify::supervised() {
        // systemd has no /health to read: fail the start job now (with the
        // reason in `systemctl status`) rather than at TimeoutStartSec, and
        // let Restart=on-failure try again.
        notify::status("model loading failed; see the journal");
        std::process::exit(1);
    }
}

async fn log_memory(every: Duration) {
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        tracing::info!("Memory usage: {:.1} MB", rss_mb());
    }
}
