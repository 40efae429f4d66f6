//! Memory and Redis layers together, against a real `redis-server` started per test on a free loopback port.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hub_cache::{Cache, CacheConfig, CacheKey, CacheStatus, Layer};

/// A `redis-server` child process, killed (and its directory removed) on drop.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    fn start() -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
        Self::start_on(port)
    }

    /// A server on `port`, answering PING when this returns.
    fn start_on(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("hub-cache-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self { port, dir, child: None };
        server.restart();
        server
    }

    /// Starts the server again (on the same port, empty) after [`kill`](Self::kill).
    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let spawned = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!("redis-server is not installed: install `redis-server` (Debian: apt-get install redis-server)")
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("redis-server on port {port} exited at start-up: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server on port {port} did not answer PING within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else { return false };
        stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (e.g. `STOP`, `CONT`) to the server.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}: {status}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A replica's cache. The timeout is generous where a test needs Redis to answer on a loaded machine.
fn replica(url: &str, timeout: Duration) -> Cache {
    Cache::new(CacheConfig {
        memory_bytes: 1 << 20,
        ttl: Duration::from_secs(60),
        redis_url: Some(url.to_string()),
        redis_timeout: timeout,
    })
    .expect("cache")
}

const PATIENT: Duration = Duration::from_millis(500);

fn key(n: usize) -> CacheKey {
    CacheKey::new(format!("image {n}").as_bytes(), "engine=paddle;model=v5")
}

async fn counted(runs: &AtomicUsize, value: &'static str) -> Result<Bytes, String> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(Bytes::from_static(value.as_bytes()))
}

/// Fails the test if called: the answer must come from a cache layer.
async fn must_not_compute() -> Result<Bytes, String> {
    panic!("computed although the answer was cached")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_answers() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis.url(), PATIENT), replica(&redis.url(), PATIENT));
    let runs = AtomicUsize::new(0);
    let computed = a.get_or_compute(&key(1), false, || counted(&runs, "answer")).await.unwrap();
    assert_eq!(computed, (Bytes::from_static(b"answer"), CacheStatus::Miss));
    let shared = b.get_or_compute(&key(1), false, must_not_compute).await.unwrap();
    assert_eq!(shared, (Bytes::from_static(b"answer"), CacheStatus::Hit(Layer::Redis)));
    // The Redis hit filled B's memory.
    let local = b.get_or_compute(&key(1), false, must_not_compute).await.unwrap();
    assert_eq!(local.1, CacheStatus::Hit(Layer::Memory));
    // Another identity is another entry, in Redis too.
    let other = CacheKey::new(b"image 1", "engine=tesseract;model=5.5");
    assert_eq!(b.get_or_compute(&other, false, || counted(&runs, "t")).await.unwrap().1, CacheStatus::Miss);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(a.redis_errors() + b.redis_errors(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_compute_once_across_layers() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis.url(), PATIENT), replica(&redis.url(), PATIENT));
    let runs = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (a, runs) = (a.clone(), runs.clone());
            tokio::spawn(async move {
                a.get_or_compute(&key(1), false, || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, String>(Bytes::from_static(b"answer"))
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().0, "answer");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the computation ran more than once");
    let shared = b.get_or_compute(&key(1), false, must_not_compute).await.unwrap();
    assert_eq!(shared.1, CacheStatus::Hit(Layer::Redis));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_overwrites_the_shared_entry() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis.url(), PATIENT), replica(&redis.url(), PATIENT));
    let runs = AtomicUsize::new(0);
    a.get_or_compute(&key(1), false, || counted(&runs, "old")).await.unwrap();
    let fresh = a.get_or_compute(&key(1), true, || counted(&runs, "new")).await.unwrap();
    assert_eq!(fresh, (Bytes::from_static(b"new"), CacheStatus::Bypass));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let on_b = b.get_or_compute(&key(1), false, must_not_compute).await.unwrap();
    assert_eq!(on_b, (Bytes::from_static(b"new"), CacheStatus::Hit(Layer::Redis)));
    // A bypass on B does not read Redis, and writes its own answer there.
    let bypassed = b.get_or_compute(&key(1), true, || counted(&runs, "newer")).await.unwrap();
    assert_eq!(bypassed, (Bytes::from_static(b"newer"), CacheStatus::Bypass));
    let c = replica(&redis.url(), PATIENT);
    assert_eq!(c.get_or_compute(&key(1), false, must_not_compute).await.unwrap().0, "newer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_computation_is_cached_nowhere() {
    let redis = RedisServer::start();
    let (a, b) = (replica(&redis.url(), PATIENT), replica(&redis.url(), PATIENT));
    let failed = a.get_or_compute(&key(1), false, || async { Err::<Bytes, _>("engine failed".to_string()) }).await;
    assert_eq!(*failed.unwrap_err(), "engine failed");
    let runs = AtomicUsize::new(0);
    let on_b = b.get_or_compute(&key(1), false, || counted(&runs, "b")).await.unwrap();
    assert_eq!(on_b, (Bytes::from_static(b"b"), CacheStatus::Miss), "the failure reached Redis");
    // A's memory holds nothing either: it reads B's answer from Redis.
    let on_a = a.get_or_compute(&key(1), false, must_not_compute).await.unwrap();
    assert_eq!(on_a, (Bytes::from_static(b"b"), CacheStatus::Hit(Layer::Redis)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_entries_expire_after_ttl() {
    let redis = RedisServer::start();
    let short = |memory_bytes| {
        Cache::new(CacheConfig {
            memory_bytes,
            ttl: Duration::from_millis(400),
            redis_url: Some(redis.url()),
            redis_timeout: PATIENT,
        })
        .unwrap()
    };
    let (a, b) = (short(1 << 20), short(0));
    let runs = AtomicUsize::new(0);
    a.get_or_compute(&key(1), false, || counted(&runs, "a")).await.unwrap();
    // B has no memory layer: each call reads Redis.
    assert_eq!(b.get_or_compute(&key(1), false, must_not_compute).await.unwrap().1, CacheStatus::Hit(Layer::Redis));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let expired = b.get_or_compute(&key(1), false, || counted(&runs, "b")).await.unwrap();
    assert_eq!(expired, (Bytes::from_static(b"b"), CacheStatus::Miss));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// Waits until an answer written by `writer` is read from Redis by `reader` (a replica with an empty memory for
/// the fresh keys used here), and the other way round. Returns how long it took.
async fn wait_until_shared_works(writer: &Cache, reader: &Cache, first_key: usize) -> Duration {
    let start = Instant::now();
    for n in first_key.. {
        assert!(start.elapsed() < Duration::from_secs(15), "the shared layer did not come back within 15 s");
        let runs = AtomicUsize::new(0);
        writer.get_or_compute(&key(n), false, || counted(&runs, "w")).await.unwrap();
        let read = reader.get_or_compute(&key(n), false, || counted(&runs, "r")).await.unwrap();
        if read.1 == CacheStatus::Hit(Layer::Redis) {
            let back = CacheKey::new(b"written by the reader", &n.to_string());
            reader.get_or_compute(&back, false, || counted(&runs, "r")).await.unwrap();
            let read_back = writer.get_or_compute(&back, false, must_not_compute).await.unwrap();
            assert_eq!(read_back, (Bytes::from_static(b"r"), CacheStatus::Hit(Layer::Redis)));
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_down_never_fails_or_stalls_requests() {
    const TIMEOUT: Duration = Duration::from_millis(100);
    // Beyond the timeout, for scheduling on a loaded machine; the computation itself is instant.
    const MARGIN: Duration = Duration::from_millis(200);
    let mut redis = RedisServer::start();
    let a = replica(&redis.url(), TIMEOUT);
    let runs = AtomicUsize::new(0);
    assert_eq!(a.get_or_compute(&key(0), false, || counted(&runs, "up")).await.unwrap().1, CacheStatus::Miss);
    let observer = replica(&redis.url(), PATIENT);
    assert_eq!(
        observer.get_or_compute(&key(0), false, must_not_compute).await.unwrap().1,
        CacheStatus::Hit(Layer::Redis)
    );
    let errors_before = a.redis_errors();

    redis.kill();
    // Over 2.5 s, so the layer is probed again after its pause, with and without bypass.
    for n in 1..=25 {
        let started = Instant::now();
        let answer = a.get_or_compute(&key(n), n % 5 == 0, || counted(&runs, "down")).await;
        let elapsed = started.elapsed();
        let expected = if n % 5 == 0 { CacheStatus::Bypass } else { CacheStatus::Miss };
        assert_eq!(answer.expect("Redis down failed a request"), (Bytes::from_static(b"down"), expected));
        assert!(elapsed < TIMEOUT + MARGIN, "call {n} took {elapsed:?} with Redis down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let errors_down = a.redis_errors();
    assert!(errors_down >= errors_before + 2, "errors {errors_before} -> {errors_down}: not counted, or not probed");
    // Memory still serves what it holds.
    assert_eq!(a.get_or_compute(&key(1), false, must_not_compute).await.unwrap().1, CacheStatus::Hit(Layer::Memory));

    redis.restart();
    let observer = replica(&redis.url(), PATIENT);
    let took = wait_until_shared_works(&a, &observer, 100).await;
    eprintln!("shared layer back {took:?} after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_that_stops_answering_costs_at_most_the_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(100);
    const MARGIN: Duration = Duration::from_millis(200);
    let redis = RedisServer::start();
    let a = replica(&redis.url(), TIMEOUT);
    let runs = AtomicUsize::new(0);
    a.get_or_compute(&key(0), false, || counted(&runs, "up")).await.unwrap();
    let observer = replica(&redis.url(), PATIENT);
    assert_eq!(
        observer.get_or_compute(&key(0), false, must_not_compute).await.unwrap().1,
        CacheStatus::Hit(Layer::Redis)
    );

    // A stopped process keeps its socket open and never answers: only the timeout ends the calls.
    redis.signal("STOP");
    for n in 1..=15 {
        let started = Instant::now();
        let answer = a.get_or_compute(&key(n), false, || counted(&runs, "slow")).await;
        let elapsed = started.elapsed();
        assert_eq!(answer.expect("a hung Redis failed a request"), (Bytes::from_static(b"slow"), CacheStatus::Miss));
        assert!(elapsed < TIMEOUT + MARGIN, "call {n} took {elapsed:?} with Redis hung");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.redis_errors() >= 2, "{} errors: timeouts not counted, or not probed again", a.redis_errors());

    redis.signal("CONT");
    let took = wait_until_shared_works(&a, &observer, 100).await;
    eprintln!("shared layer back {took:?} after the server resumed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_without_redis_and_connects_when_it_appears() {
    const TIMEOUT: Duration = Duration::from_millis(100);
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let a = replica(&url, TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(100), "start-up waited for Redis");
    let runs = AtomicUsize::new(0);
    let started = Instant::now();
    let answer = a.get_or_compute(&key(1), false, || counted(&runs, "no redis")).await.unwrap();
    assert_eq!(answer.1, CacheStatus::Miss);
    assert!(started.elapsed() < TIMEOUT + Duration::from_millis(200), "took {:?}", started.elapsed());
    assert!(a.redis_errors() >= 1, "the failure was not counted");

    let redis = RedisServer::start_on(port);
    let observer = replica(&redis.url(), PATIENT);
    let took = wait_until_shared_works(&a, &observer, 100).await;
    eprintln!("shared layer up {took:?} after Redis started");
}
