//! Result cache for OCR answers, in front of the worker pool. No HTTP here.
//!
//! - `key`: [`CacheKey`], SHA-256 of the image bytes and of the answer's identity (engine, model, profile,
//!   alphabet, options...) under a version prefix.
//! - `memory`: the in-process layer (moka), bounded by bytes (key + value), with a time-to-live. On by default.
//! - `shared`: the optional Redis layer shared by replicas; every call bounded by a short timeout, failures
//!   counted, logged at most once a minute, and never passed on to the request.
//! - this file: [`Cache`], the layers in order (memory, then Redis, then the computation), single-flight, metrics.
//!
//! Values are opaque bytes (the server stores the compact JSON of its answer).

mod key;
mod memory;
mod shared;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use key::CacheKey;
use memory::MemoryLayer;
use shared::SharedLayer;

/// Metric names.
mod metric {
    pub(crate) const REQUESTS: &str = "ocr_cache_requests_total";
    pub(crate) const REDIS_ERRORS: &str = "ocr_cache_redis_errors_total";
    pub(crate) const ENTRIES: &str = "ocr_cache_entries";
    pub(crate) const BYTES: &str = "ocr_cache_bytes";
}

/// Describes the cache's metrics to the installed recorder; call once at start-up.
pub fn describe_metrics() {
    metrics::describe_counter!(
        metric::REQUESTS,
        metrics::Unit::Count,
        "Cache lookups by layer (memory, redis) and outcome: hit, miss, bypass (client sent no-cache), \
         coalesced (memory: waited for a concurrent identical request), error (redis: call failed or timed out), \
         skipped (redis: not tried, it failed within the last second)"
    );
    metrics::describe_counter!(
        metric::REDIS_ERRORS,
        metrics::Unit::Count,
        "Redis calls that failed (reason=error) or outran the cache timeout (reason=timeout), by op (get, set); \
         the request went on without the shared layer"
    );
    metrics::describe_gauge!(metric::ENTRIES, metrics::Unit::Count, "Entries in the cache layer");
    metrics::describe_gauge!(metric::BYTES, metrics::Unit::Bytes, "Weighted size (keys + values) of the cache layer");
}

/// Cache settings; see [`Default`] for the defaults.
#[derive(Clone)]
pub struct CacheConfig {
    /// Bound of the in-process layer in bytes (keys + values); 0 disables it.
    pub memory_bytes: u64,
    /// Time-to-live of an entry, in memory and in Redis. Must be at least a millisecond.
    pub ttl: Duration,
    /// `redis://host:port[/db]` of the shared layer; `None` disables it.
    pub redis_url: Option<String>,
    /// Bound on every Redis call.
    pub redis_timeout: Duration,
}

impl Default for CacheConfig {
    /// 64 MiB in memory, one hour, no Redis, 50 ms.
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            ttl: Duration::from_secs(3600),
            redis_url: None,
            redis_timeout: Duration::from_millis(50),
        }
    }
}

impl fmt::Debug for CacheConfig {
    /// The URL may carry a password: only whether it is set is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheConfig")
            .field("memory_bytes", &self.memory_bytes)
            .field("ttl", &self.ttl)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("redis_timeout", &self.redis_timeout)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache TTL must be at least 1 ms")]
    ZeroTtl,
    #[error("the shared cache (Redis) must be created inside a Tokio runtime")]
    NoRuntime,
    #[error("shared cache (Redis) set-up: {0}")]
    Redis(String),
}

/// Where a hit was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Memory,
    Redis,
}

/// How a [`Cache::get_or_compute`] answer was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Found in a layer without computing; includes waiting for a concurrent identical request's result.
    Hit(Layer),
    /// Computed by this request, then stored.
    Miss,
    /// Computed because the caller asked to skip reading (`Cache-Control: no-cache`), then stored.
    Bypass,
}

impl CacheStatus {
    /// `"hit"`, `"miss"` or `"bypass"` (e.g. for an `X-Cache` header).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit(_) => "hit",
            Self::Miss => "miss",
            Self::Bypass => "bypass",
        }
    }
}

/// Sizes of the in-process layer, as returned by [`Cache::sample`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub entries: u64,
    /// Keys + values, the quantity bounded by [`CacheConfig::memory_bytes`].
    pub bytes: u64,
}

/// The layered cache. Cloning is cheap (an `Arc`); share one across handlers.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    memory: Option<MemoryLayer>,
    shared: Option<SharedLayer>,
}

