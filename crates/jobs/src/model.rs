//! What a job is, as the store keeps it.

use serde::Serialize;

/// A job's place in its life: `queued → running → succeeded | failed`,
/// or `queued → cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] =
        [Status::Queued, Status::Running, Status::Succeeded, Status::Failed, Status::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Ended: the job will not run again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

/// Where a finished job's callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackState {
    /// Not yet delivered; retried with backoff.
    Pending,
    Delivered,
    /// Given up after the retry window.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Delivered => "delivered",
            CallbackState::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [CallbackState::Pending, CallbackState::Delivered, CallbackState::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One uploaded image of a job.
#[derive(Debug, Clone)]
pub struct Image {
    pub filename: String,
    pub bytes: Vec<u8>,
}

/// A submission.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Who may see the job: the API key's fingerprint, or empty without keys.
    pub owner: String,
    pub idempotency_key: Option<String>,
    /// The per-request options (engine, fields), as the service's JSON.
    pub options: String,
    /// Already checked against the [`crate::CallbackPolicy`].
    pub callback_url: Option<String>,
    pub images: Vec<Image>,
}

/// What a submission made: the job, or the earlier job its idempotency key names.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job: Job,
    /// `true`: this is the earlier submission's job, nothing new was queued.
    pub replayed: bool,
}

/// A job as stored, without its images.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub owner: String,
    pub status: Status,
    pub options: String,
    pub image_count: u32,
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When a finished job and its result are removed.
    pub expires_at: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The result JSON of a succeeded job (in [`crate::JobStore::get`] only).
    pub result: Option<String>,
    pub callback: Option<Callback>,
}

/// A job's callback and its delivery so far.
#[derive(Debug, Clone)]
pub struct Callback {
    pub url: String,
    /// `None` until the job ends.
    pub state: Option<CallbackState>,
    pub attempts: u32,
    pub error: Option<String>,
}

/// A job a worker has claimed: run it, keep its lease, then finish it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: String,
    /// This claim's attempt number, 1-based; fences the worker's writes.
    pub attempt: u32,
    pub options: String,
    pub images: Vec<Image>,
    pub created_at: i64,
    /// When it was claimed, on the same clock: its wait in the queue is
    /// `claimed_at - created_at`.
    pub claimed_at: i64,
}

/// The store at a glance, for metrics.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Jobs per status (every status listed, zero included).
    pub by_status: Vec<(Status, u64)>,
    /// When the oldest queued job was submitted.
    pub oldest_queued_at: Option<i64>,
    /// Bytes of images and results held.
    pub stored_bytes: u64,
}
