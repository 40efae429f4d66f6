//! The in-process layer: a moka cache bounded by bytes, with a time-to-live.

use std::time::Duration;

use bytes::Bytes;

use crate::{CacheKey, MemoryStats, metric};

/// Entries weigh their key plus their value in bytes; moka keeps the total weight within the capacity.
pub(crate) struct MemoryLayer {
    pub(crate) cache: moka::future::Cache<CacheKey, Bytes>,
}

impl MemoryLayer {
    /// `None` when `max_bytes` is 0 (layer disabled).
    pub(crate) fn new(max_bytes: u64, ttl: Duration) -> Option<Self> {
        (max_bytes > 0).then(|| Self {
            cache: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &CacheKey, value: &Bytes| {
                    u32::try_from(key.as_str().len() + value.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(ttl)
                .build(),
        })
    }

    /// Applies pending evictions first, so the numbers are the ones the bound is enforced on.
    pub(crate) async fn sample(&self) -> MemoryStats {
        self.cache.run_pending_tasks().await;
        let stats = MemoryStats { entries: self.cache.entry_count(), bytes: self.cache.weighted_size() };
        metrics::gauge!(metric::ENTRIES, "layer" => "memory").set(stats.entries as f64);
        metrics::gauge!(metric::BYTES, "layer" => "memory").set(stats.bytes as f64);
        stats
    }
}
