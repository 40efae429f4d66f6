//! [`JobStore`]: jobs and their images in SQLite (one file, no server) or
//! PostgreSQL (shared by replicas and workers), through sqlx's `Any`
//! driver: one set of queries with `$n` parameters, which both accept.
//! Only claiming differs: PostgreSQL skips rows another worker has locked,
//! SQLite has one writer at a time anyway.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::model::{Callback, CallbackState, Claim, Image, Job, NewJob, Stats, Status, Submitted};
use crate::{JobError, now_ms, schema};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What the store accepts and how long it keeps things.
#[derive(Debug, Clone)]
pub struct JobLimits {
    /// Most jobs waiting to run (429 above).
    pub max_queued: u64,
    /// Most bytes of images and results held (507 above).
    pub max_stored_bytes: u64,
    /// How long a finished job and its result are kept.
    pub ttl: Duration,
    /// Claims before a job whose worker keeps dying is failed.
    pub max_attempts: u32,
}

pub struct JobStore {
    pool: AnyPool,
    backend: Backend,
    limits: JobLimits,
}

/// The columns [`job`] reads, result aside.
const JOB_COLUMNS: &str = "id, owner, status, options, image_count, attempts, max_attempts, created_at, started_at, \
     finished_at, expires_at, error, callback_url, callback_state, callback_attempts, callback_error";

/// The fence of every write by a claim's worker: the job is still running
/// under this worker **and** this attempt, so a worker that lost its lease
/// cannot touch the run of the one that took over. Binds the job id, the
/// worker and the attempt as `$first`, `$first+1`, `$first+2`.
fn still_held(first: usize) -> String {
    format!("id = ${first} AND worker = ${} AND attempts = ${} AND status = 'running'", first + 1, first + 2)
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds [`still_held`]'s job id, worker and attempt, after the statement's
/// own parameters.
fn bind_held<'q>(query: AnyQuery<'q>, worker: &'q str, claim: &'q Claim) -> AnyQuery<'q> {
    query.bind(&claim.id).bind(worker).bind(i64::from(claim.attempt))
}

/// What a job's end sets besides its status: when it ended and expires, no
/// lease, and its callback due now (when it has one).
const ENDED: &str = "finished_at = $1, expires_at = $2, lease_until = NULL, \
     callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, callback_next = $1";

