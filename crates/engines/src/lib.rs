//! OCR engines behind one seam. An [`Engine`] reads an upright RGB image
//! into [`TextLine`]s (text, confidence 0..1, four-point box, reading
//! order); the service's worker pool, routes and metrics know nothing else.
//!
//! | module      | engine                                                        |
//! |-------------|---------------------------------------------------------------|
//! | `paddle`    | PP-OCR on ONNX Runtime (the `hub-ocr` pipeline)               |
//! | `tesseract` | libtesseract's LSTM recogniser, one instance per worker      |
//!
//! Adding an engine: one module with a `load` function, and a line in
//! [`load`] and [`NAMES`]. No HTTP and no async here.

mod paddle;
#[cfg(feature = "tesseract")]
mod tesseract;

use std::time::Duration;

use hub_ocr::{DecodeLimits, OcrError, PrecisionReport, TextLine, decode_image};
use image::RgbImage;

pub use paddle::PaddleConfig;
pub use tesseract_config::TesseractConfig;

/// Every engine this crate knows, in `--engines` spelling.
pub const NAMES: [&str; 2] = ["paddle", "tesseract"];

/// One instance of an engine, owned by one worker thread.
pub trait Engine: Send {
    /// Reads the text lines of an upright RGB image, in reading order.
    fn read(&mut self, image: &RgbImage) -> Result<Vec<TextLine>, EngineError>;
}

/// What an engine is, for /health, metrics and logs.
#[derive(Debug, Clone)]
pub struct EngineInfo {
    /// `paddle`, `tesseract`: the name requests and KServe routes use.
    pub name: &'static str,
    /// The engine's own version (library and models).
    pub version: String,
    /// Files the engine loaded (model or language data names).
    pub models: Vec<String>,
    /// For int8-capable engines: the precision served and why.
    pub precision: Option<PrecisionReport>,
    /// Everything that decides this engine's answers (version, settings,
    /// model files' SHA-256), hashed: equal identities read any image the
    /// same, so a result cache may key on it.
    pub identity: String,
}

/// Hashes the parts that decide an engine's answers into one identity;
/// `files` are hashed by content, so a replaced model changes it.
pub(crate) fn identity<P: AsRef<std::path::Path>>(parts: &[&str], files: &[P]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    for file in files {
        let file = file.as_ref();
        match std::fs::read(file) {
            Ok(bytes) => hash.update(Sha256::digest(&bytes)),
            Err(_) => hash.update(file.to_string_lossy().as_bytes()),
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A loaded engine: its description and one instance per worker.
pub struct Loaded {
    pub info: EngineInfo,
    pub instances: Vec<Box<dyn Engine>>,
    pub load_time: Duration,
}

/// Everything the engines need to load, one part per engine.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub paddle: PaddleConfig,
    pub tesseract: TesseractConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// From the PP-OCR pipeline: the image, a model or ONNX Runtime.
    #[error(transparent)]
    Ocr(#[from] OcrError),
    /// From libtesseract, or its language data.
    #[error("tesseract: {0}")]
    Tesseract(String),
    /// Not one of [`NAMES`], or not built in.
    #[error("unknown engine `{name}`: this build has {}", available().join(", "))]
    Unknown { name: String },
}

/// The engines this build can load (a build without the `tesseract`
/// feature has PP-OCR only).
pub fn available() -> Vec<&'static str> {
    NAMES.into_iter().filter(|n| *n != "tesseract" || cfg!(feature = "tesseract")).collect()
}

/// Decodes image bytes (JPEG, PNG, WEBP, BMP; EXIF orientation applied)
/// within `limits`, and reads them with `engine`.
pub fn read_bytes(engine: &mut dyn Engine, bytes: &[u8], limits: &DecodeLimits) -> Result<Vec<TextLine>, EngineError> {
    let started = std::time::Instant::now();
    let image = decode_image(bytes, limits)?;
    metrics::histogram!("ocr_inference_stage_seconds", "stage" => "decode").record(started.elapsed().as_secs_f64());
    engine.read(&image)
}

/// Loads engine `name` with `instances` instances (one per worker).
pub fn load(name: &str, settings: &Settings, instances: usize) -> Result<Loaded, EngineError> {
    let started = std::time::Instant::now();
    let instances = instances.max(1);
    let (info, engines) = match name {
        "paddle" => paddle::load(&settings.paddle, instances)?,
        #[cfg(feature = "tesseract")]
        "tesseract" => tesseract::load(&settings.tesseract, instances)?,
        other => return Err(EngineError::Unknown { name: other.to_owned() }),
    };
    Ok(Loaded { info, instances: engines, load_time: started.elapsed() })
}

/// Tesseract's settings exist whether or not the engine is built in, so the
/// command line is the same for every build.
mod tesseract_config {
    use std::path::PathBuf;

    #[derive(Debug, Clone)]
    pub struct TesseractConfig {
        /// Folder holding `<language>.traineddata` [default: the system's].
        pub datapath: Option<PathBuf>,
        /// Tesseract language(s), e.g. `eng` or `eng+msa`.
        pub language: String,
        /// Overrides of the measured defaults, `key=value` separated by
        /// spaces (`psm=6 scale=1.2 ...`, see `tesseract.rs`); empty: none.
        pub tuning: String,
    }

    impl Default for TesseractConfig {
        fn default() -> Self {
            Self { datapath: None, language: "eng".into(), tuning: String::new() }
        }
    }
}
