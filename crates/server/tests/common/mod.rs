//! Shared harness for the integration tests: boots the real `inference-hub`
//! binary on a loopback port, talks to it over real HTTP, and renders test
//! images in memory. Nothing is mocked: the models in `vendor/` are loaded.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

pub mod prometheus;
pub mod redis;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Cursor};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub mod kserve;
pub mod pdf;

use ab_glyph::{FontVec, PxScale};
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// How long the child may take to log its listening address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long model loading may take (generous: CI machines are slow).
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The checkout root: `vendor/` (from `scripts/setup.sh`) lives here.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// A running `inference-hub serve`; killed when dropped (also on panic).
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<String>>,
    client: reqwest::Client,
    /// The job store's directory this test did not choose, removed on drop.
    scratch: Option<PathBuf>,
}

/// One HTTP answer: status, headers and the body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Server {
    /// Boots the server with extra `serve` flags.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Boots the server with extra `serve` flags and environment variables.
    /// The test runner's own HUB_*/AI_*/ORT_*/RUST_LOG/systemd settings are removed
    /// so that every test sees the same, explicit configuration.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_command("serve", args, env)
    }

    /// Boots `inference-hub gateway` with these flags (`--upstream` among them).
    pub fn start_gateway(args: &[&str]) -> Self {
        Self::start_command("gateway", args, &[])
    }

    fn start_command(command: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let (mut server, addr_rx) = Self::spawn(command, args, env);
        let addr = addr_rx
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| panic!("no `listening on` line within {START_TIMEOUT:?}; stderr:\n{}", server.logs()));
        server.addr = addr.parse().unwrap_or_else(|_| panic!("bad listening address {addr:?}"));
        assert_eq!(server.addr.ip().to_string(), "127.0.0.1", "bound to the wrong interface");
        assert_ne!(server.addr.port(), 0, "port 0 must be replaced by the bound port");
        server
    }

    /// Boots `inference-hub worker` (HTTP for probes and metrics only) and
    /// waits for it to start.
    pub fn start_worker(args: &[&str]) -> Self {
        Self::start_worker_with_env(args, &[])
    }

    /// Boots `inference-hub worker` with extra environment variables.
    pub fn start_worker_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let server = Self::start_command("worker", args, env);
        server.wait_for_log_within("worker started", 1, START_TIMEOUT);
        server
    }

    /// Starts the binary without waiting for it to listen, for
    /// configurations that must make it exit.
    pub fn start_or_exit(args: &[&str]) -> Self {
        Self::spawn("serve", args, &[]).0
    }

    fn spawn(command: &str, args: &[&str], env: &[(&str, &str)]) -> (Self, mpsc::Receiver<String>) {
        let root = workspace_root();
        assert!(
            root.join("vendor/models").is_dir() && root.join("vendor/onnxruntime").is_dir(),
            "vendor/ is missing: run `bash scripts/setup.sh` (or `make setup`) in {}",
            root.display()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_inference-hub"));
        cmd.arg(command);
        cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        // Each server its own job store, unless the test chooses one.
        let chooses = args.iter().any(|a| ["--data-dir", "--jobs-url"].contains(a));
        let scratch = (command == "serve" && !chooses).then(|| {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::env::temp_dir().join(format!("hub-test-data-{}-{n}", std::process::id()))
        });
        if let Some(dir) = &scratch {
            cmd.arg("--data-dir").arg(dir);
        }
        cmd.args(args).current_dir(&root).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            // A runner started by systemd must not hand its notify socket on.
            let systemd = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].contains(&key_str.as_ref());
            // OMP_THREAD_LIMIT too: the binary sets its own (tests/engines.rs).
            let own = ["RUST_LOG", "OMP_THREAD_LIMIT"].contains(&key_str.as_ref());
            if ["HUB_", "AI_", "ORT_"].iter().any(|p| key_str.starts_with(p)) || own || systemd {
                cmd.env_remove(&key);
            }
        }
        // Plain text logs, so the listening line and log checks see no ANSI codes.
        cmd.env("NO_COLOR", "1");
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("cannot start the inference-hub binary");

        // A reader thread keeps the whole stderr and reports the bound address.
        let logs = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        thread::spawn(move || {
            let mut addr_tx = Some(addr_tx);
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line);
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(tx) = addr_tx.take()
                {
                    // Text logs end the address with a space, JSON logs with a quote.
                    let addr = rest.split(|c: char| c.is_whitespace() || c == '"').next().unwrap_or_default();
                    let _ = tx.send(addr.to_owned());
                }
                let mut logs = sink.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        });

        // No proxy: loopback requests must reach the child even if the runner sets HTTP_PROXY.
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        // From here on Drop kills the child, whatever assertion fails.
        (Self { child, addr: SocketAddr::from(([0, 0, 0, 0], 0)), logs, client, scratch }, addr_rx)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends SIGTERM, as systemd and Kubernetes do to stop the service.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// `kill -9`: the process dies at once, mid-work, as in a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Waits for the child to exit by itself and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "still running {timeout:?} after SIGTERM; stderr:\n{}", self.logs());
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the child wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until `needle` has appeared `count` times in the logs (the
    /// reader thread may lag the HTTP response a little).
    pub fn wait_for_log(&self, needle: &str, count: usize) -> String {
        self.wait_for_log_within(needle, count, Duration::from_secs(10))
    }

    pub fn wait_for_log_within(&self, needle: &str, count: usize, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let logs = self.logs();
            if logs.matches(needle).count() >= count {
                return logs;
            }
            assert!(Instant::now() < deadline, "{needle:?} not logged {count} times; stderr:\n{logs}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        into_reply("GET", path, self.client.get(self.url(path)).send().await).await
    }

    /// A GET whose answer is not JSON (metrics, HTML): status, headers, body.
    pub async fn get_text(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {path} failed: {e:?}"));
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (status, headers, response.text().await.expect("cannot read the response body"))
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Reply {
        into_reply("POST", path, self.client.post(self.url(path)).multipart(form).send().await).await
    }

    /// Posts a raw body with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let request = self.client.post(self.url(path)).header(CONTENT_TYPE, content_type).body(body);
        into_reply("POST", path, request.send().await).await
    }

    /// Posts a one-file multipart form over a plain socket, reading the
    /// answer while the body is still being written. For uploads the server
    /// refuses part-way: it answers 413 and closes without reading the rest,
    /// which reqwest reports as a broken pipe instead of returning the
    /// response (curl and browsers read it, as this does).
    pub async fn post_file_early_answer(&self, path: &str, field: &str, bytes: Vec<u8>) -> Reply {
        let (addr, path, field) = (self.addr, path.to_owned(), field.to_owned());
        tokio::task::spawn_blocking(move || raw_multipart_post(addr, &path, &field, &bytes)).await.unwrap()
    }

    /// Polls /ready until 200; returns the number of 503 answers seen first.
    pub async fn wait_ready(&self) -> usize {
        let deadline = Instant::now() + LOAD_TIMEOUT;
        let mut not_ready = 0;
        loop {
            let reply = self.get("/ready").await;
            match reply.status {
                200 => {
                    assert_eq!(reply.json, serde_json::json!({"ready": true, "models_loaded": true}));
                    return not_ready;
                }
                503 => {
                    assert_eq!(reply.json, serde_json::json!({"ready": false, "models_loaded": false}));
                    not_ready += 1;
                }
                other => panic!("/ready answered {other}: {}", reply.json),
            }
            assert!(Instant::now() < deadline, "not ready within {LOAD_TIMEOUT:?}; stderr:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads a sent request's answer into a [`Reply`] (panics if it was not sent).
pub async fn into_reply(method: &str, path: &str, sent: reqwest::Result<reqwest::Response>) -> Reply {
    let response = sent.unwrap_or_else(|e| panic!("{method} {path} failed: {e:?}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("cannot read the response body");
    Reply { status, headers, json: parse_json(status, &body) }
}

fn raw_multipart_post(addr: SocketAddr, path: &str, field: &str, bytes: &[u8]) -> Reply {
    let (content_type, body) = multipart_body(&[(field, "upload.bin", "application/octet-stream", bytes)]);
    let request = raw_request("POST", path, addr, &[("Content-Type", &content_type)], &body);
    let raw = exchange_raw(addr, request, None);
    let (status, headers, body) = parse_raw(&raw).unwrap_or_else(|| panic!("POST {path}: bad answer {raw:?}"));
    Reply { status, headers, json: parse_json(status, &body) }
}

pub const BOUNDARY: &str = "----inference-hub-test-boundary";

/// A multipart/form-data body from (field, file name, content type, bytes)
/// parts, built by hand so tests control every byte; returns the request's
/// Content-Type and the body.
pub fn multipart_body(parts: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for (field, file_name, mime, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {mime}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

/// A whole HTTP/1.1 request with a correct Content-Length.
pub fn raw_request(method: &str, path: &str, addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// Writes `request` on a fresh connection and reads the answer while still
/// writing (the server may answer and close before reading it all). With
/// `stall`, only that many bytes are sent and the connection is then held
/// open, as a slow client would.
pub fn exchange_raw(addr: SocketAddr, request: Vec<u8>, stall: Option<usize>) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let sent = &request[..stall.unwrap_or(request.len()).min(request.len())];
        // The server may stop reading early; the write error that causes is expected.
        let _ = writer.write_all(sent);
        writer
    });
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A reset after the answer arrived: keep what was read.
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("no answer: {e}"),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    drop(sender.join());
    raw
}

/// Status, headers and body of a raw HTTP/1.1 answer.
pub fn parse_raw(raw: &[u8]) -> Option<(u16, HeaderMap, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut head_lines = head.lines();
    let status: u16 = head_lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in head_lines {
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
                value.trim().parse().ok()?,
            );
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(body.len());
    Some((status, headers, body[..length.min(body.len())].to_owned()))
}

pub fn parse_json(status: u16, body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {body:?}"))
}

/// Asserts the service's error contract:
/// `{"error": {"code", "type", "message"}}` with this status and code.
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "wrong status; body: {}", reply.json);
    let content_type = reply.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "content-type {content_type:?}");
    assert_eq!(keys(&reply.json), set(&["error"]), "body: {}", reply.json);
    let error = &reply.json["error"];
    assert_eq!(keys(error), set(&["code", "type", "message"]), "body: {}", reply.json);
    assert_eq!(error["code"], code, "body: {}", reply.json);
    let kind = if status < 500 { "invalid_request" } else { "server" };
    assert_eq!(error["type"], kind, "body: {}", reply.json);
    let message = error["message"].as_str().expect("message is a string");
    assert!(!message.trim().is_empty(), "empty message");
}

/// The keys of a JSON object (panics on anything else).
pub fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A multipart form with one file part.
pub fn file_form(field: &str, bytes: Vec<u8>, file_name: &str, mime: &str) -> Form {
    Form::new().part(field.to_owned(), file_part(bytes, file_name, mime))
}

pub fn file_part(bytes: Vec<u8>, file_name: &str, mime: &str) -> Part {
    Part::bytes(bytes).file_name(file_name.to_owned()).mime_str(mime).unwrap()
}

pub fn png_form(field: &str, png: &[u8]) -> Form {
    file_form(field, png.to_vec(), "receipt.png", "image/png")
}

// ---------------------------------------------------------------- models

/// A model folder like `vendor/models` whose `broken` file is a copy with
/// every int8 weight scale off by up to 15 % (`scripts/degrade_model.py`,
/// run with the set-up's quantisation venv): it loads and runs, and reads
/// wrong text, as int8 kernels that saturate do.
pub fn degraded_models(broken: &str) -> PathBuf {
    let root = workspace_root();
    let models = root.join("vendor/models");
    let dir = std::env::temp_dir().join(format!("hub-degraded-{}-{broken}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&models).expect("vendor/models: run `make setup`") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "onnx") && path.file_name().unwrap() != broken {
            std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let python = root.join(".cache/quantize-venv/bin/python");
    let status = Command::new(&python)
        .arg(root.join("scripts/degrade_model.py"))
        .arg(models.join(broken))
        .arg(dir.join(broken))
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup`", python.display()));
    assert!(status.success(), "degrade_model.py failed");
    dir
}

// ---------------------------------------------------------------- images

pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
pub const FONT_PX: f32 = 40.0;

/// The ink bounding box of one drawn line, in pixels (inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Ink {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

#[derive(Debug, Clone)]
pub struct DrawnLine {
    pub text: String,
    pub ink: Ink,
}

pub struct Rendered {
    pub image: RgbImage,
    pub lines: Vec<DrawnLine>,
}

/// A white `width`x`height` image with black text lines drawn at `(x, y)`.
/// The ink box of each line is measured from the pixels, so placement checks
/// do not depend on font metrics.
pub fn render(width: u32, height: u32, lines: &[(&str, i32, i32)]) -> Rendered {
    let bytes = std::fs::read(FONT_PATH)
        .unwrap_or_else(|e| panic!("{FONT_PATH}: {e}; install fonts-dejavu-core (scripts/setup.sh does)"));
    let font = FontVec::try_from_vec(bytes).expect("DejaVuSans.ttf is not a font");
    let white = Rgb([255, 255, 255]);
    let black = Rgb([0, 0, 0]);
    let mut image = RgbImage::from_pixel(width, height, white);
    let mut drawn = Vec::new();
    for &(text, x, y) in lines {
        let mut alone = RgbImage::from_pixel(width, height, white);
        imageproc::drawing::draw_text_mut(&mut alone, black, x, y, PxScale::from(FONT_PX), &font, text);
        imageproc::drawing::draw_text_mut(&mut image, black, x, y, PxScale::from(FONT_PX), &font, text);
        drawn.push(DrawnLine { text: text.to_owned(), ink: ink_box(&alone).expect("the text left no ink") });
    }
    Rendered { image, lines: drawn }
}

fn ink_box(image: &RgbImage) -> Option<Ink> {
    let mut ink: Option<Ink> = None;
    for (x, y, px) in image.enumerate_pixels() {
        if px.0[0] < 128 {
            let b = ink.get_or_insert(Ink { x0: x, y0: y, x1: x, y1: y });
            (b.x0, b.y0, b.x1, b.y1) = (b.x0.min(x), b.y0.min(y), b.x1.max(x), b.y1.max(y));
        }
    }
    ink
}

pub fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encoding failed");
    out.into_inner()
}

/// The receipt used across the tests: three lines, well apart vertically.
/// A shop's receipt whose four fields the rules find (company, address,
/// date, total): (text, x, y) on a 1000×500 image.
pub const SHOP_RECEIPT: [(&str, i32, i32); 5] = [
    ("KEDAI MAJU SDN BHD", 40, 40),
    ("12, JALAN MAJU, 50000 KUALA LUMPUR", 40, 130),
    ("TEL: 03-1234 5678", 40, 220),
    ("DATE: 05/03/2018", 40, 310),
    ("TOTAL RM 12.50", 40, 400),
];

/// [`SHOP_RECEIPT`], rendered.
pub fn shop_receipt() -> Rendered {
    render(1000, 500, &SHOP_RECEIPT)
}

pub const RECEIPT_LINES: [(&str, i32, i32); 3] =
    [("TOTAL 12.50", 60, 50), ("CASH 20.00", 60, 170), ("THANK YOU", 60, 290)];

pub fn receipt() -> Rendered {
    render(900, 400, &RECEIPT_LINES)
}

pub fn receipt_png() -> Vec<u8> {
    encode(&receipt().image, ImageFormat::Png)
}

// ---------------------------------------------------------------- OCR bodies

/// One recognised line, as the API returns it.
#[derive(Debug)]
pub struct OcrLine {
    pub text: String,
    pub confidence: f64,
    pub bbox: [[f64; 2]; 4],
}

impl OcrLine {
    /// (min, max) of the box corners along `axis` (0: x, 1: y).
    pub fn span(&self, axis: usize) -> (f64, f64) {
        let values = self.bbox.map(|p| p[axis]);
        (values.iter().copied().fold(f64::MAX, f64::min), values.iter().copied().fold(f64::MIN, f64::max))
    }
}

/// Checks the OCR response contract exactly and returns its lines.
pub fn check_ocr_body(json: &Value) -> Vec<OcrLine> {
    let mut fields = vec!["lines", "line_count", "avg_confidence", "processing_time_ms", "engine"];
    // With fields=true (or --fields), the receipt's fields too.
    if let Some(receipt) = json.get("fields") {
        let mut expected =
            vec!["company", "address", "date", "total", "date_iso", "total_amount", "currency", "tax", "sources"];
        // Only with a merchant directory's match, and then a string.
        if let Some(id) = receipt.get("merchant_id") {
            assert!(id.is_string(), "merchant_id {id}");
            expected.push("merchant_id");
        }
        assert_eq!(keys(receipt), set(&expected), "fields: {receipt}");
        fields.push("fields");
    }
    // A PDF's answer, and only a PDF's, numbers pages: `page_count`,
    // `ocr_pages` (the pages OCR read) and each line's `page`.
    let pages = json.get("page_count").map(|count| count.as_u64().expect("page_count is a number"));
    if let Some(count) = pages {
        assert!(count >= 1, "page_count {count}");
        let ocr = json["ocr_pages"].as_array().expect("ocr_pages is an array with page_count");
        for page in ocr {
            assert!((1..=count).contains(&page.as_u64().expect("a page number")), "ocr_pages {ocr:?}");
        }
        fields.extend(["page_count", "ocr_pages"]);
    }
    assert_eq!(keys(json), set(&fields), "body: {json}");
    let engine = json["engine"].as_str().expect("engine is a string");
    assert!(["paddle", "tesseract"].contains(&engine), "engine {engine}");
    let raw = json["lines"].as_array().expect("lines is an array");
    assert_eq!(json["line_count"].as_u64(), Some(raw.len() as u64), "line_count must equal lines.len()");
    let time = json["processing_time_ms"].as_f64().expect("processing_time_ms is a number");
    // A cache hit takes well under the 0.1 ms the field resolves.
    assert!((0.0..120_000.0).contains(&time), "processing_time_ms {time}");

    let lines: Vec<OcrLine> = raw
        .iter()
        .map(|line| {
            match pages {
                None => assert_eq!(keys(line), set(&["text", "confidence", "bbox"]), "line: {line}"),
                Some(count) => {
                    assert_eq!(keys(line), set(&["text", "confidence", "bbox", "page"]), "line: {line}");
                    let page = line["page"].as_u64().expect("page is a number");
                    assert!((1..=count).contains(&page), "page {page} of {count}: {line}");
                }
            }
            let text = line["text"].as_str().expect("text is a string").to_owned();
            let confidence = line["confidence"].as_f64().expect("confidence is a number");
            assert!((0.0..=1.0).contains(&confidence), "confidence {confidence} of {text:?}");
            let points = line["bbox"].as_array().expect("bbox is an array");
            assert_eq!(points.len(), 4, "bbox must have 4 points: {line}");
            let bbox = std::array::from_fn(|i| {
                let point = points[i].as_array().expect("a bbox point is an array");
                assert_eq!(point.len(), 2, "a bbox point has 2 coordinates: {line}");
                std::array::from_fn(|j| point[j].as_f64().expect("a coordinate is a number"))
            });
            OcrLine { text, confidence, bbox }
        })
        .collect();

    let avg = json["avg_confidence"].as_f64().expect("avg_confidence is a number");
    assert!((0.0..=1.0).contains(&avg), "avg_confidence {avg}");
    if !lines.is_empty() {
        let mean = lines.iter().map(|l| l.confidence).sum::<f64>() / lines.len() as f64;
        assert!((avg - mean).abs() < 1e-3, "avg_confidence {avg} is not the mean {mean} of the lines");
    }
    lines
}

/// Upper-cased, whitespace-split words of all lines.
pub fn tokens(lines: &[OcrLine]) -> BTreeSet<String> {
    lines.iter().flat_map(|l| l.text.split_whitespace()).map(str::to_uppercase).collect()
}

/// Asserts that the response read `rendered`: every drawn word comes back
/// (any order), and each drawn line's first word is found in a box lying
/// where that line's ink is.
pub fn assert_reads(json: &Value, rendered: &Rendered) {
    let lines = check_ocr_body(json);
    let found = tokens(&lines);
    let (width, height) = rendered.image.dimensions();
    for line in &lines {
        for [x, y] in line.bbox {
            assert!(
                (-2.0..=f64::from(width) + 2.0).contains(&x) && (-2.0..=f64::from(height) + 2.0).contains(&y),
                "box of {:?} leaves the {width}x{height} image: {:?}",
                line.text,
                line.bbox
            );
        }
    }
    for drawn in &rendered.lines {
        for word in drawn.text.split_whitespace() {
            assert!(found.contains(&word.to_uppercase()), "{word:?} not recognised; lines: {lines:#?}");
        }
        let first = drawn.text.split_whitespace().next().unwrap().to_uppercase();
        let line = lines
            .iter()
            .find(|l| l.text.split_whitespace().any(|t| t.to_uppercase() == first))
            .expect("the word was found above");
        let ink = drawn.ink;
        let (top, bottom) = line.span(1);
        let (left, right) = line.span(0);
        // The box's vertical centre must fall on the drawn line (lines are
        // 120 px apart, so a box on another line fails this).
        let centre = (top + bottom) / 2.0;
        assert!(
            f64::from(ink.y0) <= centre && centre <= f64::from(ink.y1),
            "box of {:?} spans y {top}..{bottom}, but the ink is at y {}..{}",
            line.text,
            ink.y0,
            ink.y1
        );
        assert!(
            left <= f64::from(ink.x0) + f64::from(FONT_PX) && right >= f64::from(ink.x0),
            "box of {:?} spans x {left}..{right}, but the line starts at x {}",
            line.text,
            ink.x0
        );
        assert!(
            right <= f64::from(ink.x1) + f64::from(FONT_PX),
            "box of {:?} ends at x {right}, past the line's end at x {}",
            line.text,
            ink.x1
        );
    }
}