impl JobStore {
    /// Opens (creating when missing) the store at `url`: `sqlite://PATH` or
    /// `postgres://...`. Several processes may open one PostgreSQL store at once.
    pub async fn open(url: &str, limits: JobLimits) -> Result<Self, JobError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(JobError::Corrupt("the jobs URL must start with sqlite:// or postgres://".into()));
        };
        let url = match backend {
            // Create the file on first use.
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(10))
            .connect(&url)
            .await?;
        let store = Self { pool, backend, limits };
        store.create_schema().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How a claiming subquery locks its row: on PostgreSQL concurrent
    /// claimers skip rows another one is taking; SQLite has one writer at a
    /// time anyway.
    fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// The store's clock, in milliseconds since the Unix epoch: PostgreSQL's
    /// for a shared store, so workers on machines whose clocks disagree
    /// still agree on leases, expiry and retries; the process's for SQLite,
    /// which one machine holds.
    pub async fn now(&self) -> Result<i64, JobError> {
        match self.backend {
            Backend::Sqlite => Ok(now_ms()),
            Backend::Postgres => {
                Ok(sqlx::query_scalar("SELECT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)")
                    .fetch_one(&self.pool)
                    .await?)
            }
        }
    }

    async fn create_schema(&self) -> Result<(), JobError> {
        let mut conn = self.pool.acquire().await?;
        match self.backend {
            // WAL: readers do not wait for the writer; it persists in the file.
            Backend::Sqlite => {
                sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
            }
            // Replicas starting together would race on CREATE TABLE.
            Backend::Postgres => {
                sqlx::query("SELECT pg_advisory_lock(7301158)").execute(&mut *conn).await?;
            }
        }
        let created = Self::create_tables(self.backend, &mut conn).await;
        let unlocked = match self.backend {
            Backend::Postgres => sqlx::query("SELECT pg_advisory_unlock(7301158)").execute(&mut *conn).await.map(drop),
            Backend::Sqlite => Ok(()),
        };
        // The tables' error says more than the unlock's.
        created?;
        Ok(unlocked?)
    }

    /// The schema version checked, then the tables.
    async fn create_tables(backend: Backend, conn: &mut sqlx::AnyConnection) -> Result<(), JobError> {
        sqlx::query(schema::VERSION_TABLE).execute(&mut *conn).await?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT version FROM hub_schema WHERE id = 1").fetch_optional(&mut *conn).await?;
        match found {
            Some(found) if found > schema::VERSION => {
                return Err(JobError::NewerSchema { found, known: schema::VERSION });
            }
            Some(_) => {}
            // A new store, or one made before the version was recorded
            // (their tables are version 1's).
            None => {
                sqlx::query("INSERT INTO hub_schema (id, version) VALUES (1, $1)")
                    .bind(schema::VERSION)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        for statement in schema::statements(backend) {
            sqlx::query(&statement).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Queues `new`, or returns the job an earlier submission with the same
    /// owner and idempotency key made (refused when its content differs).
    pub async fn submit(&self, new: NewJob) -> Result<Submitted, JobError> {
        let hash = request_hash(&new);
        if let Some(found) = self.replay(&new, &hash).await? {
            return Ok(found);
        }
        let size: i64 = new.images.iter().map(|i| i.bytes.len() as i64).sum();
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM hub_jobs WHERE status = 'queued'), \
             (SELECT CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) FROM hub_jobs)",
        )
        .fetch_one(&self.pool)
        .await?;
        let (queued, stored): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        if queued as u64 >= self.limits.max_queued {
            return Err(JobError::QueueFull(self.limits.max_queued));
        }
        if (stored + size) as u64 > self.limits.max_stored_bytes {
            return Err(JobError::StorageFull { limit_mb: self.limits.max_stored_bytes / (1024 * 1024) });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        // Read before the transaction takes its connection: the clock may
        // need another one from the pool.
        let created_at = self.now().await?;
        let mut tx = self.pool.begin().await?;
        // The job row first: on SQLite the transaction takes the write lock
        // with its first statement, so it never has to upgrade a read lock.
        let inserted = sqlx::query(
            "INSERT INTO hub_jobs (id, owner, idempotency_key, request_hash, status, options, image_count, \
             stored_bytes, max_attempts, created_at, callback_url) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(&new.owner)
        .bind(new.idempotency_key.clone())
        .bind(&hash)
        .bind(&new.options)
        .bind(new.images.len() as i64)
        .bind(size)
        .bind(i64::from(self.limits.max_attempts))
        .bind(created_at)
        .bind(new.callback_url.clone())
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            let raced = err.as_database_error().is_some_and(|e| e.is_unique_violation());
            drop(tx);
            // Two submissions with one key at once: the other one won.
            return match self.replay(&new, &hash).await? {
                Some(found) if raced => Ok(found),
                _ => Err(err.into()),
            };
        }
        for (idx, image) in new.images.iter().enumerate() {
            sqlx::query("INSERT INTO hub_job_images (job_id, idx, filename, bytes) VALUES ($1, $2, $3, $4)")
                .bind(&id)
                .bind(idx as i64)
                .bind(&image.filename)
                .bind(image.bytes.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let job = self.find(&id, None).await?.ok_or_else(|| JobError::Corrupt("a new job vanished".into()))?;
        Ok(Submitted { job, replayed: false })
    }

    async fn replay(&self, new: &NewJob, hash: &str) -> Result<Option<Submitted>, JobError> {
        let Some(key) = &new.idempotency_key else { return Ok(None) };
        let row = sqlx::query("SELECT id, request_hash FROM hub_jobs WHERE owner = $1 AND idempotency_key = $2")
            .bind(&new.owner)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<String, _>(1)? != hash {
            return Err(JobError::IdempotencyMismatch);
        }
        let id: String = row.try_get(0)?;
        Ok(self.find(&id, None).await?.map(|job| Submitted { job, replayed: true }))
    }

    /// Job `id` with its result, if `owner` may see it and it has not expired.
    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Job>, JobError> {
        self.find(id, Some(owner)).await
    }

    async fn find(&self, id: &str, owner: Option<&str>) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS}, result FROM hub_jobs WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)"
        ))
        .bind(id)
        .bind(self.now().await?)
        .fetch_optional(&self.pool)
        .await?;
        let job = row.map(|row| job(&row, true)).transpose()?;
        Ok(job.filter(|job| owner.is_none_or(|owner| job.owner == owner)))
    }

    /// `owner`'s jobs, newest first, without results.
    pub async fn list(&self, owner: &str, status: Option<Status>, limit: u32) -> Result<Vec<Job>, JobError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM hub_jobs WHERE owner = $1 AND ($2 = '' OR status = $2) \
             AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at DESC, id LIMIT $4"
        ))
        .bind(owner)
        .bind(status.map_or("", Status::as_str))
        .bind(self.now().await?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| job(row, false)).collect()
    }

    /// Cancels a queued job. `Ok(None)`: no such job for `owner`; otherwise
    /// the job as it now is (cancelled, or the status that kept it running).
    pub async fn cancel(&self, owner: &str, id: &str) -> Result<Option<Job>, JobError> {
        let now = self.now().await?;
        let cancelled = sqlx::query(
            // No callback: the client cancelling knows.
            "UPDATE hub_jobs SET status = 'cancelled', finished_at = $1, expires_at = $2 \
             WHERE id = $3 AND owner = $4 AND status = 'queued'",
        )
        .bind(now)
        .bind(now + self.ttl_ms())
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if cancelled {
            self.drop_images(id).await?;
        }
        self.get(owner, id).await
    }

    /// Takes the oldest job that is queued, or whose worker's lease ran out,
    /// for `worker` until `lease` from now.
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>, JobError> {
        let now = self.now().await?;
        let lock = self.skip_locked();
        let row = sqlx::query(&format!(
            "UPDATE hub_jobs SET status = 'running', attempts = attempts + 1, worker = $1, lease_until = $2, \
             started_at = COALESCE(started_at, $3) \
             WHERE id = (SELECT id FROM hub_jobs \
                 WHERE (status = 'queued' OR (status = 'running' AND lease_until < $3)) AND attempts < max_attempts \
                 ORDER BY created_at, id LIMIT 1 {lock}) \
             RETURNING id, attempts, options, created_at"
        ))
        .bind(worker)
        .bind(now + millis(lease))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get(0)?;
        let images = sqlx::query("SELECT filename, bytes FROM hub_job_images WHERE job_id = $1 ORDER BY idx")
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(Image { filename: r.try_get(0)?, bytes: r.try_get(1)? }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(Claim {
            id,
            attempt: u32::try_from(row.try_get::<i64, _>(1)?).unwrap_or(u32::MAX),
            options: row.try_get(2)?,
            images,
            created_at: row.try_get(3)?,
            claimed_at: now,
        }))
    }

    /// Extends `claim`'s lease; `false` when the worker has lost it.
    pub async fn heartbeat(&self, worker: &str, claim: &Claim, lease: Duration) -> Result<bool, JobError> {
        let sql = format!("UPDATE hub_jobs SET lease_until = $1 WHERE {}", still_held(2));
        let done = bind_held(sqlx::query(&sql).bind(self.now().await? + millis(lease)), worker, claim)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Hands `claim` back to the queue unfinished (the worker is stopping),
    /// without counting the attempt. `false` when the worker had lost it.
    pub async fn release(&self, worker: &str, claim: &Claim) -> Result<bool, JobError> {
        let sql = format!(
            "UPDATE hub_jobs SET status = 'queued', attempts = attempts - 1, worker = NULL, lease_until = NULL WHERE {}",
            still_held(1)
        );
        let done = bind_held(sqlx::query(&sql), worker, claim).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records `claim`'s outcome: `Ok(result JSON)` or `Err(reason)`.
    /// `false` when the worker had lost the job (nothing is recorded).
    pub async fn finish(&self, worker: &str, claim: &Claim, outcome: Result<String, String>) -> Result<bool, JobError> {
        let now = self.now().await?;
        let (status, result, error) = match outcome {
            Ok(result) => ("succeeded", Some(result), None),
            Err(reason) => ("failed", None, Some(reason)),
        };
        let stored = result.as_ref().map_or(0, |r| r.len() as i64);
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE hub_jobs SET status = $3, result = $4, error = $5, stored_bytes = $6, {ENDED} WHERE {}",
            still_held(7)
        );
        let own =
            sqlx::query(&sql).bind(now).bind(now + self.ttl_ms()).bind(status).bind(result).bind(error).bind(stored);
        let done = bind_held(own, worker, claim).execute(&mut *tx).await?.rows_affected() == 1;
        if done {
            sqlx::query("DELETE FROM hub_job_images WHERE job_id = $1").bind(&claim.id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Fails the jobs whose workers lost their lease on the last allowed
    /// attempt; returns how many.
    pub async fn fail_exhausted(&self) -> Result<u64, JobError> {
        let now = self.now().await?;
        let ids: Vec<String> = sqlx::query(&format!(
            "UPDATE hub_jobs SET status = 'failed', \
             error = 'its worker stopped before finishing, ' || CAST(attempts AS TEXT) || ' times', {ENDED} \
             WHERE status = 'running' AND lease_until < $1 AND attempts >= max_attempts RETURNING id"
        ))
        .bind(now)
        .bind(now + self.ttl_ms())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        for id in &ids {
            self.drop_images(id).await?;
        }
        Ok(ids.len() as u64)
    }

    /// Removes the jobs past their retention; returns how many.
    pub async fn expire(&self) -> Result<u64, JobError> {
        let now = self.now().await?;
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM hub_jobs WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        // Images of jobs that ended are already gone; this catches any left
        // by a crash between a job's end and its images' removal.
        sqlx::query("DELETE FROM hub_job_images WHERE job_id NOT IN (SELECT id FROM hub_jobs WHERE status IN ('queued', 'running'))")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected())
    }

    async fn drop_images(&self, id: &str) -> Result<(), JobError> {
        sqlx::query("DELETE FROM hub_job_images WHERE job_id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Takes one due callback for delivery: the job with its result, its
    /// next try pushed `lease` ahead so no other process sends it meanwhile.
    pub async fn claim_callback(&self, lease: Duration) -> Result<Option<Job>, JobError> {
        let now = self.now().await?;
        let lock = self.skip_locked();
        let row = sqlx::query(&format!(
            "UPDATE hub_jobs SET callback_next = $1, callback_attempts = callback_attempts + 1 \
             WHERE id = (SELECT id FROM hub_jobs WHERE callback_state = 'pending' AND callback_next <= $2 \
                 ORDER BY callback_next LIMIT 1 {lock}) \
             RETURNING id"
        ))
        .bind(now + millis(lease))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => self.find(&row.try_get::<String, _>(0)?, None).await,
            None => Ok(None),
        }
    }

    /// Records a delivery attempt: delivered, retry at `retry_at`, or given up
    /// (`retry_at` `None` with an error).
    pub async fn callback_attempted(
        &self,
        id: &str,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<(), JobError> {
        let state = match (error, retry_at) {
            (None, _) => CallbackState::Delivered,
            (Some(_), Some(_)) => CallbackState::Pending,
            (Some(_), None) => CallbackState::Failed,
        };
        sqlx::query("UPDATE hub_jobs SET callback_state = $1, callback_error = $2, callback_next = $3 WHERE id = $4")
            .bind(state.as_str())
            .bind(error.map(str::to_owned))
            .bind(retry_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts per status, the oldest queued job and the bytes held.
    pub async fn stats(&self) -> Result<Stats, JobError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*), MIN(created_at), CAST(COALESCE(SUM(stored_bytes), 0) AS BIGINT) \
             FROM hub_jobs GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut stats = Stats { by_status: Status::ALL.iter().map(|s| (*s, 0)).collect(), ..Stats::default() };
        for row in rows {
            let Some(status) = Status::parse(&row.try_get::<String, _>(0)?) else { continue };
            let count = row.try_get::<i64, _>(1)? as u64;
            if let Some(entry) = stats.by_status.iter_mut().find(|(s, _)| *s == status) {
                entry.1 = count;
            }
            if status == Status::Queued {
                stats.oldest_queued_at = row.try_get(2)?;
            }
            stats.stored_bytes += row.try_get::<i64, _>(3)? as u64;
        }
        Ok(stats)
    }

    fn ttl_ms(&self) -> i64 {
        millis(self.limits.ttl)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// What makes two submissions the same one: options, callback and images.
fn request_hash(new: &NewJob) -> String {
    let mut hash = Sha256::new();
    for part in [new.options.as_bytes(), new.callback_url.as_deref().unwrap_or("").as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    for image in &new.images {
        hash.update((image.filename.len() as u64).to_le_bytes());
        hash.update(image.filename.as_bytes());
        hash.update(Sha256::digest(&image.bytes));
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn job(row: &AnyRow, with_result: bool) -> Result<Job, JobError> {
    let status: String = row.try_get("status")?;
    let status = Status::parse(&status).ok_or_else(|| JobError::Corrupt(format!("unknown status {status:?}")))?;
    let count = |name: &str| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i64, _>(name)?).unwrap_or(u32::MAX))
    };
    let callback = match row.try_get::<Option<String>, _>("callback_url")? {
        Some(url) => Some(Callback {
            url,
            state: row.try_get::<Option<String>, _>("callback_state")?.as_deref().and_then(CallbackState::parse),
            attempts: count("callback_attempts")?,
            error: row.try_get("callback_error")?,
        }),
        None => None,
    };
    Ok(Job {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        status,
        options: row.try_get("options")?,
        image_count: count("image_count")?,
        attempts: count("attempts")?,
        max_attempts: count("max_attempts")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        expires_at: row.try_get("expires_at")?,
        error: row.try_get("error")?,
        result: if with_result { row.try_get("result")? } else { None },
        callback,
    })
}
