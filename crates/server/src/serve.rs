//! `inference-hub serve`: bind first, answer probes at once, load models on
//! a background thread, shut down gracefully on SIGTERM/SIGINT.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use hub_ocr::CpuInfo;

use crate::config::{EngineArgs, ServeArgs};
use crate::memory::rss_mb;
use crate::notify;
use crate::state::{AppState, Loaded};
use crate::wire::access::AccessPolicy;
use crate::wire::serve::serve_until_signal;
use crate::workers::{Priority, Workers};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.enable_stt || args.enable_tts {
        tracing::warn!("AI_ENABLE_STT/AI_ENABLE_TTS are set, but this build serves OCR only; ignoring them");
    }
    let routing = args.routing()?;
    // Logged with the precision once the models load (`EngineArgs::load`).
    let cpu = CpuInfo::detect();
    crate::metrics::install(args.engine.profile.name(), &cpu)?;
    let access = AccessPolicy::from_args(&args.access)?;
    tracing::info!("{}", access.describe());
    let cache = args.cache.cache()?;
    let merchants = args.merchants.open()?;
    let state = AppState::new(&args, access, routing, cache, merchants, cpu);

    let listener = args.listen.bind(args.port).await?;
    notify::start_watchdog();

    if let Some(engines) = &state.lifecycle.engines {
        notify::status("loading models");
        // Each engine loads on its own thread: a slow one does not hold the others back.
        for name in engines.names() {
            let (state, engine, queue) = (state.clone(), args.engine.clone(), args.queue_size);
            thread::Builder::new()
                .name(format!("load-{name}"))
                .spawn(move || load_engine(&state, &engine, name, queue))?;
        }
    } else {
        tracing::info!("OCR disabled (AI_ENABLE_OCR=0): no models loaded");
        notify::ready();
    }
    if args.memory_log_secs > 0 {
        tokio::spawn(log_memory(Duration::from_secs(args.memory_log_secs)));
    }

    // Jobs share the workers: half of them at most, so requests always find one.
    let jobs = match matches!(state.jobs, crate::state::JobsSlot::Opening(_)) {
        true => {
            let slots = args.job.job_workers.unwrap_or((args.engine.worker_count() / 2).max(1));
            Some(crate::jobs::start(state.clone(), &args.job, slots)?)
        }
        false => None,
    };

    let app = crate::http::router(state.clone());
    let stopping = state.clone();
    let served = serve_until_signal(listener, app, args.listen.shutdown_grace(), move || {
        notify::stopping();
        stopping.lifecycle.shutting_down.store(true, Ordering::Relaxed);
    })
    .await;
    if let Some(jobs) = jobs {
        jobs.shutdown(args.listen.shutdown_grace()).await;
    }
    served
}

/// Loads engine `name` and publishes its worker pool.
pub(crate) fn load_engine(state: &AppState, args: &EngineArgs, name: &'static str, queue: usize) {
    let Some(slot) = state.lifecycle.engines.as_ref().and_then(|e| e.get(name)) else { return };
    let is_default = name == args.default_engine();
    if name == "paddle" {
        let runtime = args.runtime();
        tracing::info!(
            workers = args.worker_count(),
            detector_sessions = runtime.detectors,
            detector_threads = runtime.detector_session.threads,
            recognizer_sessions = runtime.recognizers,
            "Loading PaddleOCR models..."
        );
    } else {
        tracing::info!(workers = args.worker_count(), "Loading the {name} engine...");
    }
    // The shadow engine gets one instance more, for its background worker.
    let is_shadow = state.routing.shadow.is_some_and(|(shadow, _)| shadow == name);
    let instances = args.worker_count() + usize::from(is_shadow);
    let outcome = args.load(name, instances).map_err(|e| e.to_string()).and_then(|mut engine| {
        let start = |instances, queue, priority| {
            Workers::start(name, instances, args.read_limits(), queue, priority)
                .map_err(|e| format!("cannot start workers: {e}"))
        };
        let shadow = match is_shadow {
            true => Some(start(engine.instances.split_off(args.worker_count()), 1, Priority::Background)?),
            false => None,
        };
        let pool = start(engine.instances, queue, Priority::Normal)?;
        Ok(Loaded { pool, shadow, load_time: engine.load_time, info: engine.info })
    });
    match &outcome {
        Ok(loaded) => tracing::info!(
            engine = name,
            memory_mb = rss_mb(),
            version = %loaded.info.version,
            "Models loaded successfully in {} ms",
            loaded.load_time.as_millis()
        ),
        Err(why) => tracing::error!(
            engine = name,
            "Model loading failed: {why}. Models come from --model-dir/HUB_MODEL_DIR, ONNX Runtime from \
             --ort-lib/ORT_DYLIB_PATH, Tesseract's data from --tessdata; {} until the service is restarted \
             with working files.",
            if is_default { "/ready stays 503" } else { "requests for this engine get 503" }
        ),
    }
    let loaded = outcome.is_ok();
    slot.finish(outcome);
    if !is_default {
        return;
    }
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
