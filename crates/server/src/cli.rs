//! Command line and environment configuration. Every flag has an
//! environment variable, so containers and systemd units configure by env.

use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use hub_ocr::{
    Alphabet, DecodeLimits, DetOptions, ModelFiles, OcrEngine, OcrError, OcrOptions, Precision, PrecisionReport,
    ProbePolicy, RecOptions, RuntimeOptions, SessionOptions, init_runtime, load_checked,
};

/// The ONNX Runtime version `make setup` installs: the repository's
/// `ORT_VERSION` file is its one source (`tests/ort_version.rs` checks the
/// places that cannot read it).
const ORT_VERSION: &str = include_str!("../../../ORT_VERSION").trim_ascii();

#[derive(Debug, Parser)]
#[command(name = "inference-hub", version, about = "Receipt and document OCR service (PP-OCR on ONNX Runtime)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, env = "HUB_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Speed/accuracy presets; `--precision`, `--alphabet` and `--det-max-side` override their parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// Float models, detector input up to 1280 px: the best accuracy.
    Accurate,
    /// Int8 models, detector input up to 960 px: about twice as fast, 0.01 word F1 less.
    Balanced,
    /// Int8 models, detector input up to 736 px, Latin script only: the lowest latency.
    Fast,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Accurate => "accurate",
            Profile::Balanced => "balanced",
            Profile::Fast => "fast",
        }
    }

    fn precision(self) -> Precision {
        match self {
            Profile::Accurate => Precision::Fp32,
            Profile::Balanced | Profile::Fast => Precision::Int8,
        }
    }

    fn alphabet(self) -> Alphabet {
        match self {
            Profile::Accurate | Profile::Balanced => Alphabet::Full,
            Profile::Fast => Alphabet::Latin,
        }
    }

    fn det_max_side(self) -> u32 {
        match self {
            Profile::Accurate => DetOptions::default().max_side,
            Profile::Balanced => 960,
            Profile::Fast => 736,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (all-in-one: API and model workers).
    Serve(ServeArgs),
    /// Take uploads and forward them to a model server (KServe V1 or V2); loads no models.
    Gateway(GatewayArgs),
    /// OCR image files once and print the lines.
    Ocr(OcrArgs),
    /// Check the model files and ONNX Runtime, load them and report.
    Models(EngineArgs),
    /// Time the pipeline on image files: latency, load time, memory.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Image files to run, in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Passes over all files.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Untimed images first (allocators and caches warm up).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HUB_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "HUB_PORT", default_value_t = 8100)]
    pub port: u16,
    /// Largest accepted upload, in MiB.
    #[arg(long, env = "HUB_MAX_UPLOAD_MB", default_value_t = 10)]
    pub max_upload_mb: usize,
    /// Requests that may wait for a worker; more are refused with 429.
    #[arg(long, env = "HUB_QUEUE_SIZE", default_value_t = 32)]
    pub queue_size: usize,
    /// After SIGTERM/SIGINT, seconds to let accepted requests finish before exiting anyway.
    #[arg(long, env = "HUB_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Seconds between "Memory usage" log lines (0: never).
    #[arg(long, env = "HUB_MEMORY_LOG_SECS", default_value_t = 60)]
    pub memory_log_secs: u64,
    /// Serve OCR (the hub's deployment flag).
    #[arg(long, env = "AI_ENABLE_OCR", default_value_t = true, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub enable_ocr: bool,
    /// Speech-to-text; not part of this build, accepted for compatibility.
    #[arg(long, env = "AI_ENABLE_STT", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub enable_stt: bool,
    /// Text-to-speech; not part of this build, accepted for compatibility.
    #[arg(long, env = "AI_ENABLE_TTS", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub enable_tts: bool,
    /// Seconds a request may wait for and run inference once uploaded; past
    /// it the client gets 504 and its queued work is dropped.
    #[arg(long, env = "HUB_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Seconds a client may take to send its upload before a 408.
    #[arg(long, env = "HUB_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    #[command(flatten)]
    pub model_server: ModelServerArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The KServe V1 and Open Inference Protocol V2 routes (docs/kserve.md).
#[derive(Debug, Clone, Args)]
pub struct ModelServerArgs {
    /// Model name in the /v1/models and /v2/models routes.
    #[arg(long, env = "HUB_MODEL_NAME", default_value = "ocr")]
    pub model_name: String,
    /// Most images in one predict/infer request; each may be --max-upload-mb.
    #[arg(long, env = "HUB_MAX_BATCH", default_value_t = 8)]
    pub max_batch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// KServe V1: `POST /v1/models/NAME:predict`.
    V1,
    /// Open Inference Protocol (KServe V2): `POST /v2/models/NAME/infer`.
    V2,
}

#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, env = "HUB_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "HUB_PORT", default_value_t = 8001)]
    pub port: u16,
    /// Model server base URL, e.g. `http://ocr-predictor.ns.svc.cluster.local`.
    #[arg(long, env = "HUB_UPSTREAM")]
    pub upstream: String,
    /// Protocol spoken to the model server.
    #[arg(long, env = "HUB_UPSTREAM_PROTOCOL", value_enum, default_value = "v2")]
    pub protocol: Protocol,
    /// Model name on the model server.
    #[arg(long, env = "HUB_MODEL_NAME", default_value = "ocr")]
    pub model_name: String,
    /// API key sent to the model server as `X-API-Key`, if it wants one.
    #[arg(long, env = "HUB_UPSTREAM_API_KEY", hide_env_values = true)]
    pub upstream_api_key: Option<String>,
    /// Seconds the model server may take to answer one request (504 past it).
    #[arg(long, env = "HUB_UPSTREAM_TIMEOUT_SECS", default_value_t = 75)]
    pub upstream_timeout_secs: u64,
    /// Extra attempts when the model server cannot be connected to (never
    /// after a request reached it), with doubling back-off from 100 ms.
    #[arg(long, env = "HUB_UPSTREAM_RETRIES", default_value_t = 2)]
    pub upstream_retries: u32,
    /// Largest accepted upload, in MiB, checked before anything is forwarded.
    #[arg(long, env = "HUB_MAX_UPLOAD_MB", default_value_t = 10)]
    pub max_upload_mb: usize,
    /// Seconds a client may take to send its upload before a 408.
    #[arg(long, env = "HUB_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// After SIGTERM/SIGINT, seconds to let accepted requests finish.
    #[arg(long, env = "HUB_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Access control for the inference routes; all off by default.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// API keys, comma-separated; callers send `Authorization: Bearer KEY` or
    /// `X-API-Key: KEY`. Prefer the environment or a file: flags show in `ps`.
    #[arg(long, env = "HUB_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub api_keys: Vec<String>,
    /// File with one API key per line (`#` comments), e.g. a mounted secret.
    #[arg(long, env = "HUB_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Client addresses allowed to call, comma-separated IPs or CIDR blocks
    /// (e.g. `10.0.4.17,192.168.0.0/24`); others get 403.
    #[arg(long, env = "HUB_ALLOW_IPS", value_delimiter = ',')]
    pub allow_ips: Vec<String>,
    /// Requests a minute per client (API key, or IP without keys); 0: no limit.
    #[arg(long, env = "HUB_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Requests a client may send at once before the rate applies [default: the rate].
    #[arg(long, env = "HUB_RATE_BURST", default_value_t = 0)]
    pub rate_burst: u32,
    /// Put `/metrics` behind this access policy too; by default it is open,
    /// like the probes, for the Prometheus scraper.
    #[arg(long, env = "HUB_PROTECT_METRICS", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub protect_metrics: bool,
}

#[derive(Debug, Args)]
pub struct OcrArgs {
    /// Image files (JPEG, PNG, WEBP, BMP).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the service's JSON response per file, one per line.
    #[arg(long)]
    pub json: bool,
    /// Also write `<name>.json` per image into this folder.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// ONNX Runtime shared library [default: vendor/onnxruntime/... from `make setup`].
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Folder with the PP-OCR models [default: vendor/models from `make setup`].
    #[arg(long, env = "HUB_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Speed/accuracy preset.
    #[arg(long, env = "HUB_PROFILE", value_enum, default_value = "balanced")]
    pub profile: Profile,
    /// Detector and recogniser weights, `fp32` or `int8` [default: from --profile].
    #[arg(long, env = "HUB_PRECISION")]
    pub precision: Option<Precision>,
    /// Images in flight at once (one may detect while another recognises) [default: one per core].
    #[arg(long, env = "HUB_WORKERS")]
    pub workers: Option<usize>,
    /// Detector sessions, shared by the workers; each holds the working memory
    /// of the largest image it has seen [default: one per two cores].
    #[arg(long, env = "HUB_DET_SESSIONS")]
    pub det_sessions: Option<usize>,
    /// ONNX Runtime threads per detector session [default: cores / detector sessions].
    #[arg(long, env = "HUB_THREADS")]
    pub threads: Option<usize>,
    /// Recogniser sessions (one thread each), shared by all images [default: one per core].
    #[arg(long, env = "HUB_REC_SESSIONS")]
    pub rec_sessions: Option<usize>,
    /// Let idle ONNX Runtime threads spin (lower latency, busier CPU).
    #[arg(long, env = "HUB_SPINNING", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub spinning: bool,
    /// Turn upside-down text lines with the orientation classifier.
    #[arg(long, env = "HUB_ORIENTATION", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub orientation: bool,
    /// Characters the recogniser may output: `full` (multilingual) or `latin`
    /// (Western receipts; a smaller, faster recogniser) [default: from --profile].
    #[arg(long, env = "HUB_ALPHABET")]
    pub alphabet: Option<Alphabet>,
    /// Longest detector input side, in pixels [default: from --profile].
    #[arg(long, env = "HUB_DET_MAX_SIDE")]
    pub det_max_side: Option<u32>,
    /// Shortest detector input side, in pixels (small images are enlarged).
    #[arg(long, env = "HUB_DET_MIN_SIDE", default_value_t = DetOptions::default().min_side)]
    pub det_min_side: u32,
    /// Detector box growth factor (DB unclip ratio).
    #[arg(long, env = "HUB_UNCLIP_RATIO", default_value_t = DetOptions::default().unclip_ratio)]
    pub unclip_ratio: f32,
    /// Line crops per recogniser run.
    #[arg(long, env = "HUB_REC_BATCH", default_value_t = RecOptions::default().batch_size)]
    pub rec_batch: usize,
    /// Recogniser batches narrower than this are padded to it, in pixels.
    #[arg(long, env = "HUB_REC_MIN_WIDTH", default_value_t = RecOptions::default().min_width)]
    pub rec_min_width: u32,
    /// Background added around each line before recognition (fraction of its height).
    #[arg(long, env = "HUB_CROP_MARGIN", default_value_t = RecOptions::default().crop_margin)]
    pub crop_margin: f32,
    /// Weight of the space class in CTC decoding; above 1 keeps narrow word gaps.
    #[arg(long, env = "HUB_SPACE_BOOST", default_value_t = OcrOptions::default().space_boost)]
    pub space_boost: f32,
    /// Lines read with lower mean confidence are dropped (0..1).
    #[arg(long, env = "HUB_MIN_CONFIDENCE", default_value_t = OcrOptions::default().min_confidence)]
    pub min_confidence: f32,
    /// Largest image accepted, in megapixels (checked before decoding).
    #[arg(long, env = "HUB_MAX_MEGAPIXELS", default_value_t = 50)]
    pub max_megapixels: u64,
    /// When the int8 models misread the built-in probe receipt on this CPU:
    /// `fallback` serves the fp32 models instead, `fail` refuses to load,
    /// `off` skips the probe.
    #[arg(long, env = "HUB_INT8_PROBE", default_value = "fallback")]
    pub int8_probe: ProbePolicy,
}

impl EngineArgs {
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    pub fn worker_count(&self) -> usize {
        self.workers.unwrap_or_else(Self::cores).max(1)
    }

    pub fn runtime(&self) -> RuntimeOptions {
        let session = |threads| SessionOptions { threads, spinning: self.spinning };
        let detectors = self.det_sessions.unwrap_or(Self::cores() / 2).max(1);
        RuntimeOptions {
            detectors,
            recognizers: self.rec_sessions.unwrap_or_else(Self::cores).max(1),
            detector_session: session(self.threads.unwrap_or(Self::cores() / detectors).max(1)),
            recognizer_session: session(1),
        }
    }

    pub fn ort_lib(&self) -> PathBuf {
        self.ort_lib
            .clone()
            .unwrap_or_else(|| vendor_dir().join(format!("onnxruntime/libonnxruntime.so.{ORT_VERSION}")))
    }

    pub fn model_dir(&self) -> PathBuf {
        self.model_dir.clone().unwrap_or_else(|| vendor_dir().join("models"))
    }

    pub fn precision(&self) -> Precision {
        self.precision.unwrap_or(self.profile.precision())
    }

    pub fn alphabet(&self) -> Alphabet {
        self.alphabet.unwrap_or(self.profile.alphabet())
    }

    pub fn model_files(&self, precision: Precision) -> ModelFiles {
        ModelFiles::in_dir(&self.model_dir(), precision, self.alphabet())
    }

    pub fn ocr_options(&self) -> OcrOptions {
        let defaults = OcrOptions::default();
        OcrOptions {
            decode: DecodeLimits { max_pixels: self.max_megapixels * 1_000_000, ..defaults.decode },
            detection: DetOptions {
                max_side: self.det_max_side.unwrap_or(self.profile.det_max_side()),
                min_side: self.det_min_side,
                unclip_ratio: self.unclip_ratio,
                ..defaults.detection
            },
            recognition: RecOptions {
                min_width: self.rec_min_width,
                batch_size: self.rec_batch.max(1),
                crop_margin: self.crop_margin,
                ..defaults.recognition
            },
            orientation: self.orientation,
            alphabet: self.alphabet(),
            min_confidence: self.min_confidence,
            space_boost: self.space_boost,
            ..defaults
        }
    }

    /// Loads ONNX Runtime and the engine all workers share; int8 models
    /// must first read the start-up probe right on this CPU (`--int8-probe`).
    pub fn load_engine(&self) -> Result<(OcrEngine, PrecisionReport), OcrError> {
        init_runtime(&self.ort_lib())?;
        let (dir, precision, alphabet) = (self.model_dir(), self.precision(), self.alphabet());
        let loaded = load_checked(&dir, precision, alphabet, &self.runtime(), self.ocr_options(), self.int8_probe)?;
        if let Some(why) = &loaded.1.fallback_reason {
            tracing::warn!("serving the fp32 models: {why}");
        }
        tracing::info!("CPU: {}; precision: {}", hub_ocr::CpuInfo::detect(), loaded.1);
        Ok(loaded)
    }
}

/// Where `make setup` put its files: `./vendor` when run from the checkout,
/// else next to the binary's checkout (`target/<profile>/../../vendor`),
/// else `/opt/inference-hub/vendor` (the container layout).
fn vendor_dir() -> PathBuf {
    let from_exe =
        std::env::current_exe().ok().and_then(|exe| exe.parent()?.parent()?.parent().map(|p| p.join("vendor")));
    let candidates = [Some(PathBuf::from("vendor")), from_exe, Some(PathBuf::from("/opt/inference-hub/vendor"))];
    candidates.into_iter().flatten().find(|p| p.is_dir()).unwrap_or_else(|| Path::new("vendor").to_path_buf())
}
