//! Command line and environment configuration. Every flag has an
//! environment variable, so containers and systemd units configure by env.

mod engine;
mod jobs;

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

pub use engine::{EngineArgs, Profile};
pub use jobs::JobArgs;

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (all-in-one: API and model workers).
    Serve(Box<ServeArgs>),
    /// Take uploads and forward them to a model server (KServe V1 or V2); loads no models.
    Gateway(GatewayArgs),
    /// OCR image files once and print the lines.
    Ocr(OcrArgs),
    /// Check the model files and ONNX Runtime, load them and report.
    Models(EngineArgs),
    /// Time the pipeline on image files: latency, load time, memory.
    Bench(BenchArgs),
    /// Run every engine of --engines over a folder of images: speed, lines,
    /// agreement, and accuracy where `<id>.boxes.txt` ground truth is beside them.
    Compare(CompareArgs),
    /// Run asynchronous jobs from the job store (--jobs-url): models loaded,
    /// HTTP for probes and metrics only. Scales job work apart from the API replicas.
    Worker(Box<WorkerArgs>),
}

impl Command {
    /// The engines this command loads.
    pub fn engines(&self) -> Vec<&'static str> {
        match self {
            Command::Serve(args) if args.enable_ocr => args.engine.engines(),
            Command::Serve(_) | Command::Gateway(_) => Vec::new(),
            Command::Ocr(args) => vec![args.engine.default_engine()],
            Command::Bench(args) => vec![args.engine.default_engine()],
            Command::Models(engine) => engine.engines(),
            Command::Compare(args) => args.engine.engines(),
            Command::Worker(args) => args.engine.engines(),
        }
    }
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Folder of images (JPEG, PNG, WEBP, BMP), with optional SROIE-style `<id>.boxes.txt`.
    pub dir: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
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
    /// Port to listen on.
    #[arg(long, env = "HUB_PORT", default_value_t = 8100)]
    pub port: u16,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Requests that may wait for a worker; more are refused with 429.
    #[arg(long, env = "HUB_QUEUE_SIZE", default_value_t = 32)]
    pub queue_size: usize,
    /// Largest `/v1/ocr/batch` body, in MiB, checked while it streams (413 above).
    #[arg(long, env = "HUB_MAX_BATCH_MB", default_value_t = 64)]
    pub max_batch_mb: usize,
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
    #[command(flatten)]
    pub model_server: ModelServerArgs,
    #[command(flatten)]
    pub access: AccessArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    /// A/B split: `ENGINE=FRACTION` sends that share of the requests that
    /// name no engine to ENGINE (one of `--engines`, not the default).
    #[arg(long, env = "HUB_AB", value_parser = engine_share)]
    pub ab: Option<(&'static str, f64)>,
    /// Shadow engine: a sample of the default engine's requests is also read
    /// by this engine on idle workers, and the two answers compared in the
    /// metrics (`ocr_shadow_*`); clients never wait for it.
    #[arg(long, env = "HUB_SHADOW", value_parser = engine::engine_name)]
    pub shadow: Option<&'static str>,
    /// Share of the default engine's requests the shadow engine also reads (0..1).
    #[arg(long, env = "HUB_SHADOW_RATE", default_value_t = 0.05)]
    pub shadow_rate: f64,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Add the receipt's fields (company, address, date, total, ...) to every
    /// answer unless the request says `fields=false`.
    #[arg(long, env = "HUB_FIELDS", default_value_t = false, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub fields: bool,
    #[command(flatten)]
    pub merchants: WatchedMerchantsArgs,
    /// Accept asynchronous jobs (`/v1/jobs`) and run them on this process's workers.
    #[arg(long, env = "HUB_JOBS", default_value_t = true, action = ArgAction::Set, value_parser = BoolishValueParser::new())]
    pub jobs: bool,
    #[command(flatten)]
    pub job: JobArgs,
}

