//! The store's two tables, created when a store opens, and the schema
//! version they are at. The column types are the ones both SQLite and
//! PostgreSQL accept; only the image bytes differ.

use crate::store::Backend;

/// The version of the tables below, recorded in `hub_schema` when a store is
/// created. A build that changes them raises it and brings older stores up
/// at open; a build finding a higher one refuses the store rather than
/// write rows a newer build would misread (a rollback sharing PostgreSQL
/// with the release it rolls back).
pub const VERSION: i64 = 1;

/// Where the version is kept: one row, created before anything else so a
/// newer store is refused before this build touches its tables.
pub const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS hub_schema (id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)";

/// Statements run in order at open, once the version is known to be this
/// build's; each is idempotent.
pub fn statements(backend: Backend) -> Vec<String> {
    let blob = match backend {
        Backend::Sqlite => "BLOB",
        Backend::Postgres => "BYTEA",
    };
    vec![
        "CREATE TABLE IF NOT EXISTS hub_jobs (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            idempotency_key TEXT,
            request_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            options TEXT NOT NULL,
            image_count BIGINT NOT NULL,
            -- images while the job waits or runs, then its result
            stored_bytes BIGINT NOT NULL,
            attempts BIGINT NOT NULL DEFAULT 0,
            max_attempts BIGINT NOT NULL,
            worker TEXT,
            lease_until BIGINT,
            created_at BIGINT NOT NULL,
            started_at BIGINT,
            finished_at BIGINT,
            expires_at BIGINT,
            error TEXT,
            result TEXT,
            callback_url TEXT,
            callback_state TEXT,
            callback_attempts BIGINT NOT NULL DEFAULT 0,
            callback_next BIGINT,
            callback_error TEXT,
            UNIQUE (owner, idempotency_key)
        )"
        .to_owned(),
        "CREATE INDEX IF NOT EXISTS hub_jobs_by_status ON hub_jobs (status, created_at)".to_owned(),
        "CREATE INDEX IF NOT EXISTS hub_jobs_by_owner ON hub_jobs (owner, created_at)".to_owned(),
        "CREATE INDEX IF NOT EXISTS hub_jobs_callbacks ON hub_jobs (callback_state, callback_next)".to_owned(),
        format!(
            "CREATE TABLE IF NOT EXISTS hub_job_images (
                job_id TEXT NOT NULL,
                idx BIGINT NOT NULL,
                filename TEXT NOT NULL,
                bytes {blob} NOT NULL,
                PRIMARY KEY (job_id, idx)
            )"
        ),
    ]
}
