//! The in-process harness: the service's state and router built from
//! `serve` flags as `serve` builds them, over an engine of fake models, and
//! requests sent to the router without a socket. What the answers are
//! checked against (`common::assert_error`, `common::check_ocr_body`, ...)
//! is shared with the end-to-end tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use clap::{CommandFactory, FromArgMatches};
use hub_engines::{Engine, EngineError, EngineInfo};
use hub_ocr::{Model, OcrEngine, PrecisionReport, TextLine};
use inference_hub::config::{Cli, Command, EngineArgs, ServeArgs};
use inference_hub::state::{EngineSlot, Loaded, SharedState};
use inference_hub::wire::access::AccessPolicy;
use inference_hub::workers::{Priority, Workers};
use ndarray::{ArrayD, ArrayView4};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::{BOUNDARY, Reply, parse_json};

/// The client address of every request unless a test says otherwise.
pub const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// What the fake models read from any image with text: the short band
/// above, then the long band below (see [`FakeDetector`]).
pub const FAKE_TEXTS: [&str; 2] = ["A", "B"];

/// The service as `serve` assembles it, without a listener.
pub struct App {
    pub state: SharedState,
    /// The access policy as `serve` logs it at start-up.
    pub access: String,
    router: Router,
    /// Worker threads per engine.
    workers: usize,
    queue: usize,
    engine: EngineArgs,
}

/// `serve` flags parsed as the binary parses them, but from the flags
/// alone: the runner's HUB_*/AI_* variables must not configure the tests
/// (the end-to-end harness removes them from the child's environment).
pub fn serve_args(flags: &[&str]) -> ServeArgs {
    let command = Cli::command()
        .mut_args(|arg| arg.env(None))
        .mut_subcommand("serve", |serve| serve.mut_args(|arg| arg.env(None)));
    let argv = ["inference-hub", "serve"].iter().chain(flags);
    let matches = command.try_get_matches_from(argv).unwrap_or_else(|e| panic!("serve {flags:?}: {e}"));
    match Cli::from_arg_matches(&matches).unwrap().command {
        Command::Serve(args) => *args,
        _ => unreachable!("parsed as serve"),
    }
}

/// `--ort-lib` for loads from disk: ONNX Runtime as `make setup` put it in
/// the checkout (the default is looked up from the working directory).
pub fn ort_lib() -> String {
    let root = crate::common::workspace_root();
    let version = std::fs::read_to_string(root.join("ORT_VERSION")).expect("ORT_VERSION");
    let lib = root.join(format!("vendor/onnxruntime/libonnxruntime.so.{}", version.trim()));
    assert!(lib.is_file(), "{} is missing: run `make setup`", lib.display());
    lib.to_string_lossy().into_owned()
}

impl App {
    /// OCR loaded, on fake models.
    pub fn ready(flags: &[&str]) -> Self {
        let app = Self::loading(flags);
        app.load_fakes();
        app
    }

    /// As `serve` starts: OCR (unless switched off) still loading.
    pub fn loading(flags: &[&str]) -> Self {
        capture_logs();
        let args = serve_args(flags);
        let access = AccessPolicy::from_args(&args.access).unwrap_or_else(|e| panic!("{flags:?}: {e:#}"));
        let described = access.describe();
        let routing = args.routing().unwrap_or_else(|e| panic!("{flags:?}: {e:#}"));
        let cache = args.cache.cache().unwrap_or_else(|e| panic!("{flags:?}: {e:#}"));
        let merchants = args.merchants.directory.open().unwrap_or_else(|e| panic!("{flags:?}: {e:#}"));
        let state =
            inference_hub::state::AppState::new(&args, access, routing, cache, merchants, hub_ocr::CpuInfo::detect());
        let router = inference_hub::router(state.clone());
        let (workers, queue) = (args.engine.worker_count(), args.queue_size);
        Self { state, access: described, router, workers, queue, engine: args.engine }
    }