/// `worker`: the engines, the job store and the result cache; HTTP for
/// its probes and metrics only.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Address of the worker's probes and metrics (`/live`, `/ready`, `/metrics`).
    #[arg(long, env = "HUB_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port of the worker's probes and metrics; it takes no uploads. Its
    /// own variable: `HUB_PORT` (the image sets it) is `serve`'s. 0: any free port.
    #[arg(long, env = "HUB_WORKER_PORT", default_value_t = 8102)]
    pub port: u16,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub job: JobArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    #[command(flatten)]
    pub merchants: WatchedMerchantsArgs,
}

/// Known merchants for the receipt fields (`hub_fields::Merchants`).
#[derive(Debug, Clone, Args)]
pub struct MerchantsArgs {
    /// A merchant directory, JSON Lines of `{"company": ..., "address": ...,
    /// "id": ...}` (an ERP's vendor list): a receipt from one of them gets its
    /// company and address as written there, and `merchant_id`. A bad file
    /// stops the start.
    #[arg(long, env = "HUB_MERCHANTS")]
    pub merchants: Option<PathBuf>,
}

impl MerchantsArgs {
    /// The directory, read now.
    pub fn open(&self) -> anyhow::Result<Option<std::sync::Arc<crate::merchants::Directory>>> {
        let Some(path) = &self.merchants else { return Ok(None) };
        Ok(Some(std::sync::Arc::new(crate::merchants::Directory::open(path)?)))
    }
}

/// The merchant directory of a long-running process (`serve`, `worker`),
/// read again when its file changes.
#[derive(Debug, Clone, Args)]
pub struct WatchedMerchantsArgs {
    #[command(flatten)]
    pub directory: MerchantsArgs,
    /// Look at the merchant directory's file this often and read it again
    /// when it changed (a bad new version is logged and the one in use
    /// kept); 0: read it at start-up only
    #[arg(long, env = "HUB_MERCHANTS_RELOAD_SECS", default_value_t = 30)]
    pub merchants_reload_secs: u64,
}

impl WatchedMerchantsArgs {
    /// The directory, read now and again when its file changes; inside the runtime.
    pub fn open(&self) -> anyhow::Result<Option<std::sync::Arc<crate::merchants::Directory>>> {
        let directory = self.directory.open()?;
        if let Some(directory) = &directory
            && self.merchants_reload_secs > 0
        {
            directory.watch(std::time::Duration::from_secs(self.merchants_reload_secs));
        }
        Ok(directory)
    }
}

/// The result cache: in-process, and optionally shared through Redis.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// In-process cache size in MiB (keys and answers); 0 turns it off.
    #[arg(long, env = "HUB_CACHE_MB", default_value_t = 64)]
    pub cache_mb: u64,
    /// Seconds an answer stays cached, in memory and in Redis.
    #[arg(long, env = "HUB_CACHE_TTL_SECS", default_value_t = 3600)]
    pub cache_ttl_secs: u64,
    /// A Redis every replica shares, e.g. `redis://redis:6379/0`; Redis
    /// down or slow never fails a request, it is served without the cache.
    #[arg(long, env = "HUB_CACHE_URL", hide_env_values = true)]
    pub cache_url: Option<String>,
    /// Milliseconds a Redis call may take before the request goes on without it.
    #[arg(long, env = "HUB_CACHE_TIMEOUT_MS", default_value_t = 50)]
    pub cache_timeout_ms: u64,
}

impl CacheArgs {
    /// The cache, or none when both layers are off. Call within the runtime.
    pub fn cache(&self) -> anyhow::Result<Option<hub_cache::Cache>> {
        if self.cache_mb == 0 && self.cache_url.is_none() {
            return Ok(None);
        }
        let config = hub_cache::CacheConfig {
            memory_bytes: self.cache_mb << 20,
            ttl: Duration::from_secs(self.cache_ttl_secs),
            redis_url: self.cache_url.clone(),
            redis_timeout: Duration::from_millis(self.cache_timeout_ms),
        };
        Ok(Some(hub_cache::Cache::new(config)?))
    }
}

