//! Claims jobs and reads their images. Synchronous requests keep priority:
//! at most `slots` job images are read at once, and each only when its
//! engine's queue is empty and a worker is free, so a job never makes a
//! client's request wait behind it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hub_jobs::{Claim, Image};
use metrics::{counter, histogram};
use tokio::sync::{Semaphore, watch};
use tokio::time::{sleep, timeout};

use super::{JobOptions, Settings};
use crate::pdf_pages::PdfText;
use crate::reading;
use crate::state::{AppState, EngineSlot, EngineStatus, JobService, Loaded, SharedState};
use crate::wire::error::ApiError;
use crate::wire::response::{BatchItem, BatchResponse, ErrorBody};

/// How often an idle runner looks for work it was not woken for (jobs
/// submitted to other replicas, leases that ran out).
const POLL: Duration = Duration::from_millis(250);

pub async fn run(state: SharedState, service: Arc<JobService>, settings: Settings, stopped: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(settings.slots));
    let mut failures = 0u32;
    loop {
        if *stopped.borrow() {
            break;
        }
        // Claim only what can run now: models loaded and a slot free.
        if !state.models_loaded() {
            sleep(Duration::from_millis(200)).await;
            continue;
        }
        let Ok(permit) = slots.clone().acquire_owned().await else { break };
        match service.store.claim(&settings.worker, settings.lease).await {
            Ok(Some(claim)) => {
                failures = 0;
                let (state, service, settings, stopped) =
                    (state.clone(), service.clone(), settings.clone(), stopped.clone());
                tokio::spawn(async move {
                    run_claim(&state, &service, &settings, claim, stopped).await;
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                let mut stopped = stopped.clone();
                tokio::select! {
                    _ = service.submitted.notified() => {}
                    _ = sleep(POLL) => {}
                    _ = stopped.changed() => {}
                }
            }
            Err(err) => {
                drop(permit);
                if failures.is_multiple_of(30) {
                    tracing::warn!(error = %err, "cannot claim jobs; retrying");
                }
                failures += 1;
                sleep(Duration::from_secs(1)).await;
            }
        }
    }
    // Wait for the claims in flight to finish or be handed back.
    let _ = slots.acquire_many(settings.slots as u32).await;
}

/// Runs one claimed job to its end, keeping its lease meanwhile; on
/// shutdown the job goes back to the queue for another worker.
async fn run_claim(
    state: &AppState,
    service: &JobService,
    settings: &Settings,
    claim: Claim,
    mut stopped: watch::Receiver<bool>,
) {
    let store = &service.store;
    let span = tracing::info_span!("job", id = %claim.id, attempt = claim.attempt);
    tracing::info!(parent: &span, images = claim.images.len(), "job started");
    let started = Instant::now();
    let work = read_job(state, &claim);
    tokio::pin!(work);
    let mut heartbeat = tokio::time::interval(settings.lease / 3);
    heartbeat.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut work => break Some(outcome),
            _ = heartbeat.tick() => match store.heartbeat(&settings.worker, &claim, settings.lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(parent: &span, "lost the job's lease; another worker has it");
                    counter!("ocr_job_runs_total", "outcome" => "lost").increment(1);
                    return;
                }
                // A database hiccup: the lease is still good until it runs out.
                Err(err) => tracing::warn!(parent: &span, error = %err, "cannot renew the job's lease"),
            },
            _ = stopped.changed() => break None,
        }
    };
    let Some(outcome) = outcome else {
        match store.release(&settings.worker, &claim).await {
            Ok(_) => tracing::info!(parent: &span, "job handed back to the queue at shutdown"),
            Err(err) => tracing::warn!(parent: &span, error = %err, "cannot hand the job back; its lease will run out"),
        }
        counter!("ocr_job_runs_total", "outcome" => "released").increment(1);
        return;
    };
    let status = if outcome.is_ok() { "succeeded" } else { "failed" };
    match store.finish(&settings.worker, &claim, outcome).await {
        Ok(true) => {
            // Its wait on the store's clock, then its run on this process's.
            let waited = (claim.claimed_at - claim.created_at).max(0) as f64 / 1000.0;
            histogram!("ocr_job_seconds", "status" => status).record(waited + started.elapsed().as_secs_f64());
            histogram!("ocr_job_attempts").record(f64::from(claim.attempt));
            counter!("ocr_job_runs_total", "outcome" => status).increment(1);
            tracing::info!(parent: &span, status, "job ended");
            service.submitted.notify_one();
        }
        Ok(false) => {
            counter!("ocr_job_runs_total", "outcome" => "lost").increment(1);
            tracing::warn!(parent: &span, "the job's lease ran out before it ended; its result is dropped");
        }
        Err(err) => tracing::error!(parent: &span, error = %err, "cannot record the job's end; it will run again"),
    }
}

/// The job's answer in the batch route's shape, or why it cannot run here.
async fn read_job(state: &AppState, claim: &Claim) -> Result<String, String> {
    let options: JobOptions =
        serde_json::from_str(&claim.options).map_err(|e| format!("the job's options are unreadable: {e}"))?;
    let slot = state.engine(options.engine.as_deref()).map_err(|e| e.message())?;
    let loaded = loaded(slot).await?;
    let started = Instant::now();
    let mut results = Vec::with_capacity(claim.images.len());
    for Image { filename, bytes } in &claim.images {
        let item = match read_image(state, slot, loaded, Bytes::from(bytes.clone()), options.pdf_text).await {
            Ok(mut response) => {
                if options.fields {
                    response.add_fields(state.fields.merchants().as_deref());
                }
                BatchItem::Read { filename: filename.clone(), response }
            }
            Err(err) => BatchItem::Failed { filename: filename.clone(), error: ErrorBody::from(&err) },
        };
        results.push(item);
    }
    let response = BatchResponse::new(results, started.elapsed());
    serde_json::to_string(&response).map_err(|e| format!("cannot encode the result: {e}"))
}

/// The engine's workers once it has loaded (a job may wait for that).
async fn loaded(slot: &EngineSlot) -> Result<&Loaded, String> {
    loop {
        match slot.status() {
            EngineStatus::Ready(loaded) => return Ok(loaded),
            EngineStatus::Failed(why) => return Err(format!("engine `{}` failed to load: {why}", slot.name)),
            EngineStatus::Loading => sleep(Duration::from_millis(200)).await,
        }
    }
}

/// One image, started only when the engine has a worker free and nothing
/// queued; a synchronous request that takes the worker first just means
/// another wait.
async fn read_image(
    state: &AppState,
    slot: &EngineSlot,
    loaded: &Loaded,
    image: Bytes,
    pdf_text: PdfText,
) -> Result<crate::wire::response::OcrResponse, ApiError> {
    loop {
        loaded.pool.until_idle().await;
        let read =
            timeout(state.limits.request_timeout, reading::read(state, slot, loaded, image.clone(), false, pdf_text));
        match read.await {
            Ok(Err(ApiError::Overloaded)) => continue,
            Ok(outcome) => return outcome.map(|read| read.response),
            Err(_) => return Err(ApiError::DeadlineExceeded),
        }
    }
}
