//! What the handlers share, grouped by concern: the request limits, what
//! the service is (for /health and the KServe metadata), who may call, and
//! the lifecycle (OCR's workers appear once the background load finishes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hub_ocr::{CpuInfo, PrecisionReport};

use crate::config::ServeArgs;
use crate::wire::access::AccessPolicy;
use crate::wire::error::ApiError;
use crate::workers::Workers;

/// OCR's lifecycle: loading until the slot is filled, then ready or failed.
#[derive(Default)]
pub struct OcrCapability {
    loaded: OnceLock<Result<Loaded, String>>,
}

pub struct Loaded {
    pub pool: Workers,
    pub load_time: Duration,
    /// The precision served, and why when it is not the one asked for.
    pub precision: PrecisionReport,
    /// File names of the models in use.
    pub models: Vec<String>,
}

pub enum OcrStatus<'a> {
    Loading,
    Ready(&'a Loaded),
    Failed(&'a str),
}

impl OcrCapability {
    pub fn status(&self) -> OcrStatus<'_> {
        match self.loaded.get() {
            None => OcrStatus::Loading,
            Some(Ok(loaded)) => OcrStatus::Ready(loaded),
            Some(Err(why)) => OcrStatus::Failed(why),
        }
    }

    /// Records the load's outcome; only the first call counts.
    pub fn finish(&self, outcome: Result<Loaded, String>) {
        let _ = self.loaded.set(outcome);
    }
}

/// What a request may send and how long it may take.
pub struct Limits {
    pub max_upload_bytes: usize,
    /// Time allowed to receive an upload.
    pub body_timeout: Duration,
    /// Time allowed to queue and run inference once uploaded.
    pub request_timeout: Duration,
    /// Most images in one KServe request.
    pub max_batch: usize,
}

/// What the service is, for /health and the KServe metadata.
pub struct About {
    /// The `--profile`, and the model file names it asks for.
    pub profile: &'static str,
    pub model_names: Vec<String>,
    /// The model name of the KServe routes.
    pub model_name: String,
    /// The CPU and its int8 kernel family.
    pub cpu: CpuInfo,
}

pub struct Lifecycle {
    pub started: Instant,
    /// `None` when OCR is disabled (`AI_ENABLE_OCR=0`).
    pub ocr: Option<OcrCapability>,
    /// Set on SIGTERM/SIGINT: /ready turns 503 while requests drain.
    pub shutting_down: AtomicBool,
}

pub struct AppState {
    pub limits: Limits,
    pub about: About,
    pub access: Arc<AccessPolicy>,
    pub lifecycle: Lifecycle,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// The state `serve` starts with: OCR (when enabled) still loading.
    pub fn new(args: &ServeArgs, access: AccessPolicy, cpu: CpuInfo) -> SharedState {
        let engine = &args.engine;
        let model_names = if args.enable_ocr { engine.model_names(engine.precision()) } else { Vec::new() };
        Arc::new(AppState {
            limits: Limits {
                max_upload_bytes: args.listen.max_upload_bytes(),
                body_timeout: args.listen.body_timeout(),
                request_timeout: Duration::from_secs(args.request_timeout_secs),
                max_batch: args.model_server.max_batch,
            },
            about: About {
                profile: engine.profile.name(),
                model_names,
                model_name: args.model_server.model_name.clone(),
                cpu,
            },
            access: Arc::new(access),
            lifecycle: Lifecycle {
                started: Instant::now(),
                ocr: args.enable_ocr.then(OcrCapability::default),
                shutting_down: AtomicBool::new(false),
            },
        })
    }

    /// Every enabled capability has its models loaded.
    pub fn models_loaded(&self) -> bool {
        self.lifecycle.ocr.as_ref().is_none_or(|ocr| matches!(ocr.status(), OcrStatus::Ready(_)))
    }

    /// The loaded models, or the error an inference request gets instead.
    pub fn loaded(&self) -> Result<&Loaded, ApiError> {
        match self.lifecycle.ocr.as_ref().map(OcrCapability::status) {
            None => Err(ApiError::CapabilityDisabled("OCR")),
            Some(OcrStatus::Loading) => Err(ApiError::NotReady),
            Some(OcrStatus::Failed(why)) => Err(ApiError::ModelsUnavailable(why.to_owned())),
            Some(OcrStatus::Ready(loaded)) => Ok(loaded),
        }
    }

    /// Worth sending traffic to: loaded and not shutting down.
    pub fn ready(&self) -> bool {
        self.models_loaded() && !self.lifecycle.shutting_down.load(Ordering::Relaxed)
    }
}
