//! Asynchronous jobs on this process: the store opened in the background,
//! a runner that claims jobs and reads their images on the engines'
//! workers, a sweeper (retention, dead workers, metrics) and the callback
//! sender. `serve` and `worker` both start them; the routes are in
//! `crate::http::jobs`, the store in the `hub-jobs` crate.

mod callbacks;
mod runner;
mod view;

use std::sync::Arc;
use std::time::Duration;

use hub_jobs::JobStore;
use metrics::gauge;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::JobArgs;
use crate::pdf_pages::PdfText;
use crate::state::{JobService, SharedState};

pub use view::{CallbackView, JobList, JobView, Submission};

/// The per-request options a job keeps (as JSON in the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobOptions {
    /// `None`: the default engine of the process that runs it.
    pub engine: Option<String>,
    pub fields: bool,
    /// Absent in jobs stored before PDFs were read: `auto`.
    #[serde(default)]
    pub pdf_text: PdfText,
}

/// The running job tasks of this process; [`Self::shutdown`] hands
/// unfinished jobs back to the queue.
pub struct Jobs {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// How this process runs jobs.
#[derive(Clone)]
struct Settings {
    /// This process in the store's `worker` column: host, pid and a random part.
    worker: String,
    lease: Duration,
    /// Images from jobs read at once.
    slots: usize,
    secret: Option<Arc<Vec<u8>>>,
    callback_window: Duration,
}

/// Opens the store in the background (retrying while it is unreachable)
/// and then starts the runner, sweeper and callback sender. `slots`: how
/// many images from jobs may be read at once.
pub fn start(state: SharedState, args: &JobArgs, slots: usize) -> anyhow::Result<Jobs> {
    let url = args.url()?;
    let limits = args.limits()?;
    let (callbacks, secret) = args.callbacks()?;
    let settings = Settings {
        worker: format!("{}-{}-{:04x}", hostname(), std::process::id(), fastrand::u16(..)),
        lease: args.lease(),
        slots,
        secret: secret.map(Arc::new),
        callback_window: Duration::from_secs(args.callback_retry_secs),
    };
    let (stop, mut stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut failures = 0u32;
        let store = loop {
            match JobStore::open(&url, limits.clone()).await {
                Ok(store) => break store,
                Err(err) => {
                    // The first failure and then one a minute, not one per retry.
                    if failures.is_multiple_of(30) {
                        tracing::error!(error = %err, "cannot open the job store; retrying every 2 s");
                    }
                    failures += 1;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
        };
        tracing::info!(backend = ?store.backend(), worker = %settings.worker, slots = settings.slots, "job store open");
        let service = Arc::new(JobService { store, callbacks, submitted: Notify::new() });
        state.jobs.finish(Ok(service.clone()));
        let mut workers = JoinSet::new();
        // No slots: this process takes submissions and leaves them to workers elsewhere.
        if settings.slots > 0 {
            workers.spawn(runner::run(state.clone(), service.clone(), settings.clone(), stopped.clone()));
        }
        workers.spawn(sweep(service.clone(), stopped.clone()));
        workers.spawn(callbacks::run(service, settings, stopped));
        while workers.join_next().await.is_some() {}
    });
    Ok(Jobs { stop, tasks })
}

impl Jobs {
    /// Stops claiming, hands running jobs back to the queue and waits (up
    /// to `grace`) for that to be recorded.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("job tasks did not stop within {grace:?}; their leases will expire and other workers retry");
        }
    }
}

/// Every few seconds: fail jobs whose workers died too often, remove
/// expired ones, and publish the store's figures.
async fn sweep(service: Arc<JobService>, mut stopped: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => return,
        }
        let store = &service.store;
        if let Err(err) = store.fail_exhausted().await.and(store.expire().await) {
            tracing::warn!(error = %err, "job sweep failed");
        }
        match store.stats().await {
            Ok(stats) => {
                let now = store.now().await.unwrap_or_else(|_| hub_jobs::now_ms());
                for (status, count) in &stats.by_status {
                    gauge!("ocr_jobs", "status" => status.as_str()).set(*count as f64);
                }
                let age = stats.oldest_queued_at.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
                gauge!("ocr_jobs_oldest_queued_seconds").set(age);
                gauge!("ocr_jobs_stored_bytes").set(stats.stored_bytes as f64);
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the job store's figures"),
        }
    }
}

pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("ocr_jobs", "Jobs in the store, by status (the whole store, not this process's)");
    describe_gauge!(
        "ocr_jobs_oldest_queued_seconds",
        Unit::Seconds,
        "Age of the oldest queued job: the queue metric to scale workers on (KEDA, HPA)"
    );
    describe_gauge!("ocr_jobs_stored_bytes", Unit::Bytes, "Bytes of job images and results held");
    describe_histogram!("ocr_job_seconds", Unit::Seconds, "From submission to the end of jobs run here, by status");
    describe_histogram!("ocr_job_attempts", "The attempt on which jobs run here ended (1 unless a worker died)");
    describe_counter!("ocr_job_runs_total", "Job runs here, by outcome: succeeded, failed, lost (lease), released");
    describe_counter!("ocr_job_callbacks_total", "Callback deliveries, by outcome: delivered, retry, failed");
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map_or_else(|_| "host".into(), |h| h.trim().to_owned())
}
