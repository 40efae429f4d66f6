//! A bounded HTTP load generator for `make bench`: posts image files to an
//! inference-hub OCR endpoint on this machine at a fixed concurrency and
//! prints throughput, latency percentiles and status counts.
//!
//! ```sh
//! cargo run --release --example loadgen -- --url http://127.0.0.1:8100/v1/ocr/receipt \
//!     --concurrency 4 --requests 120 images/*.jpg
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// OCR endpoint; only loopback hosts are accepted.
    #[arg(long, default_value = "http://127.0.0.1:8100/v1/ocr/receipt")]
    url: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Total requests (files are cycled); bounded on purpose.
    #[arg(long, default_value_t = 60)]
    requests: usize,
    /// Images per request, as repeated `file` parts (for `/v1/ocr/batch`).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Give up on a request after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Image files to send.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let url = reqwest::Url::parse(&args.url)?;
    let loopback = match url.host_str() {
        Some("localhost") => true,
        Some(host) => host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    if !loopback {
        return Err(format!("refusing to load a non-loopback host: {url}").into());
    }
    let images: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        args.files
            .iter()
            .map(|f| Ok((f.file_name().unwrap_or_default().to_string_lossy().into_owned(), std::fs::read(f)?)))
            .collect::<std::io::Result<_>>()?,
    );
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(args.timeout_secs)).build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, url, images, next) = (client.clone(), url.clone(), images.clone(), next.clone());
        let (total, batch) = (args.requests, args.batch.max(1));
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let mut form = reqwest::multipart::Form::new();
                for j in 0..batch {
                    let (name, bytes) = &images[(i * batch + j) % images.len()];
                    form = form.part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone()));
                }
                let t = Instant::now();
                let status = match client.post(url.clone()).multipart(form).send().await {
                    Ok(r) => {
                        let code = r.status().as_u16();
                        // Count a response only once its body has fully arrived.
                        if r.bytes().await.is_ok() { code.to_string() } else { "body-error".into() }
                    }
                    Err(e) if e.is_timeout() => "timeout".into(),
                    Err(_) => "connect-error".into(),
                };
                results.push((status, t.elapsed()));
            }
            results
        }));
    }
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut ok_times = Vec::new();
    for task in tasks {
        for (status, took) in task.await? {
            if status == "200" {
                ok_times.push(took);
            }
            *statuses.entry(status).or_default() += 1;
        }
    }
    let wall = started.elapsed();
    ok_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| {
        ok_times
            .get(((ok_times.len() as f64 * p).ceil() as usize).clamp(1, ok_times.len().max(1)) - 1)
            .map_or(0.0, |&d| ms(d))
    };
    let mean =
        if ok_times.is_empty() { 0.0 } else { ok_times.iter().map(|&d| ms(d)).sum::<f64>() / ok_times.len() as f64 };
    // One JSON object per run: the bench script collects these.
    let report = serde_json::json!({
        "concurrency": args.concurrency,
        "requests": args.requests,
        "batch": args.batch.max(1),
        "wall_ms": ms(wall),
        "ok": ok_times.len(),
        "rps": ok_times.len() as f64 / wall.as_secs_f64(),
        "mean_ms": mean,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "statuses": statuses,
    });
    println!("{report}");
    Ok(())
}
