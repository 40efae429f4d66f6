//! What the handlers share: start time, settings, and the OCR capability,
//! whose workers appear once the background load finishes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hub_ocr::{CpuInfo, PrecisionReport};

use crate::access::AccessPolicy;
use crate::cli::ModelServerArgs;
use crate::error::ApiError;
use crate::pool::OcrPool;

/// OCR's lifecycle: loading until the slot is filled, then ready or failed.
#[derive(Default)]
pub struct OcrCapability {
    loaded: OnceLock<Result<Loaded, String>>,
}

pub struct Loaded {
    pub pool: OcrPool,
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

pub struct AppState {
    pub started: Instant,
    pub max_upload_bytes: usize,
    /// Time allowed to receive an upload, and to answer a request.
    pub body_timeout: Duration,
    pub request_timeout: Duration,
    pub access: AccessPolicy,
    /// `None` when OCR is disabled (`AI_ENABLE_OCR=0`).
    pub ocr: Option<OcrCapability>,
    /// The model file names the configuration asks for and the `--profile`, for /health.
    pub model_names: Vec<String>,
    pub profile: &'static str,
    /// Model name and batch limit of the KServe routes.
    pub model_server: ModelServerArgs,
    /// Set on SIGTERM/SIGINT: /ready turns 503 while requests drain.
    pub shutting_down: AtomicBool,
    /// The CPU and its int8 kernel family, for /health.
    pub cpu: CpuInfo,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Every enabled capability has its models loaded.
    pub fn models_loaded(&self) -> bool {
        self.ocr.as_ref().is_none_or(|ocr| matches!(ocr.status(), OcrStatus::Ready(_)))
    }

    /// The loaded models, or the error an inference request gets instead.
    pub fn loaded(&self) -> Result<&Loaded, ApiError> {
        match self.ocr.as_ref().map(OcrCapability::status) {
            None => Err(ApiError::CapabilityDisabled("OCR")),
            Some(OcrStatus::Loading) => Err(ApiError::NotReady),
            Some(OcrStatus::Failed(why)) => Err(ApiError::ModelsUnavailable(why.to_owned())),
            Some(OcrStatus::Ready(loaded)) => Ok(loaded),
        }
    }

    /// Worth sending traffic to: loaded and not shutting down.
    pub fn ready(&self) -> bool {
        self.models_loaded() && !self.shutting_down.load(Ordering::Relaxed)
    }
}
