//! Durable OCR jobs: submitted once, read by exactly one worker at a time,
//! kept for a while, then removed. No HTTP server and no OCR here: the
//! service submits and reads jobs, its runner claims and finishes them.
//!
//! | module     | role                                                          |
//! |------------|---------------------------------------------------------------|
//! | `store`    | [`JobStore`]: the jobs and their images in SQLite or PostgreSQL |
//! | `schema`   | the tables and their version, created at open, on both backends |
//! | `model`    | what a job is: [`Status`], [`Job`], [`NewJob`], [`Claim`]     |
//! | `callback` | callback URLs checked against an allow-list, bodies signed    |
//!
//! Crash safety comes from leases: a claimed job carries its worker's name
//! and a lease deadline the worker keeps extending; a job whose lease ran
//! out is claimed again (up to its attempt limit), and a worker that lost
//! its lease cannot record a result (every write names worker and attempt).
//! Times are milliseconds since the Unix epoch on the store's clock
//! ([`JobStore::now`]): PostgreSQL's for a shared store, so the workers'
//! own clocks may disagree without a lease ending early or late.

mod callback;
mod model;
mod schema;
mod store;

pub use callback::{CallbackPolicy, SIGNATURE_HEADER, sign};
pub use model::{Callback, CallbackState, Claim, Image, Job, NewJob, Stats, Status, Submitted};
pub use store::{Backend, JobLimits, JobStore};

/// Why a job operation failed; the service maps each to one HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0} jobs are already waiting; try again later")]
    QueueFull(u64),
    #[error("the job store holds its limit of {limit_mb} MB; try again once jobs have expired")]
    StorageFull { limit_mb: u64 },
    #[error("this Idempotency-Key was used for a different submission")]
    IdempotencyMismatch,
    #[error("{0}")]
    CallbackRefused(String),
    #[error("job store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("job store: {0}")]
    Corrupt(String),
    #[error(
        "job store: its tables are at schema version {found}, written by a newer inference-hub; this build \
         knows version {known}: run the newer build, or give this one a store of its own"
    )]
    NewerSchema { found: i64, known: i64 },
}

/// Milliseconds since the Unix epoch on this process's clock (an embedded
/// store's clock).
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}
