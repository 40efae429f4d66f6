//! A Redis that cannot be reached is logged once a minute, and no key or
//! value reaches the log. Alone in its test binary: the `tracing` subscriber
//! that collects the log is the process's own, so no other test's callsites
//! or subscribers can hide an event from it.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hub_cache::{Cache, CacheConfig, CacheKey};

fn key(n: usize) -> CacheKey {
    CacheKey::new(format!("image {n}").as_bytes(), "engine=paddle;model=v5")
}

async fn counted(runs: &AtomicUsize, value: &'static str) -> Result<Bytes, String> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(Bytes::from_static(value.as_bytes()))
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn failures_warn_once_and_without_keys() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber in this binary");

    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    // Nothing listens on `port`: every call fails.
    let a = Cache::new(CacheConfig {
        memory_bytes: 1 << 20,
        ttl: Duration::from_secs(60),
        redis_url: Some(format!("redis://127.0.0.1:{port}")),
        redis_timeout: Duration::from_millis(100),
    })
    .expect("cache");
    let runs = AtomicUsize::new(0);
    // Over 2.5 s: the layer is probed (and fails) again after each 1 s pause.
    for n in 0..25 {
        a.get_or_compute(&key(n), n % 2 == 0, || counted(&runs, "value")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.redis_errors() >= 2, "{} errors", a.redis_errors());
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(logs.matches("WARN").count(), 1, "expected one warning a minute:\n{logs}");
    assert!(logs.contains("shared result cache (Redis) unavailable"), "{logs}");
    for n in 0..25 {
        let hex = key(n).as_str().trim_start_matches("hub:v1:").to_string();
        assert!(!logs.contains(&hex[..16]), "a key reached the log:\n{logs}");
    }
    assert!(!logs.contains("hub:v1:") && !logs.contains("value"), "{logs}");
}
