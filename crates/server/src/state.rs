//! What the handlers share, grouped by concern: the request limits, what
//! the service is (for /health and the KServe metadata), who may call, the
//! engines' lifecycle (each engine's workers appear once its background
//! load finishes), and how requests are routed between engines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hub_cache::Cache;
use hub_engines::EngineInfo;
use hub_jobs::{CallbackPolicy, JobStore};
use hub_ocr::CpuInfo;
use tokio::sync::Notify;

use crate::config::{Routing, ServeArgs, WorkerArgs};
use crate::wire::access::AccessPolicy;
use crate::wire::error::ApiError;
use crate::workers::Workers;

/// One engine's lifecycle: loading until the slot is filled, then ready or failed.
pub struct EngineSlot {
    pub name: &'static str,
    loaded: OnceLock<Result<Loaded, String>>,
}

pub struct Loaded {
    pub pool: Workers,
    /// For the `--shadow` engine: one more instance, on a background worker.
    pub shadow: Option<Workers>,
    pub load_time: Duration,
    /// Version, model files and (PP-OCR) precision.
    pub info: EngineInfo,
}

pub enum EngineStatus<'a> {
    Loading,
    Ready(&'a Loaded),
    Failed(&'a str),
}

impl EngineSlot {
    fn new(name: &'static str) -> Self {
        Self { name, loaded: OnceLock::new() }
    }

    pub fn status(&self) -> EngineStatus<'_> {
        match self.loaded.get() {
            None => EngineStatus::Loading,
            Some(Ok(loaded)) => EngineStatus::Ready(loaded),
            Some(Err(why)) => EngineStatus::Failed(why),
        }
    }

    pub fn ready(&self) -> Option<&Loaded> {
        self.loaded.get().and_then(|l| l.as_ref().ok())
    }

    /// Records the load's outcome; only the first call counts.
    pub fn finish(&self, outcome: Result<Loaded, String>) {
        let _ = self.loaded.set(outcome);
    }
}

/// The engines `--engines` loads; the first is the default.
pub struct Engines {
    slots: Vec<EngineSlot>,
}

impl Engines {
    pub fn default_slot(&self) -> &EngineSlot {
        &self.slots[0]
    }

