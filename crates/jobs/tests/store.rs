//! The job store's contract, run on an embedded SQLite file and on a real
//! PostgreSQL server: submission and idempotency, limits, claiming with
//! leases, fencing of a worker that lost its lease, attempts, cancel,
//! retention and callbacks' bookkeeping.

#[path = "support/postgres.rs"]
mod postgres;

use std::time::Duration;

use hub_jobs::{CallbackState, Image, JobError, JobLimits, JobStore, NewJob, Status};

fn limits() -> JobLimits {
    JobLimits { max_queued: 5, max_stored_bytes: 1 << 20, ttl: Duration::from_secs(3600), max_attempts: 2 }
}

fn new_job(owner: &str, key: Option<&str>, images: &[&[u8]]) -> NewJob {
    NewJob {
        owner: owner.into(),
        idempotency_key: key.map(String::from),
        options: r#"{"engine":"paddle"}"#.into(),
        callback_url: None,
        images: images
            .iter()
            .enumerate()
            .map(|(i, b)| Image { filename: format!("r{i}.png"), bytes: b.to_vec() })
            .collect(),
    }
}

async fn sqlite(limits: JobLimits) -> (JobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.sqlite3").display());
    (JobStore::open(&url, limits).await.unwrap(), dir)
}

/// Runs `scenario` on both backends.
macro_rules! on_both {
    ($name:ident, $limits:expr, $scenario:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let (store, _dir) = super::sqlite($limits).await;
                let scenario = $scenario;
                scenario(store).await;
            }
            #[tokio::test]
            async fn postgres() {
                let pg = postgres::Postgres::start();
                let store = JobStore::open(&pg.url(), $limits).await.unwrap();
                let scenario = $scenario;
                scenario(store).await;
            }
        }
    };
}