/// How requests are shared between engines (`--ab`, `--shadow`).
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// This share of unnamed requests goes to this engine.
    pub ab: Option<(&'static str, f64)>,
    /// This engine also reads this share of the default engine's requests.
    pub shadow: Option<(&'static str, f64)>,
}

impl ServeArgs {
    /// `--ab` and `--shadow`, checked against `--engines`.
    pub fn routing(&self) -> anyhow::Result<Routing> {
        let engines = self.engine.engines();
        let default = self.engine.default_engine();
        let other = |flag: &str, name: &str| {
            anyhow::ensure!(
                engines.contains(&name),
                "{flag} {name}: add `{name}` to --engines ({})",
                engines.join(",")
            );
            anyhow::ensure!(name != default, "{flag} {name}: `{name}` is the default engine already");
            Ok(())
        };
        if let Some((name, _)) = self.ab {
            other("--ab", name)?;
        }
        if let Some(name) = self.shadow {
            other("--shadow", name)?;
            anyhow::ensure!((0.0..=1.0).contains(&self.shadow_rate), "--shadow-rate must be between 0 and 1");
        }
        Ok(Routing { ab: self.ab, shadow: self.shadow.map(|name| (name, self.shadow_rate)) })
    }
}

/// `--ab ENGINE=FRACTION`.
fn engine_share(text: &str) -> Result<(&'static str, f64), String> {
    let (name, share) = text.split_once('=').ok_or("expected ENGINE=FRACTION, e.g. tesseract=0.1")?;
    let share: f64 = share.trim().parse().map_err(|_| format!("`{share}` is not a number"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("the fraction {share} is not between 0 and 1"));
    }
    Ok((engine::engine_name(name.trim())?, share))
}

/// The KServe V1 and Open Inference Protocol V2 routes (docs/kserve.md).
#[derive(Debug, Clone, Args)]
pub struct ModelServerArgs {
    /// Model name in the /v1/models and /v2/models routes.
    #[arg(long, env = "HUB_MODEL_NAME", default_value = "ocr")]
    pub model_name: String,
    /// Most images in one batch: `/v1/ocr/batch`, a KServe predict or infer
    /// request; each may be --max-upload-mb.
    #[arg(long, env = "HUB_MAX_BATCH", default_value_t = 16)]
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
    /// Port to listen on.
    #[arg(long, env = "HUB_PORT", default_value_t = 8001)]
    pub port: u16,
    #[command(flatten)]
    pub listen: ListenArgs,
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
    /// Most images in one `/v1/ocr/batch` upload (each goes to the model
    /// server as its own request).
    #[arg(long, env = "HUB_MAX_BATCH", default_value_t = 16)]
    pub max_batch: usize,
    /// Largest `/v1/ocr/batch` body, in MiB, checked while it streams (413 above).
    #[arg(long, env = "HUB_MAX_BATCH_MB", default_value_t = 64)]
    pub max_batch_mb: usize,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Where and how an HTTP surface (`serve`, `gateway`) listens and takes
/// uploads; the port is each surface's own (its default differs).
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address to listen on.
    #[arg(long, env = "HUB_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Largest accepted upload, in MiB, checked before anything runs or is forwarded.
    #[arg(long, env = "HUB_MAX_UPLOAD_MB", default_value_t = 10)]
    pub max_upload_mb: usize,
    /// Seconds a client may take to send its upload before a 408.
    #[arg(long, env = "HUB_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
    /// After SIGTERM/SIGINT, seconds to let accepted requests finish before exiting anyway.
    #[arg(long, env = "HUB_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
}

impl ListenArgs {
    pub fn max_upload_bytes(&self) -> usize {
        self.max_upload_mb * 1024 * 1024
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Binds the listening socket on `port`.
    pub async fn bind(&self, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
        bind(&self.host, port).await
    }
}

/// Binds a listening socket and logs the address it got.
pub async fn bind(host: &str, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context;
    let listener =
        tokio::net::TcpListener::bind((host, port)).await.with_context(|| format!("cannot listen on {host}:{port}"))?;
    tracing::info!("listening on {}", listener.local_addr()?);
    Ok(listener)
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
    /// Files read at once, each by its own engine instance (results print
    /// as each file finishes, so their order may differ from the arguments').
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Add the receipt's fields (company, address, date, total, ...) to each answer.
    #[arg(long)]
    pub fields: bool,
    #[command(flatten)]
    pub merchants: MerchantsArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}
