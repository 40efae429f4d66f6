//! The job store and its workers: `serve` and `worker` share these flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hub_jobs::{CallbackPolicy, JobLimits};

#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Where the embedded job store keeps its SQLite file (`jobs.sqlite3`),
    /// created when missing. One process's store: for several replicas use --jobs-url.
    #[arg(long, env = "HUB_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// A job store shared by replicas and workers, `postgres://user:password@host:5432/db`
    /// (or `sqlite:///path/jobs.sqlite3`); replaces --data-dir.
    #[arg(long, env = "HUB_JOBS_URL", hide_env_values = true)]
    pub jobs_url: Option<String>,
    /// Hours a finished job's result is kept (its images go when it ends).
    #[arg(long, env = "HUB_JOB_TTL_HOURS", default_value_t = 24.0)]
    pub job_ttl_hours: f64,
    /// Most jobs waiting to run; more submissions get 429.
    #[arg(long, env = "HUB_JOB_MAX_QUEUED", default_value_t = 1000)]
    pub job_max_queued: u64,
    /// Most MiB of images and results the store holds; more submissions get 507.
    #[arg(long, env = "HUB_JOB_MAX_STORED_MB", default_value_t = 1024)]
    pub job_max_stored_mb: u64,
    /// Times a job is started before it is failed (a worker that dies
    /// mid-job loses its lease and another worker starts it again).
    #[arg(long, env = "HUB_JOB_MAX_ATTEMPTS", default_value_t = 3)]
    pub job_max_attempts: u32,
    /// Seconds a worker holds a job without renewing its lease (renewed every third of it).
    #[arg(long, env = "HUB_JOB_LEASE_SECS", default_value_t = 30)]
    pub job_lease_secs: u64,
    /// Images from jobs read at once. Default: half the workers (at least
    /// one) in `serve`, so synchronous requests always find a worker; all
    /// of them in `worker`. 0: take submissions, leave them to other processes.
    #[arg(long, env = "HUB_JOB_WORKERS")]
    pub job_workers: Option<usize>,
    /// Hosts (`host` or `host:port`) a job's `callback_url` may name,
    /// comma-separated. Empty: callbacks are refused.
    #[arg(long, env = "HUB_CALLBACK_HOSTS", value_delimiter = ',')]
    pub callback_hosts: Vec<String>,
    /// Key of the callbacks' `X-Hub-Signature-256` HMAC; needed with --callback-hosts.
    #[arg(long, env = "HUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Seconds a failing callback is retried (with backoff) before it is given up.
    #[arg(long, env = "HUB_CALLBACK_RETRY_SECS", default_value_t = 3600)]
    pub callback_retry_secs: u64,
}

impl JobArgs {
    /// The store's URL: --jobs-url, or the SQLite file under --data-dir
    /// (the directory is created).
    pub fn url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.jobs_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating --data-dir {}", self.data_dir.display()))?;
        Ok(format!("sqlite://{}", self.data_dir.join("jobs.sqlite3").display()))
    }

    pub fn limits(&self) -> anyhow::Result<JobLimits> {
        anyhow::ensure!(
            self.job_ttl_hours.is_finite() && self.job_ttl_hours > 0.0,
            "--job-ttl-hours must be a positive number of hours"
        );
        anyhow::ensure!(self.job_max_attempts >= 1, "--job-max-attempts must be at least 1");
        Ok(JobLimits {
            max_queued: self.job_max_queued,
            max_stored_bytes: self.job_max_stored_mb.saturating_mul(1024 * 1024),
            ttl: Duration::from_secs_f64(self.job_ttl_hours * 3600.0),
            max_attempts: self.job_max_attempts,
        })
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.job_lease_secs.max(1))
    }

    /// The callback allow-list; hosts without a signing secret are refused,
    /// so every callback a receiver gets can be verified.
    pub fn callbacks(&self) -> anyhow::Result<(CallbackPolicy, Option<Vec<u8>>)> {
        let policy = CallbackPolicy::new(&self.callback_hosts);
        let secret = self.webhook_secret.as_ref().filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec());
        anyhow::ensure!(!policy.enabled() || secret.is_some(), "--callback-hosts needs --webhook-secret");
        Ok((policy, secret))
    }
}
