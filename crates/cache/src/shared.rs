//! The shared layer: Redis, read and written by every replica, never allowed to fail or stall a request.
//!
//! Every call is bounded by the configured timeout. A failure (error reply, I/O error, timeout) is counted, logged
//! at most once a minute, and the request goes on without Redis. After a connection failure or a timeout the layer
//! is skipped for [`RETRY_AFTER`], so while Redis is down requests pay nothing instead of a timeout each; the
//! connection manager reconnects in the background and the first request after the pause probes it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{CacheError, CacheKey, count, metric};

/// How long the layer is skipped after Redis could not be reached.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// At most one warning per this period; the others are counted into the next one.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// `last_warn_ms` before the first warning.
const NEVER: u64 = u64::MAX;

pub(crate) struct SharedLayer {
    conn: ConnectionManager,
    timeout: Duration,
    ttl_ms: u64,
    /// Origin of the millisecond clocks below (atomics cannot hold an `Instant`).
    epoch: Instant,
    skip_until_ms: AtomicU64,
    last_warn_ms: AtomicU64,
    suppressed_warnings: AtomicU64,
    errors: AtomicU64,
}

impl SharedLayer {
    /// Parses the URL and returns at once: the connection is made in the background, so start-up neither waits
    /// for Redis nor fails when it is down. Must run inside a Tokio runtime.
    pub(crate) fn connect(url: &str, ttl: Duration, timeout: Duration) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::Redis(e.to_string()))?;
        // Short, bounded reconnection attempts: when they are exhausted the next request (after RETRY_AFTER)
        // starts a new round, so a Redis that comes back is found within a couple of seconds.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(3)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1))
            .set_connection_timeout(Some(Duration::from_secs(1)));
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|e| CacheError::Redis(e.to_string()))?;
        // The lazy connection only progresses while polled; a background PING opens it before the first request.
        // Its failure surfaces (counted and logged) on the first request that uses Redis.
        let mut warm_up = conn.clone();
        tokio::spawn(async move {
            let _: redis::RedisResult<()> = redis::cmd("PING").query_async(&mut warm_up).await;
        });
        Ok(Self {
            conn,
            timeout,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
            last_warn_ms: AtomicU64::new(NEVER),
            suppressed_warnings: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// The stored value, or `None` on a miss or when Redis is unavailable (the caller computes either way).
    pub(crate) async fn get(&self, key: &CacheKey) -> Option<Bytes> {
        if self.paused() {
            count("redis", "skipped");
            return None;
        }
        let outcome = self.call::<Option<Bytes>>("get", redis::cmd("GET").arg(key.as_str())).await;
        let outcome_label = match &outcome {
            Some(Some(_)) => "hit",
            Some(None) => "miss",
            None => "error",
        };
        count("redis", outcome_label);
        outcome.flatten()
    }

    /// Stores `value` with the cache's TTL; failures are counted and otherwise ignored.
    pub(crate) async fn put(&self, key: &CacheKey, value: &Bytes) {
        if self.paused() {
            return;
        }
        // PX is EX in milliseconds: the TTL need not be whole seconds.
        let set = redis::cmd("SET").arg(key.as_str()).arg(value.as_ref()).arg("PX").arg(self.ttl_ms).to_owned();
        let _: Option<()> = self.call("set", &set).await;
    }

    pub(crate) fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    async fn call<T: redis::FromRedisValue>(&self, op: &'static str, cmd: &redis::Cmd) -> Option<T> {
        // The manager is an `Arc`; commands need `&mut`, so each call works on its own handle.
        let mut conn = self.conn.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(e)) => {
                // An error reply (e.g. OOM when Redis is full) says the server is up: keep trying it.
                self.failed(op, "error", e.is_io_error(), &e);
                None
            }
            Err(_) => {
                self.failed(op, "timeout", true, &"no answer within the cache timeout");
                None
            }
        }
    }

    fn failed(&self, op: &'static str, reason: &'static str, unreachable: bool, detail: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(metric::REDIS_ERRORS, "op" => op, "reason" => reason).increment(1);
        let now = self.now_ms();
        if unreachable {
            self.skip_until_ms.fetch_max(now + RETRY_AFTER.as_millis() as u64, Ordering::Relaxed);
        }
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        let due = last == NEVER || now >= last + WARN_EVERY.as_millis() as u64;
        if due && self.last_warn_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            let suppressed = self.suppressed_warnings.swap(0, Ordering::Relaxed);
            // No key, value or URL here: only what failed and why.
            tracing::warn!(
                op,
                reason,
                error = %detail,
                suppressed_since_last_warning = suppressed,
                "shared result cache (Redis) unavailable; requests go on without it"
            );
        } else {
            self.suppressed_warnings.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn paused(&self) -> bool {
        self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}
