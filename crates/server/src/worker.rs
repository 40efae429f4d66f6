//! `inference-hub worker`: loads the engines and runs jobs from the job
//! store until SIGTERM/SIGINT, then hands its unfinished jobs back. It takes
//! no uploads (API replicas take the submissions, any number of workers
//! read them); its HTTP port answers the orchestrator's probes and
//! Prometheus only.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use hub_ocr::CpuInfo;

use crate::config::WorkerArgs;
use crate::state::AppState;
use crate::wire::serve::shutdown_signal;

/// Time running jobs get to be handed back at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Time the probe server gets to answer its last requests.
const PROBES_GRACE: Duration = Duration::from_secs(2);

pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let cpu = CpuInfo::detect();
    crate::metrics::install(args.engine.profile.name(), &cpu)?;
    let cache = args.cache.cache()?;
    // Bound before any work starts, so a taken port fails the start at once.
    let listener = crate::config::bind(&args.host, args.port).await?;
    let merchants = args.merchants.open()?;
    let state = AppState::for_worker(&args, cache, merchants, cpu);
    let engines = state.lifecycle.engines.as_ref().map(|e| e.names()).unwrap_or_default();
    for name in engines {
        let (state, engine) = (state.clone(), args.engine.clone());
        // The queue only ever holds the job images this worker feeds it.
        let queue = args.engine.worker_count();
        thread::Builder::new()
            .name(format!("load-{name}"))
            .spawn(move || crate::serve::load_engine(&state, &engine, name, queue))?;
    }
    // Nothing else competes for this process's workers: jobs may use them all.
    let slots = args.job.job_workers.unwrap_or(args.engine.worker_count());
    let jobs = crate::jobs::start(state.clone(), &args.job, slots)?;

    // Probes and metrics answer until the jobs are handed back; /ready says
    // 503 from the signal on.
    let app = crate::http::worker_router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let probes = tokio::spawn(async move {
        axum::serve(listener, app).with_graceful_shutdown(async { stopped.await.unwrap_or(()) }).await
    });

    tracing::info!(slots, "worker started; waiting for jobs");
    shutdown_signal().await;
    state.lifecycle.shutting_down.store(true, Ordering::Relaxed);
    tracing::info!("stopping: handing unfinished jobs back");
    jobs.shutdown(SHUTDOWN_GRACE).await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(PROBES_GRACE, probes).await;
    tracing::info!("shut down");
    Ok(())
}
