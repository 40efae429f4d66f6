//! The engines' configuration: which engines load, PP-OCR's speed/accuracy
//! profiles, where the models, ONNX Runtime and Tesseract's data are.

use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueEnum};
use hub_engines::{EngineError, PaddleConfig, Settings, TesseractConfig};
use hub_ocr::{
    Alphabet, DecodeLimits, DetOptions, ModelFiles, OcrOptions, Precision, ProbePolicy, RecOptions, RuntimeOptions,
    SessionOptions,
};

use crate::workers::ReadLimits;

/// The ONNX Runtime version `make setup` installs: the repository's
/// `ORT_VERSION` file is its one source (`tests/ort_version.rs` checks the
/// places that cannot read it).
const ORT_VERSION: &str = include_str!("../../../../ORT_VERSION").trim_ascii();

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

/// `--orientation`: which orientation classifiers run before reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Orientation {
    /// None: images are read as uploaded (after their EXIF orientation).
    #[value(alias = "false", alias = "0", alias = "no")]
    Off,
    /// Turn pages photographed or scanned sideways or upside down (90°,
    /// 180°, 270°) upright before detection; boxes stay on the image as
    /// uploaded. `auto` is the same.
    #[value(alias = "auto")]
    Page,
    /// Turn single upside-down lines (the line classifier; formerly `true`).
    #[value(alias = "true", alias = "1", alias = "yes")]
    Lines,
    /// Both.
    All,
}

#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Engines to load, comma-separated; the first is the default, the
    /// others answer requests that name them (`engine=tesseract`).
    #[arg(long, env = "HUB_ENGINES", value_delimiter = ',', default_value = "paddle", value_parser = engine_name)]
    pub engines: Vec<&'static str>,
    /// Folder with Tesseract's `<lang>.traineddata` [default: the system's, e.g.
    /// /usr/share/tesseract-ocr/5/tessdata].
    #[arg(long, env = "HUB_TESSDATA")]
    pub tessdata: Option<PathBuf>,
    /// Tesseract's language(s), e.g. `eng` or `eng+msa` (each needs its data file).
    #[arg(long, env = "HUB_TESSERACT_LANG", default_value = "eng")]
    pub tesseract_lang: String,
    /// Overrides of Tesseract's measured settings, e.g. `psm=3` for full-page
    /// documents (knobs: psm, scale, dpi, thresholding, min_conf,
    /// min_symbol_conf, split_gap, invert, tighten, text_px, scale_min, scale_max).
    #[arg(long, env = "HUB_TESSERACT_TUNING", default_value = "")]
    pub tesseract_tuning: String,
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
    /// Orientation classifiers to run (EXIF orientation is always applied).
    /// `page` costs about 4 ms a receipt and leaves upright ones as they
    /// were (docs/performance.md, "Orientation").
    #[arg(long, env = "HUB_ORIENTATION", value_enum, default_value = "page")]
    pub orientation: Orientation,
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
    /// Most pages in one PDF (each is drawn at 200 DPI within
    /// --max-megapixels and read); more are refused with 413.
    #[arg(long, env = "HUB_MAX_PDF_PAGES", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_pdf_pages: u16,
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
            line_orientation: matches!(self.orientation, Orientation::Lines | Orientation::All),
            page_orientation: matches!(self.orientation, Orientation::Page | Orientation::All),
            alphabet: self.alphabet(),
            min_confidence: self.min_confidence,
            space_boost: self.space_boost,
            ..defaults
        }
    }

    /// `--engines` without repeats, in order.
    pub fn engines(&self) -> Vec<&'static str> {
        let mut engines: Vec<&'static str> = Vec::new();
        for name in &self.engines {
            if !engines.contains(name) {
                engines.push(name);
            }
        }
        if engines.is_empty() { vec!["paddle"] } else { engines }
    }

    /// The default engine: the first of `--engines`.
    pub fn default_engine(&self) -> &'static str {
        self.engines()[0]
    }

    /// What every engine needs to load.
    pub fn settings(&self) -> Settings {
        Settings {
            paddle: PaddleConfig {
                ort_lib: self.ort_lib(),
                model_dir: self.model_dir(),
                precision: self.precision(),
                alphabet: self.alphabet(),
                runtime: self.runtime(),
                options: self.ocr_options(),
                probe: self.int8_probe,
            },
            tesseract: TesseractConfig {
                datapath: self.tessdata.clone(),
                language: self.tesseract_lang.clone(),
                tuning: self.tesseract_tuning.clone(),
            },
        }
    }

    /// Image limits checked before any engine runs.
    pub fn decode_limits(&self) -> DecodeLimits {
        self.ocr_options().decode
    }

    /// What the workers accept: images within the decode limits, PDFs of at
    /// most `--max-pdf-pages` pages.
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits { decode: self.decode_limits(), max_pdf_pages: usize::from(self.max_pdf_pages) }
    }

    /// Loads `instances` instances of engine `name` (one per worker);
    /// PP-OCR's int8 models must first read the start-up probe right on this CPU.
    pub fn load(&self, name: &str, instances: usize) -> Result<hub_engines::Loaded, EngineError> {
        let loaded = hub_engines::load(name, &self.settings(), instances)?;
        match &loaded.info.precision {
            Some(precision) => {
                tracing::info!(engine = name, "CPU: {}; precision: {precision}", hub_ocr::CpuInfo::detect())
            }
            None => tracing::info!(engine = name, "loaded {}", loaded.info.version),
        }
        Ok(loaded)
    }
}

/// `--engines` values: the engines this build has.
pub(super) fn engine_name(name: &str) -> Result<&'static str, String> {
    hub_engines::available()
        .into_iter()
        .find(|n| *n == name)
        .ok_or_else(|| format!("unknown engine `{name}` (this build has {})", hub_engines::available().join(", ")))
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
