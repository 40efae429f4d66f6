//! Asynchronous jobs end to end, with real processes and real databases:
//! submit and poll, idempotency, cancel, limits, retention, access by key,
//! signed callbacks with retries, `kill -9` mid-job on the embedded store,
//! and two replicas plus a worker sharing a real PostgreSQL.

mod common;
#[path = "../../jobs/tests/support/postgres.rs"]
mod postgres;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Reply, Server, assert_reads, encode, into_reply, receipt, receipt_png, render, tokens};
use hmac::{KeyInit, Mac};
use image::ImageFormat;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A receipt whose text names job `n`, so a result shows which job it read.
fn numbered_receipt(n: usize) -> Vec<u8> {
    let number = format!("INVOICE {}", 4000 + n);
    encode(&render(900, 300, &[(&number, 60, 60), ("TOTAL 12.50", 60, 180)]).image, ImageFormat::Png)
}

struct Submit<'a> {
    key: Option<&'a str>,
    idempotency: Option<&'a str>,
    images: Vec<Vec<u8>>,
    fields: &'a [(&'a str, &'a str)],
}

impl<'a> Submit<'a> {
    fn images(images: Vec<Vec<u8>>) -> Self {
        Self { key: None, idempotency: None, images, fields: &[] }
    }
}

async fn submit(server: &Server, job: Submit<'_>) -> Reply {
    let mut form = Form::new();
    for (i, bytes) in job.images.into_iter().enumerate() {
        form = form.part("file", Part::bytes(bytes).file_name(format!("r{i}.png")).mime_str("image/png").unwrap());
    }
    for (name, value) in job.fields {
        form = form.text(name.to_string(), value.to_string());
    }
    let mut request = server.client().post(server.url("/v1/jobs")).multipart(form);
    if let Some(key) = job.key {
        request = request.header("x-api-key", key);
    }
    if let Some(idempotency) = job.idempotency {
        request = request.header("idempotency-key", idempotency);
    }
    into_reply("POST", "/v1/jobs", request.send().await).await
}

async fn call(server: &Server, method: reqwest::Method, path: &str, key: Option<&str>) -> Reply {
    let mut request = server.client().request(method.clone(), server.url(path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    into_reply(method.as_str(), path, request.send().await).await
}

fn job_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 202, "{}", reply.json);
    let id = reply.json["id"].as_str().expect("an id").to_owned();
    assert_eq!(reply.json["status_url"], format!("/v1/jobs/{id}"));
    assert_eq!(reply.headers["location"].to_str().unwrap(), format!("/v1/jobs/{id}"));
    id
}

