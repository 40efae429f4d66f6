//! Posts each ended job to its `callback_url`, signed, and retries with
//! backoff for `--callback-retry-secs`. Deliveries are claimed in the
//! store, so a callback survives a restart and replicas never send the
//! same attempt twice.

use std::sync::Arc;
use std::time::Duration;

use hub_jobs::{Job, SIGNATURE_HEADER, now_ms, sign};
use metrics::counter;
use tokio::sync::watch;

use super::{JobView, Settings};
use crate::state::JobService;

/// Time one delivery attempt may take; also how long a claimed delivery
/// is held before another process may try it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub async fn run(service: Arc<JobService>, settings: Settings, mut stopped: watch::Receiver<bool>) {
    // Callbacks were refused at submission unless enabled; none to send.
    if !service.callbacks.enabled() {
        return;
    }
    // No redirects: a receiver must not bounce the request past the allow-list.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!("inference-hub/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the callback client builds");
    loop {
        match service.store.claim_callback(ATTEMPT_TIMEOUT * 2).await {
            Ok(Some(job)) => deliver(&service, &settings, &client, job).await,
            Ok(None) => tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stopped.changed() => return,
            },
            Err(err) => {
                tracing::warn!(error = %err, "cannot read due callbacks");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if *stopped.borrow() {
            return;
        }
    }
}

async fn deliver(service: &JobService, settings: &Settings, client: &reqwest::Client, job: Job) {
    let Some(callback) = job.callback.clone() else { return };
    let (id, finished_at, attempt) = (job.id.clone(), job.finished_at.unwrap_or_else(now_ms), callback.attempts);
    let outcome = match service.callbacks.check(&callback.url) {
        // The allow-list may have changed since the job was submitted.
        Err(err) => Err(err.to_string()),
        Ok(url) => {
            let body = serde_json::to_vec(&JobView::from(job)).unwrap_or_default();
            let mut request = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Hub-Job-Id", &id)
                .header("X-Hub-Delivery-Attempt", attempt.to_string());
            if let Some(secret) = &settings.secret {
                request = request.header(SIGNATURE_HEADER, sign(secret, &body));
            }
            match request.body(body).send().await {
                Ok(reply) if reply.status().is_success() => Ok(()),
                Ok(reply) => Err(format!("the receiver answered HTTP {}", reply.status().as_u16())),
                Err(err) => Err(format!("cannot reach the receiver: {}", without_url(&err))),
            }
        }
    };
    let recorded = match outcome {
        Ok(()) => {
            counter!("ocr_job_callbacks_total", "outcome" => "delivered").increment(1);
            tracing::info!(job = %id, attempt, "callback delivered");
            service.store.callback_attempted(&id, None, None).await
        }
        Err(why) => {
            let backoff = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(16)).min(MAX_BACKOFF);
            // On the store's clock, as the job's end and the claims are.
            let now = match service.store.now().await {
                Ok(now) => now,
                // The attempt cannot be recorded either; the claim's lease
                // runs out and the callback is tried again.
                Err(err) => {
                    tracing::warn!(job = %id, error = %err, "cannot read the job store's clock");
                    return;
                }
            };
            let retry_at = now + backoff.as_millis() as i64;
            let give_up = retry_at > finished_at + settings.callback_window.as_millis() as i64;
            let outcome = if give_up { "failed" } else { "retry" };
            counter!("ocr_job_callbacks_total", "outcome" => outcome).increment(1);
            tracing::warn!(job = %id, attempt, outcome, "callback failed: {why}");
            service.store.callback_attempted(&id, Some(&why), (!give_up).then_some(retry_at)).await
        }
    };
    if let Err(err) = recorded {
        tracing::warn!(job = %id, error = %err, "cannot record the callback attempt; it will be tried again");
    }
}

/// reqwest's error text names the URL, which may carry a client's token in
/// its query: keep only the reason.
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}