on_both!(lifecycle, limits(), |store: JobStore| async move {
    let submitted = store.submit(new_job("a", None, &[b"one", b"two"])).await.unwrap();
    assert!(!submitted.replayed);
    let id = submitted.job.id.clone();
    assert_eq!(submitted.job.status, Status::Queued);
    assert_eq!(submitted.job.image_count, 2);

    let claim = store.claim("w1", Duration::from_secs(30)).await.unwrap().expect("a job to claim");
    assert_eq!((claim.id.as_str(), claim.attempt), (id.as_str(), 1));
    assert_eq!(claim.images.iter().map(|i| i.bytes.as_slice()).collect::<Vec<_>>(), [b"one".as_slice(), b"two"]);
    assert!(store.claim("w2", Duration::from_secs(30)).await.unwrap().is_none(), "claimed twice");
    assert!(store.heartbeat("w1", &claim, Duration::from_secs(30)).await.unwrap());
    assert!(!store.heartbeat("w2", &claim, Duration::from_secs(30)).await.unwrap());

    assert!(store.finish("w1", &claim, Ok(r#"{"results":[]}"#.into())).await.unwrap());
    let job = store.get("a", &id).await.unwrap().unwrap();
    assert_eq!(job.status, Status::Succeeded);
    assert_eq!(job.result.as_deref(), Some(r#"{"results":[]}"#));
    assert_eq!(job.attempts, 1);
    assert!(job.finished_at.is_some() && job.expires_at.is_some());
    // Finishing again is refused: the job is no longer running.
    assert!(!store.finish("w1", &claim, Err("late".into())).await.unwrap());
    // Another owner sees nothing.
    assert!(store.get("b", &id).await.unwrap().is_none());
    assert_eq!(store.list("a", None, 10).await.unwrap().len(), 1);
    assert_eq!(store.list("a", Some(Status::Queued), 10).await.unwrap().len(), 0);
    assert_eq!(store.list("b", None, 10).await.unwrap().len(), 0);
    let stats = store.stats().await.unwrap();
    assert!(stats.by_status.contains(&(Status::Succeeded, 1)));
});

on_both!(idempotency, limits(), |store: JobStore| async move {
    let first = store.submit(new_job("a", Some("k1"), &[b"img"])).await.unwrap();
    let again = store.submit(new_job("a", Some("k1"), &[b"img"])).await.unwrap();
    assert!(again.replayed);
    assert_eq!(first.job.id, again.job.id);
    // The same key from another owner is another job.
    let other = store.submit(new_job("b", Some("k1"), &[b"img"])).await.unwrap();
    assert_ne!(other.job.id, first.job.id);
    // The same key with other content is refused.
    let err = store.submit(new_job("a", Some("k1"), &[b"other"])).await.unwrap_err();
    assert!(matches!(err, JobError::IdempotencyMismatch), "{err}");
    assert_eq!(store.list("a", None, 10).await.unwrap().len(), 1);
});

on_both!(limits_refuse, JobLimits { max_queued: 2, max_stored_bytes: 100, ..limits() }, |store: JobStore| async move {
    store.submit(new_job("a", None, &[&[0; 10]])).await.unwrap();
    let err = store.submit(new_job("a", None, &[&[0; 95]])).await.unwrap_err();
    assert!(matches!(err, JobError::StorageFull { .. }), "{err}");
    store.submit(new_job("a", None, &[&[0; 10]])).await.unwrap();
    let err = store.submit(new_job("a", None, &[&[0; 1]])).await.unwrap_err();
    assert!(matches!(err, JobError::QueueFull(2)), "{err}");
});

on_both!(lost_lease_is_retried_then_failed, limits(), |store: JobStore| async move {
    let id = store.submit(new_job("a", None, &[b"x"])).await.unwrap().job.id;
    let first = store.claim("dead", Duration::from_millis(1)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The lease ran out: another worker takes the job, attempt 2.
    let second = store.claim("alive", Duration::from_millis(1)).await.unwrap().unwrap();
    assert_eq!((second.id.as_str(), second.attempt), (id.as_str(), 2));
    // The first worker woke up: its writes are fenced off.
    assert!(!store.heartbeat("dead", &first, Duration::from_secs(30)).await.unwrap());
    assert!(!store.finish("dead", &first, Ok("{}".into())).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Two attempts were the limit: nobody may claim it; the sweep fails it.
    assert!(store.claim("third", Duration::from_secs(30)).await.unwrap().is_none());
    assert_eq!(store.fail_exhausted().await.unwrap(), 1);
    let job = store.get("a", &id).await.unwrap().unwrap();
    assert_eq!(job.status, Status::Failed);
    assert!(job.error.unwrap().contains("2 times"));
});

on_both!(released_jobs_run_again_without_an_attempt, limits(), |store: JobStore| async move {
    let id = store.submit(new_job("a", None, &[b"x"])).await.unwrap().job.id;
    let first = store.claim("stopping", Duration::from_secs(30)).await.unwrap().unwrap();
    assert!(store.release("stopping", &first).await.unwrap());
    assert!(!store.release("stopping", &first).await.unwrap());
    let again = store.claim("next", Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempt), (id.as_str(), 1));
});

on_both!(cancel_only_queued, limits(), |store: JobStore| async move {
    let queued = store.submit(new_job("a", None, &[b"x"])).await.unwrap().job.id;
    let job = store.cancel("a", &queued).await.unwrap().unwrap();
    assert_eq!(job.status, Status::Cancelled);
    assert!(store.claim("w", Duration::from_secs(30)).await.unwrap().is_none(), "a cancelled job ran");

    let running = store.submit(new_job("a", None, &[b"y"])).await.unwrap().job.id;
    store.claim("w", Duration::from_secs(30)).await.unwrap().unwrap();
    let job = store.cancel("a", &running).await.unwrap().unwrap();
    assert_eq!(job.status, Status::Running);
    assert!(store.cancel("b", &running).await.unwrap().is_none());
});

on_both!(retention, JobLimits { ttl: Duration::from_millis(50), ..limits() }, |store: JobStore| async move {
    let id = store.submit(new_job("a", None, &[b"x"])).await.unwrap().job.id;
    let claim = store.claim("w", Duration::from_secs(30)).await.unwrap().unwrap();
    assert!(store.finish("w", &claim, Ok("{}".into())).await.unwrap());
    assert!(store.get("a", &id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Past its TTL a job is gone for readers at once, and swept later.
    assert!(store.get("a", &id).await.unwrap().is_none());
    assert_eq!(store.expire().await.unwrap(), 1);
    assert_eq!(store.stats().await.unwrap().stored_bytes, 0);
});

on_both!(callbacks_bookkeeping, limits(), |store: JobStore| async move {
    let mut job = new_job("a", None, &[b"x"]);
    job.callback_url = Some("http://127.0.0.1:9/hook".into());
    let id = store.submit(job).await.unwrap().job.id;
    // Nothing to call back before the job ends.
    assert!(store.claim_callback(Duration::from_secs(30)).await.unwrap().is_none());
    let claim = store.claim("w", Duration::from_secs(30)).await.unwrap().unwrap();
    store.finish("w", &claim, Ok("{}".into())).await.unwrap();
    let due = store.claim_callback(Duration::from_secs(30)).await.unwrap().expect("a due callback");
    assert_eq!(due.id, id);
    assert_eq!(due.result.as_deref(), Some("{}"));
    // Claimed: not handed out twice while it is being sent.
    assert!(store.claim_callback(Duration::from_secs(30)).await.unwrap().is_none());
    store.callback_attempted(&id, Some("HTTP 500"), Some(hub_jobs::now_ms())).await.unwrap();
    let retry = store.claim_callback(Duration::from_secs(30)).await.unwrap().expect("a retry");
    assert_eq!(retry.callback.as_ref().unwrap().attempts, 2);
    store.callback_attempted(&id, None, None).await.unwrap();
    let done = store.get("a", &id).await.unwrap().unwrap().callback.unwrap();
    assert_eq!((done.state, done.attempts), (Some(CallbackState::Delivered), 2));
});

/// A store is opened again by the same schema version, and refused by a
/// build that knows only an older one than its tables are at.
async fn newer_schema_is_refused(url: &str) {
    let id = JobStore::open(url, limits()).await.unwrap().submit(new_job("a", None, &[b"x"])).await.unwrap().job.id;
    let store = JobStore::open(url, limits()).await.expect("the same version opens again");
    assert!(store.get("a", &id).await.unwrap().is_some());
    drop(store);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM hub_schema").fetch_all(&pool).await.unwrap();
    assert_eq!(versions, [1], "the version is recorded once");
    assert!(sqlx::query("INSERT INTO hub_schema (id, version) VALUES (2, 1)").execute(&pool).await.is_err());
    // A newer build's store, whose jobs table this build would not know.
    sqlx::query("UPDATE hub_schema SET version = 99").execute(&pool).await.unwrap();
    sqlx::query("DROP TABLE hub_job_images").execute(&pool).await.unwrap();
    let err = JobStore::open(url, limits()).await.err().expect("a newer schema is refused");
    assert!(matches!(err, JobError::NewerSchema { found: 99, known: 1 }), "{err}");
    assert!(err.to_string().contains("schema version 99"), "{err}");
    // Refused before anything was created in it.
    let tables = match url.starts_with("sqlite:") {
        true => "SELECT COUNT(*) FROM sqlite_master WHERE name = 'hub_job_images'",
        false => "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'hub_job_images'",
    };
    let count: i64 = sqlx::query_scalar(tables).fetch_one(&pool).await.unwrap();
    assert_eq!(count, 0, "the refused store was changed");
    pool.close().await;
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    newer_schema_is_refused(&format!("sqlite://{}", dir.path().join("jobs.sqlite3").display())).await;
}

#[tokio::test]
async fn postgres_refuses_a_newer_schema() {
    let pg = postgres::Postgres::start();
    newer_schema_is_refused(&pg.url()).await;
}

#[tokio::test]
async fn sqlite_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("jobs.sqlite3").display());
    let id = {
        let store = JobStore::open(&url, limits()).await.unwrap();
        store.submit(new_job("a", None, &[b"kept"])).await.unwrap().job.id
    };
    let store = JobStore::open(&url, limits()).await.unwrap();
    let claim = store.claim("w", Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!((claim.id, claim.images[0].bytes.as_slice()), (id, b"kept".as_slice()));
}

#[tokio::test]
async fn postgres_claims_each_job_once_across_workers() {
    let pg = postgres::Postgres::start();
    let store =
        std::sync::Arc::new(JobStore::open(&pg.url(), JobLimits { max_queued: 100, ..limits() }).await.unwrap());
    for _ in 0..40 {
        store.submit(new_job("a", None, &[b"x"])).await.unwrap();
    }
    let mut workers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claim) = store.claim(&format!("w{w}"), Duration::from_secs(30)).await.unwrap() {
                assert!(store.finish(&format!("w{w}"), &claim, Ok("{}".into())).await.unwrap());
                mine.push(claim.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (40, 40), "a job was claimed twice or lost");
}