/// Polls the job until it has ended; returns it.
async fn wait_done(server: &Server, key: Option<&str>, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let reply = call(server, reqwest::Method::GET, &format!("/v1/jobs/{id}"), key).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        if ["succeeded", "failed", "cancelled"].contains(&reply.json["status"].as_str().unwrap()) {
            return reply.json;
        }
        assert!(Instant::now() < deadline, "job {id} not done within {within:?}: {}", reply.json);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The result's answer for image `i`, checked against the OCR contract.
fn answer(job: &Value, i: usize) -> Value {
    assert_eq!(job["status"], "succeeded", "{job}");
    let mut item = job["result"]["results"][i].clone();
    assert_eq!(item["filename"], format!("r{i}.png"));
    item.as_object_mut().unwrap().remove("filename");
    item
}

fn read_number(job: &Value) -> String {
    let lines = common::check_ocr_body(&answer(job, 0));
    tokens(&lines).into_iter().find(|t| t.starts_with("40") && t.len() == 4).unwrap_or_default()
}

/// `job ended` lines per job id in these processes' logs.
fn ends(servers: &[&Server]) -> HashMap<String, usize> {
    let mut ends = HashMap::new();
    for server in servers {
        for line in server.logs().lines().filter(|l| l.contains("job ended")) {
            let id = line.split("id=").nth(1).and_then(|r| r.get(..32)).expect("a job id in the log line");
            *ends.entry(id.to_owned()).or_default() += 1;
        }
    }
    ends
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_poll_idempotency_access_and_signed_callbacks() {
    let receiver = Receiver::start(2);
    let hosts = format!("127.0.0.1:{}", receiver.port);
    let server =
        Server::start(&["--api-keys", "key-one,key-two", "--callback-hosts", &hosts, "--webhook-secret", "s3cret"]);
    server.wait_ready().await;
    let one = Some("key-one");

    // Two receipts, fields on, and a callback that fails twice first.
    let hook = format!("http://{hosts}/hook?token=abc");
    let fields = [("fields", "true"), ("callback_url", hook.as_str())];
    let job = Submit { key: one, fields: &fields, ..Submit::images(vec![receipt_png(), receipt_png()]) };
    let id = job_id(&submit(&server, job).await);
    let done = wait_done(&server, one, &id, Duration::from_secs(60)).await;
    assert_eq!((done["image_count"].as_u64(), done["attempts"].as_u64()), (Some(2), Some(1)));
    assert_eq!((done["result"]["count"].as_u64(), done["result"]["succeeded"].as_u64()), (Some(2), Some(2)));
    for i in 0..2 {
        let item = answer(&done, i);
        assert_reads(&item, &receipt());
        assert_eq!(item["fields"]["total_amount"], "12.50", "{item}");
    }
    for stamp in ["created_at", "started_at", "finished_at", "expires_at"] {
        assert!(done[stamp].as_str().is_some_and(|s| s.ends_with('Z')), "{stamp}: {done}");
    }

    // The callback: refused twice, then delivered, signed over the exact body.
    let delivered = receiver.wait_for(3, Duration::from_secs(30));
    for request in &delivered {
        let signature = request.headers.get("x-hub-signature-256").expect("a signature header");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&request.body);
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signature, &format!("sha256={expected}"));
        assert_eq!(request.path, "/hook?token=abc");
    }
    let body: Value = serde_json::from_slice(&delivered[2].body).unwrap();
    assert_eq!((body["id"].as_str(), body["status"].as_str()), (Some(id.as_str()), Some("succeeded")));
    assert_eq!(body["result"], done["result"]);
    let attempts: Vec<&str> = delivered.iter().map(|r| r.headers["x-hub-delivery-attempt"].as_str()).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let job = call(&server, reqwest::Method::GET, &format!("/v1/jobs/{id}"), one).await.json;
        if job["callback"]["state"] == "delivered" {
            assert_eq!(job["callback"]["attempts"], 3);
            break;
        }
        assert!(Instant::now() < deadline, "callback not recorded as delivered: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The token in the callback URL never reaches the log.
    assert!(!server.logs().contains("token=abc"));

    // A callback host not on the list is refused at submission.
    let fields = [("callback_url", "http://169.254.169.254/latest")];
    let refused = submit(&server, Submit { key: one, fields: &fields, ..Submit::images(vec![receipt_png()]) }).await;
    common::assert_error(&refused, 400, "callback_refused");

    // Visible only to the key that created it.
    let path = format!("/v1/jobs/{id}");
    common::assert_error(&call(&server, reqwest::Method::GET, &path, Some("key-two")).await, 404, "job_not_found");
    common::assert_error(&call(&server, reqwest::Method::GET, &path, None).await, 401, "unauthorized");
    let theirs = call(&server, reqwest::Method::GET, "/v1/jobs", Some("key-two")).await;
    assert_eq!(theirs.json["jobs"].as_array().map(Vec::len), Some(0), "{}", theirs.json);
    let mine = call(&server, reqwest::Method::GET, "/v1/jobs?status=succeeded", one).await;
    assert_eq!(mine.json["jobs"][0]["id"], id.as_str());
    assert!(mine.json["jobs"][0].get("result").is_none(), "lists carry no results");
    common::assert_error(&call(&server, reqwest::Method::DELETE, &path, Some("key-two")).await, 404, "job_not_found");
    // It ran: too late to cancel.
    common::assert_error(&call(&server, reqwest::Method::DELETE, &path, one).await, 409, "job_not_cancellable");

    // Idempotency: the same key and content give the same job; other content is refused.
    let again = |images| Submit { key: one, idempotency: Some("expense-77"), ..Submit::images(images) };
    let first = job_id(&submit(&server, again(vec![receipt_png()])).await);
    let replay = submit(&server, again(vec![receipt_png()])).await;
    assert_eq!(job_id(&replay), first);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    common::assert_error(&submit(&server, again(vec![numbered_receipt(1)])).await, 422, "idempotency_key_reused");
    // Another API key's identical key is its own job.
    let other = Submit { key: Some("key-two"), idempotency: Some("expense-77"), ..Submit::images(vec![receipt_png()]) };
    assert_ne!(job_id(&submit(&server, other).await), first);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_cancel_and_bad_submissions_while_no_engine_runs() {
    // The models never load, so submitted jobs stay queued.
    let server = Server::start(&["--model-dir", "/nonexistent", "--job-max-queued", "2", "--job-max-stored-mb", "1"]);
    // The store opens in the background; until then job routes answer 503.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = call(&server, reqwest::Method::GET, "/v1/jobs", None).await;
        if reply.status == 200 {
            break;
        }
        common::assert_error(&reply, 503, "jobs_unavailable");
        assert!(Instant::now() < deadline, "the job store did not open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let small = || Submit::images(vec![receipt_png()]);
    let first = job_id(&submit(&server, small()).await);
    let status = call(&server, reqwest::Method::GET, &format!("/v1/jobs/{first}"), None).await;
    assert_eq!(status.json["status"], "queued");

    // Noise does not compress: over a MiB of PNG is over the store's limit.
    let noise = image::RgbImage::from_fn(700, 700, |x, y| {
        let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).to_le_bytes();
        image::Rgb([v[0], v[1], v[2]])
    });
    let big = encode(&noise, ImageFormat::Png);
    assert!(big.len() > 1024 * 1024, "the noise PNG is {} bytes", big.len());
    common::assert_error(&submit(&server, Submit::images(vec![big])).await, 507, "job_storage_full");

    job_id(&submit(&server, small()).await);
    let full = submit(&server, small()).await;
    common::assert_error(&full, 429, "job_queue_full");

    // Cancelling a queued job frees its place; cancelling twice is fine.
    let path = format!("/v1/jobs/{first}");
    let cancelled = call(&server, reqwest::Method::DELETE, &path, None).await;
    assert_eq!((cancelled.status, cancelled.json["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(call(&server, reqwest::Method::DELETE, &path, None).await.status, 200);
    job_id(&submit(&server, small()).await);
    let listed = call(&server, reqwest::Method::GET, "/v1/jobs?status=cancelled&limit=5", None).await;
    assert_eq!(listed.json["jobs"].as_array().map(Vec::len), Some(1));

    // Bad submissions are refused before anything is stored.
    let text = Form::new().part("file", Part::bytes(b"hello".to_vec()).file_name("a.txt"));
    let request = server.client().post(server.url("/v1/jobs")).multipart(text).send().await;
    common::assert_error(&into_reply("POST", "/v1/jobs", request).await, 415, "unsupported_media_type");
    let engine = [("engine", "easyocr")];
    common::assert_error(&submit(&server, Submit { fields: &engine, ..small() }).await, 400, "unknown_engine");
    let callback = [("callback_url", "http://127.0.0.1:9/x")];
    common::assert_error(&submit(&server, Submit { fields: &callback, ..small() }).await, 400, "callback_refused");
    let path = "/v1/jobs?status=done";
    common::assert_error(&call(&server, reqwest::Method::GET, path, None).await, 400, "invalid_parameter");
    let missing = "/v1/jobs/0123456789abcdef0123456789abcdef";
    common::assert_error(&call(&server, reqwest::Method::GET, missing, None).await, 404, "job_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_expire_after_their_ttl() {
    // 0.0005 h = 1.8 s.
    let server = Server::start(&["--job-ttl-hours", "0.0005"]);
    server.wait_ready().await;
    let id = job_id(&submit(&server, Submit::images(vec![receipt_png()])).await);
    let done = wait_done(&server, None, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "succeeded");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let gone = call(&server, reqwest::Method::GET, &format!("/v1/jobs/{id}"), None).await;
    common::assert_error(&gone, 404, "job_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn job_workers_0_takes_submissions_and_runs_none() {
    let server = Server::start(&["--job-workers", "0"]);
    server.wait_ready().await;
    let id = job_id(&submit(&server, Submit::images(vec![receipt_png()])).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let job = call(&server, reqwest::Method::GET, &format!("/v1/jobs/{id}"), None).await;
    assert_eq!((job.json["status"].as_str(), job.json["attempts"].as_u64()), (Some("queued"), Some(0)), "{}", job.json);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_job_then_restart_on_the_same_data_dir() {
    let dir = std::env::temp_dir().join(format!("hub-jobs-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    // No cache: every image is read by the engine, so jobs take a while.
    let args = ["--data-dir", data, "--cache-mb", "0", "--job-lease-secs", "2", "--job-workers", "1"];
    let mut first = Server::start(&args);
    first.wait_ready().await;
    let mut jobs = Vec::new();
    for n in 0..5 {
        let images = vec![numbered_receipt(n), numbered_receipt(n), numbered_receipt(n)];
        jobs.push((job_id(&submit(&first, Submit::images(images)).await), n));
    }
    // Wait for a job to be running, then kill the process outright.
    let deadline = Instant::now() + Duration::from_secs(60);
    'running: loop {
        for (id, _) in &jobs {
            let job = call(&first, reqwest::Method::GET, &format!("/v1/jobs/{id}"), None).await.json;
            if job["status"] == "running" {
                break 'running;
            }
        }
        assert!(Instant::now() < deadline, "no job started running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill9();

    let second = Server::start(&args);
    second.wait_ready().await;
    let mut retried = 0;
    for (id, n) in &jobs {
        let job = wait_done(&second, None, id, Duration::from_secs(120)).await;
        assert_eq!(read_number(&job), format!("{}", 4000 + n), "job {n} read the wrong image: {job}");
        let attempts = job["attempts"].as_u64().unwrap();
        assert!(attempts <= 2, "{job}");
        retried += usize::from(attempts == 2);
    }
    // One job was running at the kill: at most it ran again.
    assert!(retried <= 1, "{retried} jobs ran twice");
    let ends = ends(&[&first, &second]);
    for (id, _) in &jobs {
        assert_eq!(ends.get(id), Some(&1), "job {id} did not end exactly once: {ends:?}");
    }
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_and_a_worker_share_postgres_and_survive_a_kill() {
    let pg = postgres::Postgres::start();
    let url = pg.url();
    let args = ["--jobs-url", url.as_str(), "--cache-mb", "0", "--job-lease-secs", "2"];
    let a = Server::start(&args);
    let mut b = Server::start(&args);
    let worker = Server::start_worker(&args);
    a.wait_ready().await;
    b.wait_ready().await;
    worker.wait_for_log_within("Models loaded", 1, common::LOAD_TIMEOUT);

    let mut jobs = Vec::new();
    for n in 0..30 {
        let replica = if n % 2 == 0 { &a } else { &b };
        jobs.push((job_id(&submit(replica, Submit::images(vec![numbered_receipt(n)])).await), n));
    }
    // Kill one replica once the work is under way.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = call(&a, reqwest::Method::GET, "/v1/jobs?status=succeeded&limit=500", None).await;
        if done.json["jobs"].as_array().unwrap().len() >= 8 {
            break;
        }
        assert!(Instant::now() < deadline, "jobs are not being run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.kill9();

    for (id, n) in &jobs {
        let job = wait_done(&a, None, id, Duration::from_secs(120)).await;
        assert_eq!(read_number(&job), format!("{}", 4000 + n), "job {n} read the wrong image: {job}");
    }
    let ends = ends(&[&a, &b, &worker]);
    for (id, _) in &jobs {
        assert_eq!(ends.get(id), Some(&1), "job {id} did not end exactly once: {ends:?}");
    }
    // The stand-alone worker took its share.
    let ran = worker.logs().matches("job ended").count();
    assert!(ran > 0, "the worker ran no job");
    // Its probes and metrics: ready (models loaded, store open), its own runs counted.
    let ready = worker.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.json);
    assert_eq!(ready.json, serde_json::json!({"ready": true, "models_loaded": true, "job_store": true}));
    let samples = [
        format!(r#"ocr_job_runs_total{{outcome="succeeded"}} {ran}"#),
        r#"ocr_models_loaded{engine="paddle"} 1"#.to_owned(),
        // The store's gauges come from a sweep every 2 s: the empty queue shows at the next one.
        "ocr_jobs_oldest_queued_seconds 0".to_owned(),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, metrics) = worker.get_text("/metrics", &[]).await;
        assert_eq!(status, 200);
        let missing: Vec<&String> = samples.iter().filter(|s| !metrics.lines().any(|line| line == *s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no {missing:?} in the worker's metrics:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Debian's libfaketime (`scripts/setup.sh` installs it).
fn libfaketime() -> String {
    format!("/usr/lib/{}-linux-gnu/faketime/libfaketime.so.1", std::env::consts::ARCH)
}

/// Seconds since the Unix epoch of an HTTP `Date` header, by `date(1)`.
fn http_date_secs(value: &str) -> i64 {
    let out = std::process::Command::new("date").args(["-u", "-d", value, "+%s"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap_or_else(|_| panic!("not a date: {value}"))
}

/// Leases run on the database's clock: a worker whose own clock is an hour
/// ahead dies holding a job, and another worker takes the job over once the
/// 2 s lease has run out, not an hour later.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_clock_is_wrong_still_keeps_leases_on_the_databases_time() {
    let libfaketime = libfaketime();
    assert!(Path::new(&libfaketime).exists(), "{libfaketime} is missing: run scripts/setup.sh");
    let pg = postgres::Postgres::start();
    let url = pg.url();
    let common = ["--jobs-url", url.as_str(), "--cache-mb", "0", "--job-lease-secs", "2", "--workers", "1"];
    let api = Server::start(&[&common[..], &["--job-workers", "0"]].concat());
    // Only the process's wall clock is moved; its timers keep real time.
    let clock_ahead =
        [("LD_PRELOAD", libfaketime.as_str()), ("FAKETIME", "+1h"), ("FAKETIME_DONT_FAKE_MONOTONIC", "1")];
    let mut ahead = Server::start_worker_with_env(&common, &clock_ahead);
    ahead.wait_for_log_within("Models loaded", 1, common::LOAD_TIMEOUT);
    // Its clock really is an hour ahead: its HTTP answers' `Date` says so.
    let (_, headers, _) = ahead.get_text("/live", &[]).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let skew = http_date_secs(headers["date"].to_str().unwrap()) - now;
    assert!((3590..=3610).contains(&skew), "the worker's clock is {skew} s off, not an hour ahead");
    api.wait_ready().await;

    let images = (0..12).map(|_| numbered_receipt(7)).collect();
    let id = job_id(&submit(&api, Submit::images(images)).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while call(&api, reqwest::Method::GET, &format!("/v1/jobs/{id}"), None).await.json["status"] != "running" {
        assert!(Instant::now() < deadline, "the job did not start: {}", ahead.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ahead.kill9();

    let on_time = Server::start_worker(&common);
    let job = wait_done(&api, None, &id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(read_number(&job), "4007", "{job}");
    assert_eq!(on_time.logs().matches("job ended").count(), 1, "{}", on_time.logs());
}

/// A callback receiver on a free loopback port: answers 500 to the first
/// `failures` requests, then 200, and keeps every request.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Received>>>,
}

#[derive(Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Receiver {
    fn start(failures: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                    }
                }
                let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let count = {
                    let mut kept = kept.lock().unwrap();
                    kept.push(Received { path, headers, body });
                    kept.len()
                };
                let status = if count <= failures { "500 Internal Server Error" } else { "200 OK" };
                let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Self { port, requests }
    }

    fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let requests = self.requests.lock().unwrap().clone();
            if requests.len() >= count {
                return requests;
            }
            assert!(Instant::now() < deadline, "{} callbacks received, wanted {count}", requests.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