    pub fn get(&self, name: &str) -> Option<&EngineSlot> {
        self.slots.iter().find(|s| s.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &EngineSlot> {
        self.slots.iter()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.slots.iter().map(|s| s.name).collect()
    }
}

/// What a request may send and how long it may take.
pub struct Limits {
    pub max_upload_bytes: usize,
    /// Time allowed to receive an upload.
    pub body_timeout: Duration,
    /// Time allowed to queue and run inference once uploaded.
    pub request_timeout: Duration,
    /// Most images in one batch (`/v1/ocr/batch`, KServe).
    pub max_batch: usize,
    /// Largest `/v1/ocr/batch` body.
    pub max_batch_bytes: usize,
}

/// What the service is, for /health and the KServe metadata.
pub struct About {
    /// PP-OCR's `--profile`.
    pub profile: &'static str,
    /// The KServe model name of the default engine (`ocr`).
    pub model_name: String,
    /// The CPU and its int8 kernel family.
    pub cpu: CpuInfo,
}

pub struct Lifecycle {
    pub started: Instant,
    /// `None` when OCR is disabled (`AI_ENABLE_OCR=0`).
    pub engines: Option<Engines>,
    /// Set on SIGTERM/SIGINT: /ready turns 503 while requests drain.
    pub shutting_down: AtomicBool,
}

/// The asynchronous jobs' store and what submissions are checked against.
pub struct JobService {
    pub store: JobStore,
    pub callbacks: CallbackPolicy,
    /// Woken on each submission, so this process's runner claims at once
    /// instead of at its next poll.
    pub submitted: Notify,
}

/// Jobs: off, the store still opening, open, or failed to open.
pub enum JobsSlot {
    Off,
    Opening(OnceLock<Result<Arc<JobService>, String>>),
}

impl JobsSlot {
    /// The open store, or the error a job route answers instead.
    pub fn get(&self) -> Result<&Arc<JobService>, ApiError> {
        match self {
            JobsSlot::Off => Err(ApiError::CapabilityDisabled("asynchronous jobs (--jobs)")),
            JobsSlot::Opening(slot) => match slot.get() {
                Some(Ok(service)) => Ok(service),
                _ => Err(ApiError::JobsUnavailable),
            },
        }
    }

    /// Records the store's opening; only the first call counts.
    pub fn finish(&self, outcome: Result<Arc<JobService>, String>) {
        if let JobsSlot::Opening(slot) = self {
            let _ = slot.set(outcome);
        }
    }
}

pub struct AppState {
    pub limits: Limits,
    pub about: About,
    pub access: Arc<AccessPolicy>,
    /// How requests are shared between engines (`crate::dispatch`).
    pub routing: Routing,
    /// Answers already given (`crate::reading`); `None` when switched off.
    pub cache: Option<Cache>,
    pub fields: FieldSettings,
    pub jobs: JobsSlot,
    pub lifecycle: Lifecycle,
}

pub type SharedState = Arc<AppState>;

/// How the receipt fields are read.
pub struct FieldSettings {
    /// Answers carry the fields unless a request says `fields=false`.
    pub by_default: bool,
    /// Known merchants (`--merchants`), as the file is now.
    pub directory: Option<Arc<crate::merchants::Directory>>,
}

impl FieldSettings {
    /// The merchant directory to read a receipt's fields with now.
    pub fn merchants(&self) -> Option<Arc<hub_fields::Merchants>> {
        self.directory.as_ref().map(|d| d.current())
    }
}

impl AppState {
    /// The state `serve` starts with: every engine (when OCR is enabled) still loading.
    pub fn new(
        args: &ServeArgs,
        access: AccessPolicy,
        routing: Routing,
        cache: Option<Cache>,
        merchants: Option<Arc<crate::merchants::Directory>>,
        cpu: CpuInfo,
    ) -> SharedState {
        let engines = args
            .enable_ocr
            .then(|| Engines { slots: args.engine.engines().into_iter().map(EngineSlot::new).collect() });
        Arc::new(AppState {
            limits: Limits {
                max_upload_bytes: args.listen.max_upload_bytes(),
                body_timeout: args.listen.body_timeout(),
                request_timeout: Duration::from_secs(args.request_timeout_secs),
                max_batch: args.model_server.max_batch,
                max_batch_bytes: args.max_batch_mb * 1024 * 1024,
            },
            about: About { profile: args.engine.profile.name(), model_name: args.model_server.model_name.clone(), cpu },
            access: Arc::new(access),
            routing,
            cache,
            fields: FieldSettings { by_default: args.fields, directory: merchants },
            // Jobs need engines to run them.
            jobs: if args.jobs && args.enable_ocr { JobsSlot::Opening(OnceLock::new()) } else { JobsSlot::Off },
            lifecycle: Lifecycle { started: Instant::now(), engines, shutting_down: AtomicBool::new(false) },
        })
    }

    /// The state of `worker`: its engines loading and the job store opening;
    /// no routes read the limits, access or routing.
    pub fn for_worker(
        args: &WorkerArgs,
        cache: Option<Cache>,
        merchants: Option<Arc<crate::merchants::Directory>>,
        cpu: CpuInfo,
    ) -> SharedState {
        let engines = Engines { slots: args.engine.engines().into_iter().map(EngineSlot::new).collect() };
        Arc::new(AppState {
            limits: Limits {
                max_upload_bytes: 0,
                body_timeout: Duration::ZERO,
                request_timeout: Duration::from_secs(60),
                max_batch: 0,
                max_batch_bytes: 0,
            },
            about: About { profile: args.engine.profile.name(), model_name: String::new(), cpu },
            access: Arc::new(AccessPolicy::open()),
            routing: Routing::default(),
            cache,
            fields: FieldSettings { by_default: false, directory: merchants },
            jobs: JobsSlot::Opening(OnceLock::new()),
            lifecycle: Lifecycle {
                started: Instant::now(),
                engines: Some(engines),
                shutting_down: AtomicBool::new(false),
            },
        })
    }

    /// The default engine is loaded (the others may still be loading).
    pub fn models_loaded(&self) -> bool {
        self.lifecycle.engines.as_ref().is_none_or(|e| e.default_slot().ready().is_some())
    }

    /// The engine a request asked for (`None`: the default), or the error it gets instead.
    pub fn engine(&self, name: Option<&str>) -> Result<&EngineSlot, ApiError> {
        let engines = self.lifecycle.engines.as_ref().ok_or(ApiError::CapabilityDisabled("OCR"))?;
        match name {
            None => Ok(engines.default_slot()),
            Some(name) => engines.get(name).ok_or_else(|| ApiError::UnknownEngine {
                name: name.chars().take(50).collect(),
                known: engines.names(),
            }),
        }
    }

    /// The engine's workers, or why it cannot run now.
    pub fn loaded<'a>(&self, slot: &'a EngineSlot) -> Result<&'a Loaded, ApiError> {
        let is_default = self.lifecycle.engines.as_ref().is_some_and(|e| std::ptr::eq(e.default_slot(), slot));
        match slot.status() {
            EngineStatus::Ready(loaded) => Ok(loaded),
            // The default engine keeps the codes clients already know.
            EngineStatus::Loading if is_default => Err(ApiError::NotReady),
            EngineStatus::Failed(why) if is_default => Err(ApiError::ModelsUnavailable(why.to_owned())),
            EngineStatus::Loading => Err(ApiError::EngineNotReady { name: slot.name, why: "still loading".into() }),
            EngineStatus::Failed(why) => {
                Err(ApiError::EngineNotReady { name: slot.name, why: format!("failed to load: {why}") })
            }
        }
    }

    /// Worth sending traffic to: loaded and not shutting down.
    pub fn ready(&self) -> bool {
        self.models_loaded() && !self.lifecycle.shutting_down.load(Ordering::Relaxed)
    }
}
