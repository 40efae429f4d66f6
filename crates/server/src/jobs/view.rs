//! A job as clients see it: `GET /v1/jobs/{id}`, the list, and the
//! callback's body.

use hub_jobs::Job;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::JobOptions;

/// `POST /v1/jobs`'s answer (202).
#[derive(Debug, Serialize, ToSchema)]
pub struct Submission {
    pub id: String,
    /// `queued` for a new job; a replayed submission (same `Idempotency-Key`) says where the job is now.
    pub status: &'static str,
    /// Where to poll: `GET` it.
    pub status_url: String,
}

/// A job, its timestamps and, once it succeeded, its result.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: &'static str,
    pub status_url: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When the job and its result are removed.
    pub expires_at: Option<String>,
    /// Times a worker started it (more than 1 when a worker died mid-job).
    pub attempts: u32,
    pub max_attempts: u32,
    pub image_count: u32,
    /// The engine it asked for (`null`: the default).
    pub engine: Option<String>,
    pub fields: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A succeeded job's answer, in `/v1/ocr/batch`'s shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::wire::response::BatchResponse>)]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackView {
    pub url: String,
    /// `pending`, `delivered` or `failed`; `null` until the job ends.
    pub state: Option<&'static str>,
    pub attempts: u32,
    pub error: Option<String>,
}

/// `GET /v1/jobs`: newest first, without results.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
}

pub fn status_url(id: &str) -> String {
    format!("/v1/jobs/{id}")
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        let options: Option<JobOptions> = serde_json::from_str(&job.options).ok();
        let result = job.result.as_deref().and_then(|r| serde_json::from_str(r).ok());
        Self {
            status_url: status_url(&job.id),
            id: job.id,
            status: job.status.as_str(),
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            finished_at: job.finished_at.map(rfc3339),
            expires_at: job.expires_at.map(rfc3339),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            image_count: job.image_count,
            engine: options.as_ref().and_then(|o| o.engine.clone()),
            fields: options.is_some_and(|o| o.fields),
            error: job.error,
            result,
            callback: job.callback.map(|c| CallbackView {
                url: c.url,
                state: c.state.map(|s| s.as_str()),
                attempts: c.attempts,
                error: c.error,
            }),
        }
    }
}

fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}
