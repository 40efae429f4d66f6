//! The in-process layer alone (no Redis): single-flight, errors, bypass, TTL, byte bound, configuration.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hub_cache::{Cache, CacheConfig, CacheError, CacheKey, CacheStatus, Layer};

fn memory_cache(memory_bytes: u64, ttl: Duration) -> Cache {
    Cache::new(CacheConfig { memory_bytes, ttl, ..CacheConfig::default() }).expect("cache")
}

fn key(n: usize) -> CacheKey {
    CacheKey::new(format!("image {n}").as_bytes(), "engine=paddle")
}

/// A computation that counts its runs and answers `value`.
async fn counted(runs: &AtomicUsize, value: &'static str) -> Result<Bytes, String> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(Bytes::from_static(value.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_compute_once() {
    let cache = memory_cache(1 << 20, Duration::from_secs(60));
    let runs = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_compute(&key(1), false, || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, String>(Bytes::from_static(b"answer"))
                    })
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let (value, status) = task.await.expect("task").expect("computed");
        assert_eq!(value, "answer");
        statuses.push(status);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the computation ran more than once");
    assert_eq!(statuses.iter().filter(|s| **s == CacheStatus::Miss).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| matches!(s, CacheStatus::Miss | CacheStatus::Hit(Layer::Memory))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hit_after_miss() {
    let cache = memory_cache(1 << 20, Duration::from_secs(60));
    let runs = AtomicUsize::new(0);
    let first = cache.get_or_compute(&key(1), false, || counted(&runs, "a")).await.unwrap();
    assert_eq!(first, (Bytes::from_static(b"a"), CacheStatus::Miss));
    let second = cache.get_or_compute(&key(1), false, || counted(&runs, "b")).await.unwrap();
    assert_eq!(second, (Bytes::from_static(b"a"), CacheStatus::Hit(Layer::Memory)));
    let other = CacheKey::new(b"image 1", "engine=tesseract");
    let answer = cache.get_or_compute(&other, false, || counted(&runs, "c")).await.unwrap();
    assert_eq!(answer, (Bytes::from_static(b"c"), CacheStatus::Miss));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_computation_is_not_cached() {
    let cache = memory_cache(1 << 20, Duration::from_secs(60));
    let runs = Arc::new(AtomicUsize::new(0));
    // Five concurrent callers share one failing run, and all see its error.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_compute(&key(1), false, || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Err::<Bytes, _>("engine failed".to_string())
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        let error = task.await.expect("task").expect_err("the failure is returned");
        assert_eq!(*error, "engine failed");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let runs = AtomicUsize::new(0);
    let after = cache.get_or_compute(&key(1), false, || counted(&runs, "ok")).await.unwrap();
    assert_eq!(after, (Bytes::from_static(b"ok"), CacheStatus::Miss), "the failure was cached");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.sample().await.entries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_recomputes_and_overwrites() {
    let cache = memory_cache(1 << 20, Duration::from_secs(60));
    let runs = AtomicUsize::new(0);
    let first = cache.get_or_compute(&key(1), false, || counted(&runs, "old")).await.unwrap();
    assert_eq!(first.1, CacheStatus::Miss);
    let fresh = cache.get_or_compute(&key(1), true, || counted(&runs, "new")).await.unwrap();
    assert_eq!(fresh, (Bytes::from_static(b"new"), CacheStatus::Bypass));
    let next = cache.get_or_compute(&key(1), false, || counted(&runs, "unused")).await.unwrap();
    assert_eq!(next, (Bytes::from_static(b"new"), CacheStatus::Hit(Layer::Memory)));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // A bypass of an uncached key stores it too.
    let stored = cache.get_or_compute(&key(2), true, || counted(&runs, "two")).await.unwrap();
    assert_eq!(stored.1, CacheStatus::Bypass);
    let read = cache.get_or_compute(&key(2), false, || counted(&runs, "unused")).await.unwrap();
    assert_eq!(read, (Bytes::from_static(b"two"), CacheStatus::Hit(Layer::Memory)));
    // A failed bypass leaves the stored value alone.
    let failed = cache.get_or_compute(&key(2), true, || async { Err::<Bytes, _>("down".to_string()) }).await;
    assert_eq!(*failed.unwrap_err(), "down");
    let kept = cache.get_or_compute(&key(2), false, || counted(&runs, "unused")).await.unwrap();
    assert_eq!(kept.0, "two");
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_after_ttl() {
    let cache = memory_cache(1 << 20, Duration::from_millis(300));
    let runs = AtomicUsize::new(0);
    assert_eq!(cache.get_or_compute(&key(1), false, || counted(&runs, "a")).await.unwrap().1, CacheStatus::Miss);
    let hit = cache.get_or_compute(&key(1), false, || counted(&runs, "a")).await.unwrap();
    assert_eq!(hit.1, CacheStatus::Hit(Layer::Memory));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expired = cache.get_or_compute(&key(1), false, || counted(&runs, "b")).await.unwrap();
    assert_eq!(expired, (Bytes::from_static(b"b"), CacheStatus::Miss));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_size_stays_within_the_byte_bound() {
    const BOUND: u64 = 10_000;
    let cache = memory_cache(BOUND, Duration::from_secs(60));
    let value = Bytes::from(vec![b'x'; 1_000]);
    let key_len = key(0).as_str().len() as u64;
    for n in 0..50 {
        let value = value.clone();
        cache.get_or_compute(&key(n), false, || async move { Ok::<_, String>(value) }).await.unwrap();
    }
    let stats = cache.sample().await;
    assert!(stats.bytes <= BOUND, "{stats:?} over {BOUND} bytes");
    assert!(stats.entries > 0 && stats.entries < 50, "{stats:?}");
    assert_eq!(stats.bytes, stats.entries * (key_len + 1_000), "weight = key + value");

    // A value larger than the whole bound is answered but not kept.
    let huge = Bytes::from(vec![0; BOUND as usize + 1]);
    let (answer, status) = cache.get_or_compute(&key(99), false, || async { Ok::<_, String>(huge) }).await.unwrap();
    assert_eq!((answer.len() as u64, status), (BOUND + 1, CacheStatus::Miss));
    assert!(cache.sample().await.bytes <= BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_bytes_disables_the_memory_layer() {
    let cache = memory_cache(0, Duration::from_secs(60));
    let runs = AtomicUsize::new(0);
    for _ in 0..3 {
        let answer = cache.get_or_compute(&key(1), false, || counted(&runs, "a")).await.unwrap();
        assert_eq!(answer.1, CacheStatus::Miss);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(cache.sample().await, Default::default());
    assert_eq!(cache.redis_errors(), 0);
}

#[test]
fn configuration_errors() {
    let zero_ttl = Cache::new(CacheConfig { ttl: Duration::ZERO, ..CacheConfig::default() });
    assert!(matches!(zero_ttl, Err(CacheError::ZeroTtl)));
    // Outside a runtime the Redis connection cannot be driven.
    let no_runtime = CacheConfig { redis_url: Some("redis://127.0.0.1:6379".into()), ..CacheConfig::default() };
    assert!(matches!(Cache::new(no_runtime), Err(CacheError::NoRuntime)));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _guard = runtime.enter();
    for url in ["not a url", "http://127.0.0.1:6379", "redis://127.0.0.1:notaport"] {
        let config = CacheConfig { redis_url: Some(url.into()), ..CacheConfig::default() };
        assert!(matches!(Cache::new(config), Err(CacheError::Redis(_))), "{url} accepted");
    }
}

#[test]
fn debug_hides_the_redis_url() {
    let config = CacheConfig { redis_url: Some("redis://:secret@cache:6379".into()), ..CacheConfig::default() };
    let shown = format!("{config:?}");
    assert!(!shown.contains("secret") && shown.contains("<set>"), "{shown}");
}