impl Cache {
    /// Builds the layers. A malformed Redis URL is an error; an unreachable Redis is not (it is connected in the
    /// background and skipped while down). With a Redis URL this must be called inside a Tokio runtime.
    pub fn new(config: CacheConfig) -> Result<Self, CacheError> {
        if config.ttl.as_millis() == 0 {
            return Err(CacheError::ZeroTtl);
        }
        let shared = match &config.redis_url {
            Some(url) => {
                tokio::runtime::Handle::try_current().map_err(|_| CacheError::NoRuntime)?;
                Some(SharedLayer::connect(url, config.ttl, config.redis_timeout)?)
            }
            None => None,
        };
        let memory = MemoryLayer::new(config.memory_bytes, config.ttl);
        Ok(Self { inner: Arc::new(Inner { memory, shared }) })
    }

    /// The cached answer for `key`, or `compute`'s, stored in every layer.
    ///
    /// Order: memory → Redis (on a hit, memory is filled) → `compute` (the result is written to memory, then to
    /// Redis within the timeout). Concurrent calls for the same uncached key are coalesced: one runs the Redis
    /// lookup and `compute`, the others wait and get its result ([`CacheStatus::Hit`]`(Memory)`). This needs the
    /// memory layer; without it every call looks up Redis and computes on its own.
    ///
    /// `bypass` (the client sent `Cache-Control: no-cache`) skips reading and coalescing, computes, and overwrites
    /// the entry in every layer.
    ///
    /// Errors are never cached: the key stays empty and the next call computes again. Calls coalesced onto a
    /// failed computation all get that same error (hence the `Arc`); they do not retry.
    ///
    /// Redis never causes an error here: when it fails or is slow the call goes on as if it were a miss.
    pub async fn get_or_compute<F, Fut, E>(
        &self,
        key: &CacheKey,
        bypass: bool,
        compute: F,
    ) -> Result<(Bytes, CacheStatus), Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
        E: Send + Sync + 'static,
    {
        let Inner { memory, shared } = &*self.inner;
        if bypass {
            if memory.is_some() {
                count("memory", "bypass");
            }
            if shared.is_some() {
                count("redis", "bypass");
            }
            let value = compute().await.map_err(Arc::new)?;
            if let Some(memory) = memory {
                memory.cache.insert(key.clone(), value.clone()).await;
            }
            if let Some(shared) = shared {
                shared.put(key, &value).await;
            }
            return Ok((value, CacheStatus::Bypass));
        }

        let Some(memory) = memory else {
            if let Some(value) = self.shared_get(key).await {
                return Ok((value, CacheStatus::Hit(Layer::Redis)));
            }
            let value = compute().await.map_err(Arc::new)?;
            if let Some(shared) = shared {
                shared.put(key, &value).await;
            }
            return Ok((value, CacheStatus::Miss));
        };

        if let Some(value) = memory.cache.get(key).await {
            count("memory", "hit");
            return Ok((value, CacheStatus::Hit(Layer::Memory)));
        }
        // Set by the lookup below only in the call that runs it (the others wait for its value).
        let mut from_redis = false;
        let entry = memory
            .cache
            .entry_by_ref(key)
            .or_try_insert_with(async {
                if let Some(value) = self.shared_get(key).await {
                    from_redis = true;
                    return Ok(value);
                }
                compute().await
            })
            .await;
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                count("memory", "miss");
                return Err(e);
            }
        };
        if !entry.is_fresh() {
            // Another call inserted it between our `get` and now, or we waited for its computation.
            count("memory", "coalesced");
            return Ok((entry.into_value(), CacheStatus::Hit(Layer::Memory)));
        }
        count("memory", "miss");
        let value = entry.into_value();
        if from_redis {
            return Ok((value, CacheStatus::Hit(Layer::Redis)));
        }
        // Written after the memory insert so coalesced callers do not wait for Redis.
        if let Some(shared) = shared {
            shared.put(key, &value).await;
        }
        Ok((value, CacheStatus::Miss))
    }

    /// Updates the `ocr_cache_entries` / `ocr_cache_bytes` gauges of the memory layer and returns them. Call at
    /// scrape time: it first applies pending evictions, which is cheap but not free.
    pub async fn sample(&self) -> MemoryStats {
        match &self.inner.memory {
            Some(memory) => memory.sample().await,
            None => MemoryStats::default(),
        }
    }

    /// Redis calls that failed or timed out since start (0 without Redis), e.g. for a health or status page.
    pub fn redis_errors(&self) -> u64 {
        self.inner.shared.as_ref().map_or(0, SharedLayer::errors)
    }

    async fn shared_get(&self, key: &CacheKey) -> Option<Bytes> {
        self.inner.shared.as_ref()?.get(key).await
    }
}

/// One lookup in `layer` with `outcome` (see [`describe_metrics`]).
fn count(layer: &'static str, outcome: &'static str) {
    metrics::counter!(metric::REQUESTS, "layer" => layer, "outcome" => outcome).increment(1);
}