    /// Finishes every engine's load with fake models, as `serve`'s loader
    /// does with the real ones. Each engine reads [`FAKE_TEXTS`]; the answer's
    /// `engine` says which one did.
    pub fn load_fakes(&self) {
        for slot in self.engines() {
            self.load_fake(slot.name);
        }
    }

    /// Finishes engine `name`'s load with fake models; the others stay as they are.
    pub fn load_fake(&self, name: &str) {
        {
            let slot = self.engines().find(|s| s.name == name).expect("an engine of --engines");
            let engine = Arc::new(fake_engine(&self.engine.ocr_options()));
            let instances = (0..self.workers).map(|_| Box::new(Fake(engine.clone())) as Box<dyn Engine>).collect();
            let limits = self.engine.read_limits();
            let pool = Workers::start(slot.name, instances, limits, self.queue, Priority::Normal).expect("workers");
            let requested = self.engine.precision();
            let precision = (slot.name == "paddle").then_some(PrecisionReport {
                requested,
                in_use: requested,
                probe_cer: Some(0.0),
                fallback_reason: None,
            });
            let identity = format!("fake {}", slot.name);
            let info = EngineInfo { name: slot.name, version: "fake".into(), models: vec![], precision, identity };
            slot.finish(Ok(Loaded { pool, shadow: None, load_time: Duration::from_millis(1), info }));
        }
    }

    /// Loads the engines the flags name from disk, as `serve`'s loader does,
    /// and records the outcomes. Meant for loads that fail (`--model-dir
    /// /nonexistent`): the real load's own error, without loading models.
    pub fn load_from_disk(&self) {
        for slot in self.engines() {
            let outcome = self.engine.load(slot.name, self.workers).map_err(|e| e.to_string()).and_then(|engine| {
                let limits = self.engine.read_limits();
                let pool = Workers::start(slot.name, engine.instances, limits, self.queue, Priority::Normal)
                    .map_err(|e| e.to_string())?;
                Ok(Loaded { pool, shadow: None, load_time: engine.load_time, info: engine.info })
            });
            slot.finish(outcome);
        }
    }

    /// Every engine slot (OCR must be enabled).
    pub fn engines(&self) -> impl Iterator<Item = &EngineSlot> {
        self.state.lifecycle.engines.as_ref().expect("OCR is enabled").iter()
    }

    /// Sends `request` from [`CLIENT`].
    pub async fn send(&self, request: Request<Body>) -> Raw {
        self.send_from(CLIENT, request).await
    }

    /// Sends `request` as if from `peer` (the access guard reads the peer
    /// address the listener records).
    pub async fn send_from(&self, peer: IpAddr, mut request: Request<Body>) -> Raw {
        request.extensions_mut().insert(ConnectInfo(SocketAddr::new(peer, 40_000)));
        let response = self.router.clone().oneshot(request).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.expect("the answer's body");
        Raw { status: parts.status.as_u16(), headers: parts.headers, body }
    }

    /// A request whose answer is JSON.
    pub async fn json(&self, request: Request<Body>) -> Reply {
        self.send(request).await.reply()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.json(get(path, &[])).await
    }

    /// A GET whose answer may not be JSON: status, headers, body.
    pub async fn get_text(&self, path: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, String) {
        let raw = self.send(get(path, headers)).await;
        (raw.status, raw.headers, String::from_utf8_lossy(&raw.body).into_owned())
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        self.json(post(path, &[("content-type", content_type)], body)).await
    }

    pub async fn post_form(&self, path: &str, form: Form) -> Reply {
        self.json(form.request(path, &[])).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(path, "application/json", serde_json::to_vec(body).unwrap()).await
    }
}

/// An answer as it left the router.
pub struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Raw {
    pub fn reply(self) -> Reply {
        let body = String::from_utf8_lossy(&self.body);
        Reply { status: self.status, json: parse_json(self.status, &body), headers: self.headers }
    }
}

// ---------------------------------------------------------------- requests

pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

pub fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    request("GET", path, headers, Body::empty())
}

