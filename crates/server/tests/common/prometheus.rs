//! A real Prometheus server (Debian's `prometheus`, installed by
//! scripts/setup.sh) scraping a test server on loopback, with a throwaway
//! configuration and data folder; killed and removed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const START_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    pub url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus scraping `target`'s `/metrics` every second.
    pub async fn start(target: SocketAddr) -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("hub-prometheus-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: inference-hub\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `prometheus` ({e}): run `bash scripts/setup.sh`, which installs it")
            });
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap();
        let prometheus = Self { child, dir, url: format!("http://127.0.0.1:{port}"), client };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = prometheus.client.get(format!("{}/-/ready", prometheus.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return prometheus;
            }
            assert!(Instant::now() < deadline, "Prometheus not ready in {START_TIMEOUT:?}:\n{}", prometheus.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs an instant query; panics unless Prometheus answers `success`.
    /// Returns `data.result`.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        let url = format!("{}/api/v1/query", self.url);
        let response = self.client.get(url).query(&[("query", promql)]).send().await.expect("query sent");
        let body: Value = response.json().await.expect("Prometheus answers JSON");
        assert_eq!(body["status"], "success", "query {promql:?}: {body}");
        body["data"]["result"].as_array().expect("a result vector").clone()
    }

    /// Polls `promql` until its first sample satisfies `accept`; returns it.
    pub async fn wait_for(&self, promql: &str, accept: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.query(promql).await;
            if let Some(value) = result.first().and_then(sample_value)
                && accept(value)
            {
                return value;
            }
            assert!(Instant::now() < deadline, "{promql:?} never matched; last result {result:?}\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Polls `promql` until it returns at least one series (a `rate()`
    /// needs two scrapes of a series); returns them.
    pub async fn wait_for_series(&self, promql: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let result = self.query(promql).await;
            if !result.is_empty() {
                return result;
            }
            assert!(Instant::now() < deadline, "{promql:?} returned no series\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of one instant-vector sample: `{"value": [time, "1.5"]}`.
pub fn sample_value(series: &Value) -> Option<f64> {
    series["value"][1].as_str()?.parse().ok()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// Runs `promtool check metrics` on an exposition; panics with its findings.
pub fn promtool_check(exposition: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `promtool` ({e}): run `bash scripts/setup.sh`, which installs it"));
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\nexposition:\n{exposition}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the exposition line `series` (name with labels, exactly as
/// rendered, e.g. `ocr_requests_total{outcome="success"}`).
pub fn exposed(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}