pub fn post(path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Request<Body> {
    request("POST", path, headers, Body::from(body))
}

/// A multipart/form-data body built by hand (`common::BOUNDARY`), so tests
/// control every byte: file parts, and text fields.
#[derive(Default)]
pub struct Form {
    body: Vec<u8>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        let head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self
    }

    pub fn file(mut self, name: &str, file_name: &str, mime: &str, bytes: &[u8]) -> Self {
        let head = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
             Content-Type: {mime}\r\n\r\n"
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A form of one PNG file.
    pub fn png(field: &str, png: &[u8]) -> Self {
        Self::new().file(field, "receipt.png", "image/png", png)
    }

    /// The request's Content-Type and body.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        self.body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={BOUNDARY}"), self.body)
    }

    pub fn request(self, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
        let (content_type, body) = self.finish();
        let mut all = vec![("content-type", content_type.as_str())];
        all.extend_from_slice(headers);
        post(path, &all, body)
    }
}

// ---------------------------------------------------------------- answers

/// The texts of an OCR answer, after checking the response contract.
pub fn texts(json: &Value) -> Vec<String> {
    crate::common::check_ocr_body(json).into_iter().map(|line| line.text).collect()
}

/// Asserts an OCR answer of the fake models.
pub fn assert_fake_read(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(texts(&reply.json), FAKE_TEXTS, "{}", reply.json);
}

// ---------------------------------------------------------------- logs

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Everything logged in this test binary so far, at the levels the
/// end-to-end privacy checks use (trace for our crates).
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new("info,inference_hub=trace,hub_ocr=trace,tower_http=debug");
        let subscriber =
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(|| LogWriter).finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
}

// ---------------------------------------------------------------- fake models

/// Text probability 0.9 inside two fixed bands (fractions of the input): a
/// short line high up and a long line below it.
struct FakeDetector;

const BANDS: [(f32, f32, f32, f32); 2] = [(0.1, 0.2, 0.4, 0.3), (0.1, 0.6, 0.95, 0.7)];

impl Model for FakeDetector {
    fn run(&mut self, input: ArrayView4<'_, f32>) -> hub_ocr::Result<ArrayD<f32>> {
        let (_, _, h, w) = input.dim();
        let mut map = ArrayD::<f32>::zeros(vec![1, 1, h, w]);
        for (x0, y0, x1, y1) in BANDS {
            let (fx, fy) = (w as f32, h as f32);
            for y in (y0 * fy) as usize..(y1 * fy) as usize {
                for x in (x0 * fx) as usize..(x1 * fx) as usize {
                    map[[0, 0, y, x]] = 0.9;
                }
            }
        }
        Ok(map)
    }
}

/// Reads "A" from narrow crops and "B" from wide ones.
struct FakeRecognizer;

impl Model for FakeRecognizer {
    fn run(&mut self, input: ArrayView4<'_, f32>) -> hub_ocr::Result<ArrayD<f32>> {
        let (n, _, _, w) = input.dim();
        // Classes: blank, "A", "B", space.
        let mut out = ArrayD::<f32>::zeros(vec![n, (w / 8).max(1), 4]);
        out.slice_mut(ndarray::s![.., .., 0]).fill(1.0);
        let letter = if w < 320 { 1 } else { 2 };
        for b in 0..n {
            out[[b, 0, 0]] = 0.0;
            out[[b, 0, letter]] = 1.0;
        }
        Ok(out)
    }
}

/// The PP-OCR engine over fake networks, as any engine.
struct Fake(Arc<OcrEngine>);

impl Engine for Fake {
    fn read(&mut self, image: &image::RgbImage) -> Result<Vec<TextLine>, EngineError> {
        Ok(self.0.read_image(image)?)
    }
}

/// The real pipeline (decode, limits, detection post-processing, cropping,
/// CTC decoding) around fake networks.
fn fake_engine(options: &hub_ocr::OcrOptions) -> OcrEngine {
    OcrEngine::with_models(
        vec![Box::new(FakeDetector)],
        vec![Box::new(FakeRecognizer), Box::new(FakeRecognizer)],
        None,
        "A\nB",
        options.clone(),
    )
}
